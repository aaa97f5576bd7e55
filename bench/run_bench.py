#!/usr/bin/env python3
"""Run Sluice's kernel microbenchmarks in QEMU and print their results.

    run_bench.py --build-dir build [--accel tcg|kvm] [--runs 2] [--markdown]
    run_bench.py --parse build/bench-runs/<dir>/run1/serial.log

Builds one boot image (scripts/mkimage.py) holding the kernel and the bench
programs, with `init=microbench exit=poweroff` on the kernel command line,
boots it --runs times in a row (scripts/qemu.py builds the QEMU command line,
so it is the same machine as `make run` and the scenarios, minus the default
disks and NIC, which nothing here uses), and reads the serial log:

    [    0.05] I clock: tsc 2097578 kHz                       the TSC rate
    [    0.20] I [microbench:1] bench: batch clock_get 1/7 iters 200000 tsc 94370052 ns 44990464
    ...
    [    7.18] I [microbench:1] bench: done

Each batch line carries raw totals (TSC ticks and ClockGet nanoseconds for
`iters` operations); this script divides, and reports per operation the
minimum and the median over the batches, per run. What each operation
measures is written in user/bench/microbench/main.cc and docs/benchmarks.md.

The machine is shared and noisy, so every run is printed, never averaged
away. A run fails (exit status 1) on a timeout, a QEMU exit status other
than 0, a "FAILED" or "PANIC" line, or a missing batch; the serial log tail
is printed and the run directory under <build-dir>/bench-runs/ is kept.

Stdlib only (python3 >= 3.8, like scripts/qemu.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "scripts"))

import mkimage  # noqa: E402
import qemu  # noqa: E402

INIT = "microbench"
MODULES = ("microbench", "microbench_echo")
CMDLINE = f"console=com1 loglevel=info init={INIT} exit=poweroff"
DEFAULT_TIMEOUT = 300  # seconds per boot; a TCG run takes about 10 s

# Operation name in the guest -> (label, what it is), in table order.
OPERATIONS = {
    "clock_get": "null syscall (ClockGet)",
    "unassigned": "syscall floor (unassigned no.)",
    "yield": "Yield, nothing else ready",
    "yield_switch": "Yield to/from 2nd process",
    "call_reply": "endpoint call+reply, 8 B",
}

BATCH_RE = re.compile(r"bench: batch (\w+) (\d+)/(\d+) iters (\d+) tsc (\d+) ns (\d+)")
TSC_RE = re.compile(r"clock: tsc (\d+) kHz")
TIMER_RE = re.compile(r"lapic: id \d+ timer (\d+) Hz")
FAILURE_RE = re.compile(r"FAILED|PANIC")
DONE_MARK = "bench: done"


class BenchError(Exception):
    pass


@dataclass
class OpResult:
    name: str
    iters: int
    batches: list[tuple[int, int]] = field(default_factory=list)  # (tsc ticks, ns) per batch
    expected_batches: int = 0

    def per_op(self, which: int) -> list[float]:
        return [b[which] / self.iters for b in self.batches]

    def cycles(self) -> tuple[float, float]:
        v = self.per_op(0)
        return min(v), statistics.median(v)

    def ns(self) -> tuple[float, float]:
        v = self.per_op(1)
        return min(v), statistics.median(v)


@dataclass
class RunResult:
    index: int
    ops: dict[str, OpResult]
    tsc_khz: int | None
    timer_hz: int | None
    seconds: float = 0.0
    loadavg: tuple[float, float, float] | None = None  # host, just before the boot
    # Host CPU time used by everything but this QEMU while it ran: the
    # noise indicator (QEMU TCG is one busy host thread; anything else
    # competing for the host's CPUs shows here).
    other_cpu_seconds: float | None = None

    def user_tsc_khz(self) -> float | None:
        """The TSC rate the guest program saw (its rdtsc vs ClockGet): a
        cross-check of the kernel's calibration."""
        tsc = sum(b[0] for op in self.ops.values() for b in op.batches)
        ns = sum(b[1] for op in self.ops.values() for b in op.batches)
        return tsc / ns * 1e6 if ns else None


def parse_serial(text: str, index: int = 1) -> RunResult:
    """The benchmark results in one serial log; BenchError if incomplete."""
    bad = [ln for ln in text.splitlines() if FAILURE_RE.search(ln)]
    if bad:
        raise BenchError(f"the guest reported a failure: {bad[0].strip()}")
    ops: dict[str, OpResult] = {}
    for m in BATCH_RE.finditer(text):
        name, k, total, iters, tsc, ns = m.group(1), *map(int, m.groups()[1:])
        op = ops.setdefault(name, OpResult(name, iters, expected_batches=total))
        if iters != op.iters or k != len(op.batches) + 1:
            raise BenchError(f"batch line out of order or inconsistent: {m.group(0)}")
        op.batches.append((tsc, ns))
    missing = [n for n in OPERATIONS if n not in ops]
    if missing:
        raise BenchError(f"no results for {', '.join(missing)}")
    for op in ops.values():
        if len(op.batches) != op.expected_batches:
            raise BenchError(f"{op.name}: {len(op.batches)} of {op.expected_batches} batches")
    if DONE_MARK not in text:
        raise BenchError(f"'{DONE_MARK}' never appeared")
    tsc = TSC_RE.search(text)
    timer = TIMER_RE.search(text)
    return RunResult(index, ops, int(tsc.group(1)) if tsc else None, int(timer.group(1)) if timer else None)


def host_facts() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
            return out.strip().splitlines()[0] if out.strip() else "?"
        except (OSError, subprocess.SubprocessError):
            return "?"

    cpu = "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        if m:
            cpu = m.group(1).strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "qemu": first_line([qemu.QEMU_BINARY, "--version"]),
        "host_cpu": cpu,
        "host_cpus": str(os.cpu_count()),
        "host_kernel": platform.release(),
    }


def host_busy_seconds() -> float | None:
    """Non-idle CPU time of the whole host since boot, all CPUs (/proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...
    busy = fields[0] + fields[1] + fields[2] + sum(fields[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def tail(text: str, lines: int = 60) -> str:
    ls = text.splitlines()
    return "\n".join(ls[-lines:])


def boot_once(cfg_base: dict, image: Path, run_dir: Path, index: int, timeout: float,
              verbose: bool) -> tuple[RunResult, list[str]]:
    run_dir.mkdir(parents=True, exist_ok=True)
    serial = run_dir / "serial.log"
    serial.unlink(missing_ok=True)
    cfg = qemu.QemuConfig(image=image, image_format="iso", serial=f"file:{serial}",
                          disk_dir=run_dir, run_dir=run_dir, **cfg_base)
    cmd = qemu.build_command(cfg)
    loadavg = os.getloadavg()
    busy0, child0 = host_busy_seconds(), children_cpu_seconds()
    start = time.monotonic()
    with open(run_dir / "qemu.out", "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        qemu.kill_group(proc)
        rc = None
    finally:
        if proc.poll() is None:
            qemu.kill_group(proc)
    seconds = time.monotonic() - start
    busy1, child1 = host_busy_seconds(), children_cpu_seconds()
    other = None if busy0 is None or busy1 is None else max(0.0, (busy1 - busy0) - (child1 - child0))
    text = serial.read_text(errors="replace") if serial.exists() else ""
    text = text.replace("\r", "")
    if verbose:
        print(text)
    try:
        if rc is None:
            raise BenchError(f"timeout after {timeout:g} s (QEMU killed)")
        if rc == qemu.PANIC_EXIT_STATUS:
            raise BenchError("QEMU exit status 3: the kernel panicked")
        if rc != 0:
            raise BenchError(f"QEMU exited with status {rc} (see {run_dir / 'qemu.out'})")
        result = parse_serial(text, index)
    except BenchError as e:
        raise BenchError(f"run {index}: {e}\n----- serial log tail ({serial}) -----\n"
                         f"{tail(text)}\n----- end of serial log -----") from None
    result.seconds = seconds
    result.loadavg = loadavg
    result.other_cpu_seconds = other
    return result, cmd


def fmt(v: float) -> str:
    return f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"


def table(results: list[RunResult]) -> str:
    """Plain-text table: one row per operation and run."""
    head = (f"{'operation':<31} {'run':>3} {'iters x batches':>16} {'cycles min':>11} {'cycles med':>11} "
            f"{'ns min':>9} {'ns med':>9}")
    rows = [head, "-" * len(head)]
    for name, label in OPERATIONS.items():
        for r in results:
            op = r.ops[name]
            cmin, cmed = op.cycles()
            nmin, nmed = op.ns()
            rows.append(f"{label:<31} {r.index:>3} {f'{op.iters} x {len(op.batches)}':>16} {fmt(cmin):>11} "
                        f"{fmt(cmed):>11} {fmt(nmin):>9} {fmt(nmed):>9}")
    return "\n".join(rows)


def markdown(results: list[RunResult]) -> str:
    head = "| operation | run | iters × batches | cycles/op min | cycles/op median | ns/op min | ns/op median |"
    rows = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for name, label in OPERATIONS.items():
        for r in results:
            op = r.ops[name]
            cmin, cmed = op.cycles()
            nmin, nmed = op.ns()
            rows.append(f"| {label} | {r.index} | {op.iters:,} × {len(op.batches)} | {fmt(cmin)} | {fmt(cmed)} | "
                        f"{fmt(nmin)} | {fmt(nmed)} |")
    return "\n".join(rows)


def run_notes(results: list[RunResult]) -> list[str]:
    notes = []
    for r in results:
        parts = []
        if r.seconds:
            parts.append(f"QEMU ran {r.seconds:.1f} s")
        user = r.user_tsc_khz()
        parts.append(f"kernel TSC calibration {r.tsc_khz if r.tsc_khz is not None else '?'} kHz, "
                     f"rdtsc/ClockGet in the guest {user:.0f} kHz")
        parts.append(f"LAPIC timer {r.timer_hz or '?'} Hz")
        if r.loadavg:
            parts.append(f"host load average before {r.loadavg[0]:.2f}")
        if r.other_cpu_seconds is not None:
            parts.append(f"other host CPU use during the run {r.other_cpu_seconds:.1f} CPU-s "
                         f"(of {r.seconds * (os.cpu_count() or 1):.1f} available)")
        notes.append(f"run {r.index}: " + "; ".join(parts))
    return notes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run Sluice's kernel microbenchmarks in QEMU.")
    p.add_argument("--build-dir", type=Path, default=REPO / "build")
    p.add_argument("--accel", choices=["tcg", "kvm"], default=os.environ.get("ACCEL", "tcg"))
    p.add_argument("--runs", type=int, default=2, help="boots in a row, each reported (default 2)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per boot")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    p.add_argument("--json", type=Path, help="also write the raw batches and facts here")
    p.add_argument("--keep", action="store_true", help="keep the run directory (image, logs) on success")
    p.add_argument("--verbose", "-v", action="store_true", help="print each serial log")
    p.add_argument("--parse", type=Path, metavar="SERIAL_LOG",
                   help="only parse a saved serial log and print its table")
    a = p.parse_args(argv)

    if a.parse:
        try:
            r = parse_serial(a.parse.read_text(errors="replace").replace("\r", ""))
        except (OSError, BenchError) as e:
            print(f"bench: {e}", file=sys.stderr)
            return 1
        print(table([r]))
        print("\n".join(run_notes([r])))
        if a.markdown:
            print("\n" + markdown([r]))
        return 0

    build = a.build_dir.resolve()
    kernel = build / "kernel" / "sluice-kernel"
    modules = [(m, build / "user" / m) for m in MODULES]
    for path in [kernel] + [pth for _, pth in modules]:
        if not path.is_file():
            print(f"bench: {path} not found: build it first (make bench does: "
                  f"ninja -C {a.build_dir} sluice-kernel {' '.join(MODULES)})", file=sys.stderr)
            return 2
    if a.runs < 1:
        print("bench: --runs must be at least 1", file=sys.stderr)
        return 2

    facts = host_facts()
    root = build / "bench-runs"
    root.mkdir(parents=True, exist_ok=True)
    run_root = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S."), dir=root))
    image = run_root / "bench.iso"
    cfg_base = {"accel": a.accel, "devices": "none"}
    results: list[RunResult] = []
    cmd: list[str] = []
    try:
        mkimage.build_image("iso", kernel, CMDLINE, modules, image, cache_dir=build / "image-cache")
        print(f"bench: accelerator {a.accel}; {a.runs} boot(s) of {image}", flush=True)
        for i in range(1, a.runs + 1):
            print(f"bench: run {i} of {a.runs} ...", flush=True)
            r, cmd = boot_once(cfg_base, image, run_root / f"run{i}", i, a.timeout, a.verbose)
            results.append(r)
    except (BenchError, mkimage.ImageError, qemu.QemuError) as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        if cmd:
            print(f"bench: QEMU command line: {qemu.format_command(cmd)}", file=sys.stderr)
        print(f"bench: run directory kept: {run_root}", file=sys.stderr)
        return 1

    print()
    print(f"Sluice microbenchmarks, accelerator {a.accel} ({a.runs} run(s); min and median over "
          f"each run's batches, per operation)")
    print(f"date {facts['date']}; {facts['qemu']}; host CPU {facts['host_cpu']} "
          f"({facts['host_cpus']} CPUs, Linux {facts['host_kernel']})")
    print()
    print(table(results))
    print()
    for n in run_notes(results):
        print(n)
    print(f"accelerator: {a.accel}")
    print(f"kernel command line: {CMDLINE}")
    print(f"QEMU command line (run {results[-1].index}; each run differs only in its directory):")
    print(f"  {qemu.format_command(cmd)}")
    if a.markdown:
        print()
        print(markdown(results))
    if a.json:
        a.json.write_text(json.dumps({
            "facts": facts, "accel": a.accel, "cmdline": CMDLINE, "qemu_command": cmd,
            "runs": [{"run": r.index, "seconds": r.seconds, "loadavg": r.loadavg,
                      "other_cpu_seconds": r.other_cpu_seconds, "tsc_khz": r.tsc_khz,
                      "ops": {n: {"iters": op.iters, "batches": op.batches} for n, op in r.ops.items()}}
                     for r in results],
        }, indent=1) + "\n")
    if a.keep:
        print(f"run directory: {run_root}")
    else:
        shutil.rmtree(run_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
