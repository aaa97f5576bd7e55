#!/usr/bin/env python3
"""Run Sluice's kernel microbenchmarks in QEMU and print their results.

    run_bench.py --build-dir build [--accel tcg|kvm] [--runs 2] [--markdown]
    run_bench.py --parse build/bench-runs/<dir>/run1/serial.log

Builds one boot image (harness.images) holding the kernel and the bench
programs, with `init=microbench exit=poweroff` on the kernel command line,
boots it --runs times in a row (harness.boot; harness.qemu builds the QEMU
command line, so it is the same machine as `make run` and the scenarios,
minus the default disks and NIC, which nothing here uses), and reads the
serial log:

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

Stdlib only; the harness package is scripts/harness/.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "scripts"))

from harness import host, images, qemu  # noqa: E402
from harness.boot import boot, new_run_root, remove_unless, write_result  # noqa: E402
from harness.serial import clean_text, tail  # noqa: E402

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
    # host.Meter: wall_s, loadavg (before the boot), qemu_cpu_s and
    # other_cpu_seconds (host CPU time used by everything but this QEMU
    # while it ran: the noise indicator)
    noise: dict = field(default_factory=dict)

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


def boot_once(cfg_base: dict, image: Path, run_dir: Path, index: int, timeout: float,
              verbose: bool) -> tuple[RunResult, list[str]]:
    cfg = qemu.QemuConfig(image=image, image_format="iso", disk_dir=run_dir, run_dir=run_dir, **cfg_base)
    b = boot(cfg, run_dir, timeout, verbose=verbose)
    try:
        if b.timed_out:
            raise BenchError(f"timeout after {timeout:g} s (QEMU killed)")
        if b.rc == qemu.PANIC_EXIT_STATUS:
            raise BenchError("QEMU exit status 3: the kernel panicked")
        if b.rc != 0:
            raise BenchError(f"QEMU exited with status {b.rc} (see {run_dir / 'qemu.out'})")
        result = parse_serial(b.text, index)
    except BenchError as e:
        raise BenchError(f"run {index}: {e}\n----- serial log tail ({b.serial_path}) -----\n"
                         f"{tail(b.text, 60)}\n----- end of serial log -----") from None
    result.noise = b.noise
    return result, b.cmd


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
        wall = r.noise.get("wall_s")
        if wall:
            parts.append(f"QEMU ran {wall:.1f} s")
        user = r.user_tsc_khz()
        parts.append(f"kernel TSC calibration {r.tsc_khz if r.tsc_khz is not None else '?'} kHz, "
                     f"rdtsc/ClockGet in the guest {user:.0f} kHz")
        parts.append(f"LAPIC timer {r.timer_hz or '?'} Hz")
        if r.noise.get("loadavg"):
            parts.append(f"host load average before {r.noise['loadavg'][0]:.2f}")
        if r.noise.get("other_cpu_seconds") is not None:
            parts.append(f"other host CPU use during the run {r.noise['other_cpu_seconds']:.1f} CPU-s "
                         f"(of {wall * (os.cpu_count() or 1):.1f} available)")
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
            r = parse_serial(clean_text(a.parse.read_bytes()))
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

    facts = host.facts()
    run_root = new_run_root(build)
    image = run_root / "bench.iso"
    cfg_base = {"accel": a.accel, "devices": "none"}
    results: list[RunResult] = []
    cmd: list[str] = []
    try:
        images.build_image("iso", kernel, CMDLINE, modules, image, cache_dir=build / "image-cache")
        print(f"bench: accelerator {a.accel}; {a.runs} boot(s) of {image}", flush=True)
        for i in range(1, a.runs + 1):
            print(f"bench: run {i} of {a.runs} ...", flush=True)
            r, cmd = boot_once(cfg_base, image, run_root / f"run{i}", i, a.timeout, a.verbose)
            results.append(r)
    except (BenchError, images.ImageError, qemu.QemuError) as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        if cmd:
            print(f"bench: QEMU command line: {qemu.format_command(cmd)}", file=sys.stderr)
        print(f"bench: run directory kept: {run_root}", file=sys.stderr)
        return 1

    print()
    print(f"Sluice microbenchmarks, accelerator {a.accel} ({a.runs} run(s); min and median over "
          f"each run's batches, per operation)")
    print(host.describe(facts))
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
        write_result(a.json, {
            "facts": facts, "accel": a.accel, "cmdline": CMDLINE, "qemu_command": cmd,
            "runs": [{"run": r.index, **r.noise, "tsc_khz": r.tsc_khz,
                      "ops": {n: {"iters": op.iters, "batches": op.batches} for n, op in r.ops.items()}}
                     for r in results],
        })
    if a.keep:
        print(f"run directory: {run_root}")
    remove_unless(a.keep, run_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
