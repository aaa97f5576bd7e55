# Sluice kernel debugging.
#   terminal 1:  make debug          (QEMU paused, gdb stub on localhost:1234)
#   terminal 2:  gdb -x .gdbinit     (from the repo root)
# then e.g.  hbreak kernel_main  /  continue  /  bt
#
# Notes:
# - gdb refuses to auto-load a project .gdbinit unless its directory is in
#   auto-load safe-path; `gdb -x .gdbinit` sidesteps that.
# - Use hbreak (hardware breakpoints) for code that runs before paging is
#   set up or before the kernel is loaded: software breakpoints written into
#   memory at reset get overwritten when GRUB loads the kernel.
# - The kernel enters in 32-bit mode (multiboot2) and switches to long mode;
#   QEMU's stub always reports x86_64 registers, so stay in this architecture.
# - Under TCG, time stops while stopped in gdb; under KVM use hbreak only.
# - Personal additions go in .gdbinit.local (git-ignored), sourced below.
set architecture i386:x86-64
set confirm off
set pagination off
file build/kernel/sluice-kernel
target remote localhost:1234
python
import os
if os.path.exists(".gdbinit.local"):
    gdb.execute("source .gdbinit.local")
end
