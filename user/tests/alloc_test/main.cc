// alloc_test: the user allocator under churn — many sizes, interleaved
// frees, every block filled and checked, large blocks on their own
// MemoryObjects — then everything freed back to zero bytes in use.
#include "rt/alloc.h"
#include "rt/log.h"
#include "rt/sys.h"
#include "util/xorshift.h"

namespace {

struct Node {
    u64 value;
    Node* next;
};

util::XorShift64 g_rng(0x9e3779b97f4a7c15ull);
u64 next_random() { return g_rng.next(); }

}  // namespace

int main(u64) {
    constexpr u32 kBlocks = 2000;
    static u8* blocks[kBlocks];
    static usize sizes[kBlocks];
    u32 corrupt = 0;
    for (u32 round = 0; round < 4; round++) {
        for (u32 i = 0; i < kBlocks; i++) {
            if (blocks[i] && (next_random() & 1)) {
                for (usize k = 0; k < sizes[i]; k++)
                    if (blocks[i][k] != static_cast<u8>(i + k)) corrupt++;
                rt::free(blocks[i]);
                blocks[i] = nullptr;
            }
            if (!blocks[i]) {
                sizes[i] = (next_random() % 16 == 0) ? 4096 + next_random() % 20000 : 1 + next_random() % 2000;
                blocks[i] = static_cast<u8*>(rt::alloc(sizes[i]));
                if (!blocks[i]) {
                    rt::log("alloc: FAILED to allocate %zu bytes", sizes[i]);
                    return 1;
                }
                for (usize k = 0; k < sizes[i]; k++) blocks[i][k] = static_cast<u8>(i + k);
            }
        }
    }
    u64 peak = rt::bytes_in_use();
    for (u32 i = 0; i < kBlocks; i++) {
        for (usize k = 0; blocks[i] && k < sizes[i]; k++)
            if (blocks[i][k] != static_cast<u8>(i + k)) corrupt++;
        rt::free(blocks[i]);
    }
    Node* list = nullptr;
    for (u64 i = 0; i < 1000; i++) list = new Node{i, list};
    u64 sum = 0;
    while (list) {
        Node* n = list->next;
        sum += list->value;
        delete list;
        list = n;
    }
    rt::log("alloc: %u blocks churned, peak %llu bytes, %u corrupt bytes, list sum %llu, %llu bytes in use after",
            kBlocks, static_cast<unsigned long long>(peak), corrupt, static_cast<unsigned long long>(sum),
            static_cast<unsigned long long>(rt::bytes_in_use()));
    return corrupt == 0 && rt::bytes_in_use() == 0 && sum == 499500 ? 0 : 1;
}
