#include "mm/heap.h"

#include "debug/panic.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"

namespace heap {
namespace {

// Every block starts with this header, so free() needs no size argument.
struct Header {
    u32 magic;
    u32 size_class;  // index into kClasses, or kLarge
    u64 frames;      // for large blocks
};
static_assert(sizeof(Header) == 16);

constexpr u32 kMagic = 0x48454150;  // "HEAP"
constexpr u32 kLarge = 0xffffffff;
constexpr usize kClasses[] = {32, 64, 128, 256, 512, 1024, 2048};
constexpr usize kClassCount = sizeof kClasses / sizeof kClasses[0];

struct FreeBlock {
    FreeBlock* next;
};
FreeBlock* g_free_lists[kClassCount];
u64 g_in_use;

bool refill(usize cls) {
    auto frame = frames::alloc();
    if (!frame.ok()) return false;
    u8* page = direct_map::to_virt<u8>(frame.value());
    for (usize off = 0; off + kClasses[cls] <= frames::kFrameSize; off += kClasses[cls]) {
        auto* b = reinterpret_cast<FreeBlock*>(page + off);
        b->next = g_free_lists[cls];
        g_free_lists[cls] = b;
    }
    return true;
}

}  // namespace

u64 block_bytes(usize size) {
    usize need = size + sizeof(Header);
    for (usize cls = 0; cls < kClassCount; cls++)
        if (need <= kClasses[cls]) return kClasses[cls];
    return (need + frames::kFrameSize - 1) / frames::kFrameSize * frames::kFrameSize;
}

void* alloc(usize size) {
    if (size > (1ull << 40)) return nullptr;
    usize need = size + sizeof(Header);
    for (usize cls = 0; cls < kClassCount; cls++) {
        if (need > kClasses[cls]) continue;
        if (!g_free_lists[cls] && !refill(cls)) return nullptr;
        FreeBlock* b = g_free_lists[cls];
        g_free_lists[cls] = b->next;
        auto* h = reinterpret_cast<Header*>(b);
        *h = Header{kMagic, static_cast<u32>(cls), 0};
        g_in_use += kClasses[cls];
        return h + 1;
    }
    u64 n = (need + frames::kFrameSize - 1) / frames::kFrameSize;
    auto run = frames::alloc_contiguous(n);
    if (!run.ok()) return nullptr;
    auto* h = direct_map::to_virt<Header>(run.value());
    *h = Header{kMagic, kLarge, n};
    g_in_use += n * frames::kFrameSize;
    return h + 1;
}

void free(void* p) {
    if (!p) return;
    auto* h = static_cast<Header*>(p) - 1;
    if (h->magic != kMagic) panic("heap: free of a bad pointer %p", p);
    h->magic = 0;
    if (h->size_class == kLarge) {
        g_in_use -= h->frames * frames::kFrameSize;
        frames::free_contiguous(direct_map::to_phys(h), h->frames);
        return;
    }
    u32 cls = h->size_class;  // read before the free-list link overwrites the header
    if (cls >= kClassCount) panic("heap: corrupt header at %p", p);
    g_in_use -= kClasses[cls];
    auto* b = reinterpret_cast<FreeBlock*>(h);
    b->next = g_free_lists[cls];
    g_free_lists[cls] = b;
}

u64 bytes_in_use() { return g_in_use; }

}  // namespace heap
