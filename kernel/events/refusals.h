// One path for every refusal (DESIGN §5): a refused system call, broker
// submission, filtered register access, denied device class or exhausted
// quota is attributed to the process that caused it (and to the PCI
// function concerned, if any), counted, logged at a rate it cannot raise,
// and delivered as an event to the holder of the device root (devmgr;
// lib/abi/events.h).
//
// Why one path: the kernel is not preemptible and writes its log to a
// polled serial port, so every unthrottled log line is CPU time a hostile
// process takes from everyone (issue 11, finding 5). Log lines are limited
// per process (a burst, then a few a second) and system-wide; what is not
// logged is still counted and still becomes an event. Events for the same
// (process, kind, function, status, detail) in a row merge into one with a
// count, and the kernel keeps a fixed number of them (the oldest go first,
// counted as dropped): nothing here allocates.
#pragma once

#include "abi/events.h"
#include "console/log.h"
#include "util/status.h"
#include "util/token_bucket.h"

namespace object {
class DeviceRoot;
class Process;
}  // namespace object

namespace refusals {

// "No PCI function" for record()'s function argument (a pci_enum index).
constexpr u32 kNoFunction = ~0u;

// Log budget of one process: a burst of kBurst lines, then kPerSecond.
constexpr u32 kBurst = 12;
constexpr u32 kPerSecond = 5;

// Per-process bookkeeping (lives in object::Process).
struct ProcessState {
    util::TokenBucket log_budget{kBurst, kPerSecond};
    util::TokenBucket note_budget{kBurst, kPerSecond};  // note(): its own, so chatter never hides a refusal
    u64 total = 0;                                      // refusals attributed to the process
    u64 suppressed = 0;                                 // of them, not logged since the last line that was
    bool told_limited = false;
};

// Records one refusal. `who` may be null (nothing to attribute to);
// `function` is a pci_enum index or kNoFunction. The log line is `fmt`
// (no trailing newline), at `level`, when the budgets allow it.
__attribute__((format(printf, 7, 8))) void record(object::Process* who, abi::RefusalKind kind, u32 function,
                                                  Status status, u64 detail, log::Level level, const char* fmt, ...);

// A line the kernel logs because of what a process did that is not a
// refusal (a controller reset it asked for, a queue it enabled): under a
// per-process budget like the refusal lines' (but its own: chatter never
// uses up a refusal's line) and the same system-wide one, so repeating a
// legitimate operation cannot flood the log either. `who` null: the
// system-wide budget only.
__attribute__((format(printf, 3, 4))) void note(object::Process* who, log::Level level, const char* fmt, ...);

// The process whose thread runs now (the caller, in a system call), or
// null (the idle thread, boot).
object::Process* current_process();

// System call dispatch: a call's generic refusal is recorded only when
// the call did not record a more specific one itself.
void begin_syscall();
bool recorded_in_syscall();

// The object whose kSignalReady says "events pending" (the device root).
void set_listener(object::DeviceRoot* listener);
bool pending();
// Oldest first; each returned event is removed.
u32 drain(abi::RefusalEvent* out, u32 max);

// Totals since boot, for diagnostics and tests.
u64 total();
u64 suppressed_lines();
u64 dropped_events();

}  // namespace refusals
