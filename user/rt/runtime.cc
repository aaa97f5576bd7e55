// C++ runtime pieces for user programs (memory primitives: lib/util/
// mem_freestanding.cc).
#include "util/types.h"

extern "C" {

// Static destructors never run: a process ends with exit(), and the kernel
// releases everything it held. Registering one is accepted and ignored.
int atexit(void (*)()) { return 0; }

void __cxa_pure_virtual() {
    for (;;) {
    }
}

}  // extern "C"
