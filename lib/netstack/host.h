// What the network stack needs from the process it runs in: the time, a
// log, randomness, and a way to end when lwIP's own checks fail. The
// netstack program gives the user runtime's (rt::clock_ns, rt::log, ...);
// unit tests and the fuzzer give a fake clock they advance themselves.
//
// lwIP keeps its state in globals (NO_SYS: one stack per process), so there
// is one Host per process too: set_host() before anything else of
// lib/netstack, and it must outlive every use of the stack.
#pragma once

#include "util/types.h"

namespace netstack {

class Host {
public:
    virtual u64 now_ns() = 0;
    // One line, no trailing newline.
    virtual void log(const char* line) = 0;
    virtual u32 random() = 0;
    // lwIP's assertion failed: its state can no longer be trusted.
    [[noreturn]] virtual void fatal(const char* why) = 0;

protected:
    ~Host() = default;
};

void set_host(Host& host);
Host& host();

}  // namespace netstack
