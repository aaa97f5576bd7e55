// The C++ runtime pieces a freestanding kernel needs: operator new/delete
// on the heap and the pure-virtual trap (memory primitives: lib/util/
// mem_freestanding.cc).
#include <new>

#include "debug/panic.h"
#include "mm/heap.h"
#include "util/types.h"

extern "C" {

void __cxa_pure_virtual() { panic("pure virtual call"); }

}  // extern "C"

// Kernel code allocates through heap:: and handles failure explicitly;
// operator new exists for the rare fixed boot-time object and treats
// exhaustion as fatal, since it cannot report it.
// Allocation a user can drive (object creation in system calls) uses
// `new (std::nothrow)` and turns nullptr into Status::NoMemory.
namespace std {
const nothrow_t nothrow{};
}
void* operator new(usize size, const std::nothrow_t&) noexcept { return heap::alloc(size); }
void* operator new[](usize size, const std::nothrow_t&) noexcept { return heap::alloc(size); }

void* operator new(usize size) {
    void* p = heap::alloc(size);
    if (!p) panic("operator new: out of memory (%zu bytes)", size);
    return p;
}
void* operator new[](usize size) { return operator new(size); }
void operator delete(void* p) noexcept { heap::free(p); }
void operator delete[](void* p) noexcept { heap::free(p); }
void operator delete(void* p, usize) noexcept { heap::free(p); }
void operator delete[](void* p, usize) noexcept { heap::free(p); }
