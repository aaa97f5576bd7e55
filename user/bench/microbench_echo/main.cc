// microbench_echo: the other side of microbench's two-process benchmarks.
//
// Default: the call/reply server. Receives on the endpoint it was given as
// "ep" and answers an 8-byte n with n+1, reusing one Message so the loop
// does nothing but the two system calls and the increment. A message of
// length 0 means "stop": it replies (so the caller is not left blocked)
// and exits with 0.
//
// With the argument "yield": yields in a loop forever (microbench's
// yield_switch partner; microbench kills it when done).
#include "rt/log.h"
#include "rt/sys.h"

namespace {

bool args_are(const char* want) {
    const char* a = rt::startup().args;
    u32 i = 0;
    while (i < abi::kArgsBytes && a[i] && a[i] == want[i]) i++;
    return i < abi::kArgsBytes && a[i] == '\0' && want[i] == '\0';
}

}  // namespace

int main(u64) {
    if (args_are("yield")) {
        for (;;) rt::raw_syscall(abi::Syscall::Yield);
    }
    u32 ep = rt::startup_handle("ep");
    abi::Message m{};
    for (;;) {
        if (auto r = rt::endpoint_receive(ep, m, abi::kForever); !r.ok()) {
            rt::log("echo: FAILED receive: %s", status_name(r.status()));
            return 1;
        }
        if (m.length == 0) {
            abi::Message done{};
            (void)rt::endpoint_reply(done);
            return 0;
        }
        if (m.length != 8 || m.handle_count != 0) {
            rt::log("echo: FAILED unexpected message: length %u handles %u", m.length, m.handle_count);
            return 1;
        }
        u64 n;
        __builtin_memcpy(&n, m.data, 8);
        n++;
        __builtin_memcpy(m.data, &n, 8);
        if (auto r = rt::endpoint_reply(m); !r.ok()) {
            rt::log("echo: FAILED reply: %s", status_name(r.status()));
            return 1;
        }
    }
}
