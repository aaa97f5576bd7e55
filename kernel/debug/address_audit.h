// The "no address reaches user space" property (DESIGN §4, brokered lane),
// checked rather than promised. With `test.addr_audit` on the kernel
// command line, every system call result and every kernel-produced
// structure copied out to user space is compared against every address a
// device could be told about or that names device memory:
//   - every range in every DMA ledger (buffers, broker queues);
//   - every memory BAR of every PCI function;
//   - the MSI address window (0xFEE00000, what MSI-X tables hold).
// A hit panics with the call and the value, so a scenario fails loudly.
// Reads through device mappings are checked when a test hands the words it
// read to the kernel (SystemInfo AuditWords); MmioRead values are copy-outs.
// Not audited, because they are not the kernel's to leak: data relayed
// between processes (IPC messages, console input), text (the log), user
// addresses echoed back (a fault's address, a map call's virtual address),
// time (ClockGet), counters (SystemInfo), and results that are live
// handles of the caller.
//
// `test.addr_audit=selftest` proves the audit can fail: the first
// DmaBufferCreate returns the buffer's physical address instead of its
// handle, which the audit must catch.
#pragma once

#include "util/types.h"

namespace object {
class Process;
}

namespace audit {

void init();
bool enabled();
bool selftest();

// A system call's result, about to be returned to `caller`.
void check_result(u64 syscall, i64 result, object::Process* caller);
// Kernel-produced bytes about to be copied to user space (8-byte words).
void check_copy(const void* data, usize len, const char* what);
// Words `reader` read through a device mapping and handed to the kernel to
// check (SystemInfo AuditWords): what a mapping lets a process read never
// passes through a system call, so a test asks for it.
void check_read_words(const u64* words, usize count, object::Process* reader);
// "address audit: N results and M words checked, no device address seen"
void log_summary(const char* when);

}  // namespace audit
