#include "boot/modules.h"

#include "mm/direct_map.h"

namespace modules {
namespace {
const boot::BootInfo* g_info;
}

void init(const boot::BootInfo& info) { g_info = &info; }
u32 count() { return g_info ? g_info->module_count : 0; }
ByteView name(u32 i) { return g_info->modules[i].name; }

ByteView bytes(u32 i) {
    const auto& m = g_info->modules[i];
    return ByteView(direct_map::to_virt<const u8>(m.start), m.end - m.start);
}

Result<ByteView> find(const char* wanted, usize len) {
    for (u32 i = 0; i < count(); i++) {
        ByteView n = name(i);
        if (n.size() != len) continue;
        bool same = true;
        for (usize k = 0; k < len && same; k++) same = n.data()[k] == static_cast<u8>(wanted[k]);
        if (same) return bytes(i);
    }
    return Status::NotFound;
}

}  // namespace modules
