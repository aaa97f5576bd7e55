#include "rt/alloc.h"

#include "rt/sys.h"

namespace rt {
namespace {

// Every block starts with this header so free() needs no size.
struct Header {
    u32 magic;
    u32 size_class;   // index into kClasses, or kLarge
    u32 handle;       // large blocks: the MemoryObject to close on free
    u32 large_bytes;  // large blocks: bytes accounted
};
static_assert(sizeof(Header) == 16);

constexpr u32 kMagic = 0x414c4f43;  // "ALOC"
constexpr u32 kLarge = 0xffffffff;
constexpr usize kClasses[] = {32, 64, 128, 256, 512, 1024, 2048};
constexpr usize kClassCount = sizeof kClasses / sizeof kClasses[0];
constexpr u64 kArenaBytes = 64 * 1024;

struct FreeBlock {
    FreeBlock* next;
};
FreeBlock* g_free[kClassCount];
u8* g_arena;
u64 g_arena_left;
u64 g_in_use;

// Maps a new MemoryObject of `bytes`; the handle stays open for the
// mapping's lifetime (a mapping lives no longer than its handle).
u8* map_new(u64 bytes, u32* handle) {
    auto mem = memory_create(bytes);
    if (!mem.ok()) return nullptr;
    auto at = memory_map(mem.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return nullptr;
    *handle = mem.value().release();
    return reinterpret_cast<u8*>(at.value());
}

void* carve(usize cls) {
    usize size = kClasses[cls];
    if (g_arena_left < size) {
        u32 handle;
        g_arena = map_new(kArenaBytes, &handle);
        if (!g_arena) return nullptr;
        g_arena_left = kArenaBytes;
    }
    void* p = g_arena;
    g_arena += size;
    g_arena_left -= size;
    return p;
}

}  // namespace

void* alloc(usize size) {
    if (size > (u64{1} << 30)) return nullptr;
    usize need = size + sizeof(Header);
    for (usize cls = 0; cls < kClassCount; cls++) {
        if (need > kClasses[cls]) continue;
        void* block = g_free[cls];
        if (block)
            g_free[cls] = g_free[cls]->next;
        else
            block = carve(cls);
        if (!block) return nullptr;
        auto* h = static_cast<Header*>(block);
        *h = Header{kMagic, static_cast<u32>(cls), 0, 0};
        g_in_use += kClasses[cls];
        return h + 1;
    }
    u32 handle;
    auto* h = reinterpret_cast<Header*>(map_new(need, &handle));
    if (!h) return nullptr;
    *h = Header{kMagic, kLarge, handle, static_cast<u32>(need)};
    g_in_use += need;
    return h + 1;
}

void free(void* p) {
    if (!p) return;
    auto* h = static_cast<Header*>(p) - 1;
    if (h->magic != kMagic) exit(-static_cast<i64>(Status::Malformed));  // heap corruption: stop now
    h->magic = 0;
    if (h->size_class == kLarge) {
        g_in_use -= h->large_bytes;
        // Closing the handle removes the mapping and frees the memory.
        (void)close(h->handle);
        return;
    }
    u32 cls = h->size_class;
    g_in_use -= kClasses[cls];
    auto* b = reinterpret_cast<FreeBlock*>(h);
    b->next = g_free[cls];
    g_free[cls] = b;
}

u64 bytes_in_use() { return g_in_use; }

}  // namespace rt

void* operator new(usize size) {
    void* p = rt::alloc(size);
    if (!p) rt::exit(-static_cast<i64>(Status::NoMemory));
    return p;
}
void* operator new[](usize size) { return operator new(size); }
void operator delete(void* p) noexcept { rt::free(p); }
void operator delete[](void* p) noexcept { rt::free(p); }
void operator delete(void* p, usize) noexcept { rt::free(p); }
void operator delete[](void* p, usize) noexcept { rt::free(p); }
