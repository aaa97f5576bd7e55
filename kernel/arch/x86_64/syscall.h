// Enables syscall/sysret (EFER.SCE) and points LSTAR at syscall_entry.
#pragma once

namespace syscall_msr {
void init();
}
