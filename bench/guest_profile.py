#!/usr/bin/env python3
"""Where a Sluice guest's time went: the kernel's sampling profiler
(kernel/debug/profiler.h, kernel command line `profile=HZ`) prints
"profile: ..." lines on the serial log at each process exit; this reads
them and names each sampled instruction's function with the build's own
ELF files (addr2line: the kernel's for kernel addresses, build/user/<name>
for a process's).

    python3 bench/guest_profile.py <serial.log> [--build-dir build] [--top 30]

bench/run_net_bench.py --profile HZ runs it after each Sluice boot.

Reading it: a tick that comes while the kernel runs (a system call, an
interrupt handler, a context switch; the kernel keeps interrupts off) is
counted where interrupts come back on — at the instruction after the
process's `syscall`, i.e. in its system call stub, or in the idle loop. So
"syscall stub" rows are kernel time spent for that process, and idle is
time the guest waited (for the device, the host, the peer)."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

LINE_RE = re.compile(r"profile: (\d+) pid (\d+) (\S+) rip 0x([0-9a-f]+)")
TOTAL_RE = re.compile(r"profile: process pid (\d+) (\S+) (\d+)")
BEGIN_RE = re.compile(r"profile: begin \((.*)\): (\d+) samples")
IDLE_RE = re.compile(r"profile: (idle until .*)")
KERNEL_HALF = 0xFFFF_8000_0000_0000


def parse(text: str) -> list[dict]:
    """Each dump: {'why', 'samples', 'totals': {(pid, name): n}, 'rows': [(n, pid, name, rip)]}."""
    dumps: list[dict] = []
    for line in text.splitlines():
        if m := BEGIN_RE.search(line):
            dumps.append({"why": m.group(1), "samples": int(m.group(2)), "totals": {}, "rows": [], "idle": []})
        elif dumps and (m := IDLE_RE.search(line)):
            dumps[-1]["idle"].append(m.group(1))
        elif dumps and (m := TOTAL_RE.search(line)):
            dumps[-1]["totals"][(int(m.group(1)), m.group(2))] = int(m.group(3))
        elif dumps and (m := LINE_RE.search(line)):
            dumps[-1]["rows"].append((int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4), 16)))
    return dumps


def symbolize(elf: Path, addresses: list[int]) -> dict[int, str]:
    """address -> function (demangled), by one addr2line call per file."""
    if not addresses:
        return {}
    if not elf.is_file():
        return {a: f"? ({elf.name} not built)" for a in addresses}
    out = subprocess.run(["addr2line", "-f", "-C", "-e", str(elf)] + [hex(a) for a in addresses],
                         capture_output=True, text=True, check=False).stdout.splitlines()
    names = out[0::2]
    return {a: (names[i] if i < len(names) and names[i] != "??" else f"0x{a:x}") for i, a in enumerate(addresses)}


def report(dump: dict, build: Path, top: int) -> str:
    kernel = build / "kernel" / "sluice-kernel"
    by_file: dict[Path, set[int]] = defaultdict(set)
    for _, _, name, rip in dump["rows"]:
        by_file[kernel if rip >= KERNEL_HALF else build / "user" / name].add(rip)
    names: dict[tuple[Path, int], str] = {}
    for elf, addrs in by_file.items():
        for a, fn in symbolize(elf, sorted(addrs)).items():
            names[(elf, a)] = fn
    funcs: dict[tuple[str, str], int] = defaultdict(int)
    for n, _, name, rip in dump["rows"]:
        elf = kernel if rip >= KERNEL_HALF else build / "user" / name
        where = "kernel" if rip >= KERNEL_HALF else name
        funcs[(f"{name}" + (" (in the kernel)" if where == "kernel" else ""), names[(elf, rip)])] += n
    total = dump["samples"] or 1
    lines = [f"profile at the exit of {dump['why']}: {dump['samples']} samples"]
    lines.append("  per process: " + ", ".join(f"{name} {100 * n / total:.1f}%"
                                              for (pid, name), n in sorted(dump["totals"].items(),
                                                                           key=lambda kv: -kv[1])))
    shown = sum(n for n, *_ in dump["rows"])
    lines.append(f"  busiest functions ({100 * shown / total:.0f}% of the samples are in the rows printed):")
    for (proc, fn), n in sorted(funcs.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * n / total:5.1f}%  {proc:<24} {fn}")
    if dump["idle"]:
        lines.append("  idle periods, by what ended them (the process that ran next, the interrupt taken last):")
        lines += [f"    {text}" for text in dump["idle"]]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("serial_log", type=Path)
    ap.add_argument("--build-dir", type=Path, default=Path("build"))
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    dumps = parse(a.serial_log.read_text(errors="replace"))
    if not dumps:
        print(f"no profile in {a.serial_log}: was the kernel booted with profile=HZ, and did a process exit?",
              file=sys.stderr)
        return 1
    for d in dumps:
        print(report(d, a.build_dir, a.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
