#!/usr/bin/env python3
"""Storage benchmark: Sluice's NVMe provider + blkbench against QEMU's
emulated NVMe, optionally next to the Linux + fio baseline
(bench/linux_guest/run_fio.py) on the same QEMU configuration.

    run_storage_bench.py --build-dir build [--backend null|file|both] [--seconds 20]
                         [--smp 2] [--trace] [--linux] [--json FILE] [--keep]
    run_storage_bench.py --parse RUN_DIR          # re-read a kept run directory

Jobs (the same names and shapes as run_fio.py's), run one after another,
one boot per job, each boot with a single blkbench process:

    randread-4k-qd1     mode=randread bs=4096   qd=1
    randread-4k-qd32    mode=randread bs=4096   qd=32
    randwrite-4k-qd1    mode=randwrite bs=4096  qd=1
    seqread-128k-qd8    mode=read bs=131072     qd=8

Each boot's manifest (written into the run directory) runs devmgr and the
`nvme` provider (vectors = 2, dma_pool = 8M, bar 0 length=4K mode=filtered,
serving the one blkbench process). blkbench runs for --seconds over the
whole 1 GiB namespace and prints

    blkbench: N I/Os in M ms: X IOPS, Y MB/s; latency us mean A p50 B p99 C p99.9 D max E
    blkbench: done: 0 errors, 0 reattached

after which the runner stops QEMU (SIGTERM, so the trace log is flushed).
blkbench latency is submit (request queued in the shared ring) to the
moment it reaped the completion; fio's is its total latency (lat_ns).
blkbench has no ramp; fio skips a 2 s ramp_time.

QEMU (harness.qemu builds the command, for run_fio.py too):
-machine q35 -accel tcg -cpu max -smp N -m 1G, no default devices, plus

    null: -drive driver=null-co,size=1G,read-zeroes=on,if=none,id=d0
    file: -drive file=IMG,if=none,id=d0,format=raw,cache=none,aio=threads
          (IMG: 1 GiB, fully written once with a non-zero pattern)
    both: -device nvme,serial=lgnvme0,id=nvme0,drive=d0

--trace adds -trace pci_nvme_mmio_doorbell_sq/_cq (+ pci_nvme_irq_msix,
pci_nvme_dbbuf_config) -D <run>/trace.log and reports, per job, the MMIO
doorbell writes of the I/O queues (sqid/cqid != 0; the admin queue's are not
counted) divided by blkbench's I/O count, and MSI-X interrupts on vectors
other than 0 per I/O. With --driver virtio-blk it traces
harness.trace.VIRTIO_BLK_EVENTS instead and reports queue notifications
(virtio_queue_notify), queue interrupts QEMU actually raised (virtio_notify,
virtio_notify_irqfd) and requests the device completed
(virtio_blk_req_complete), each per blkbench I/O. Tracing slows QEMU: a
traced run's IOPS and latency are not the speed (take those from a run
without --trace).

--linux runs bench/linux_guest/run_fio.py for the same backend(s) right
after Sluice's jobs on that backend (same --seconds, --smp, --trace) and
prints Sluice/Linux ratios per job.

A boot fails (exit status 1 at the end; its directory is kept) on a timeout,
a kernel panic, a FAILED/PANIC line, a missing result line, blkbench errors,
or driver trouble on the serial log (controller reset, lost shadow doorbell
update, a command without completion, a refused batch); the offending lines
are printed. Stdlib only; the harness package is scripts/harness/.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(HERE / "linux_guest"))

from harness import host, images, qemu, trace  # noqa: E402
from harness.boot import boot, new_run_root, remove_unless, write_result  # noqa: E402
from harness.serial import read_all, tail  # noqa: E402
import run_fio  # noqa: E402  (where the Linux guest lives, its table)

# The driver under test (--driver): its boot module, QEMU device, manifest
# entry and the device name blkbench opens. run_fio.py's --disk matches.
DRIVERS = {
    "nvme": {
        "module": "nvme",
        "device": "nvme,serial=lgnvme0,id=nvme0,drive=d0",
        "entry": "[provider nvme0]\nmodule = nvme\nmatch = NvmeController\nbar = 0 length=4K mode=filtered\n"
                 "vectors = 2\ndma_pool = 8M\nserve = bench\n",
        "dev": "nvme0n1",
        "linux_disk": "nvme",
        "name": "NVMe",
        # --trace: QEMU events, their counter, the per-I/O columns of the
        # results table and those compared with Linux's in the ratio table
        # (key in the trace dict, header).
        "trace_events": trace.NVME_EVENTS,
        "trace_counts": trace.nvme_counts,
        "trace_columns": [("sq_per_io", "SQ db/IO"), ("cq_per_io", "CQ db/IO"), ("db_per_io", "doorbells/IO"),
                          ("irq_per_io", "MSI-X/IO")],
        "trace_compare": [("db_per_io", "doorbells/IO")],
    },
    "virtio-blk": {
        "module": "virtio-blk",
        "device": "virtio-blk-pci,serial=lgvblk0,id=vblk0,drive=d0",
        "entry": "[provider vblk0]\nmodule = virtio-blk\nmatch = VirtioBlk\nbar = 4 mode=filtered\n"
                 "vectors = 1\ndma_pool = 8M\nserve = bench\n",
        "dev": "vblk0n1",
        "linux_disk": "virtio",
        "name": "virtio-blk",
        "trace_events": trace.VIRTIO_BLK_EVENTS,
        "trace_counts": trace.virtio_blk_counts,
        "trace_columns": [("notify_per_io", "notifications/IO"), ("irq_per_io", "interrupts/IO"),
                          ("req_per_io", "device requests/IO")],
        "trace_compare": [("notify_per_io", "notifications/IO"), ("irq_per_io", "interrupts/IO")],
    },
}
DRIVER = DRIVERS["nvme"]  # set from --driver in main()


def modules() -> tuple[str, ...]:
    return ("init", "devmgr", DRIVER["module"], "blkbench")
CMDLINE = "console=com1 loglevel=info init=init"

# job name (run_fio.py's) -> blkbench arguments besides dev/seconds/lba/seed
JOBS = {
    "randread-4k-qd1": "mode=randread bs=4096 qd=1",
    "randread-4k-qd32": "mode=randread bs=4096 qd=32",
    "randwrite-4k-qd1": "mode=randwrite bs=4096 qd=1",
    "seqread-128k-qd8": "mode=read bs=131072 qd=8",
}
NULL_DRIVE = "driver=null-co,size=1G,read-zeroes=on,if=none,id=d0"

RESULT_RE = re.compile(r"blkbench: (\d+) I/Os in (\d+) ms: (\d+) IOPS, ([\d.]+) MB/s; latency us mean (\d+) "
                       r"p50 (\d+) p99 (\d+) p99\.9 (\d+) max (\d+)")
DONE_RE = re.compile(r"blkbench: done: (\d+) errors, (\d+) reattached")
START_RE = re.compile(r"\[\s*([\d.]+)\] \w \[blkbench:\d+\] blkbench: (?:nvme0n1|vblk0n1) ")
# Driver / kernel trouble: any of these fails the boot and is reported verbatim.
TROUBLE_RE = re.compile(r"resetting the (?:controller|device)|shadow doorbell update lost|got no completion|"
                        r"refused a batch|controller reset|no completion within|FAILED|PANIC|"
                        r"blkbench: (?:no device|attach|unknown mode|bs must|range outside)|"
                        r"blkbench: (?:write|read) lba|requests unanswered")
# Warning and error log lines ("[  t] W ..." / "[  t] E ...") are shown too.
WARN_RE = re.compile(r"^\[\s*[\d.]+\] [WE] ", re.M)


class BenchError(Exception):
    pass


def manifest_text(job: str, args: str) -> str:
    return f"""# Generated by bench/run_storage_bench.py: job {job}.
[devices pci]
[resource root]
[manifest boot]

[process devmgr]
module = devmgr
cap = pci rights=inspect|manage as=devices
cap = root rights=manage as=resource
cap = boot rights=read|map as=manifest

[process bench]
module = blkbench
args = "{args}"

{DRIVER["entry"]}"""


def blkbench_args(job: str, seconds: int) -> str:
    return f"dev={DRIVER['dev']} {JOBS[job]} seconds={seconds} lba=0 seed=1"


# ---------------------------------------------------------------- parsing

@dataclass
class JobResult:
    job: str
    backend: str
    ios: int = 0
    ms: int = 0
    iops: float = 0.0
    MBps: float = 0.0
    lat_mean_us: float = 0.0
    lat_p50_us: float = 0.0
    lat_p99_us: float = 0.0
    lat_p99_9_us: float = 0.0
    lat_max_us: float = 0.0
    errors: int = 0
    guest_start_s: float | None = None  # guest uptime when blkbench started
    qemu_rc: int | str | None = None
    # host.Meter, the same keys as the Linux baseline's boots
    wall_s: float = 0.0
    loadavg: list[float] = field(default_factory=list)
    qemu_cpu_s: float | None = None
    other_cpu_seconds: float | None = None
    trouble: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    trace: dict | None = None
    qemu_cmd: list[str] = field(default_factory=list)
    run_dir: str = ""


def parse_serial(text: str, job: str, backend: str) -> JobResult:
    r = JobResult(job, backend)
    r.trouble = [ln.strip() for ln in text.splitlines() if TROUBLE_RE.search(ln)][:40]
    r.warnings = [ln.strip() for ln in text.splitlines() if WARN_RE.match(ln)][:40]
    m = START_RE.search(text)
    if m:
        r.guest_start_s = float(m.group(1))
    m = RESULT_RE.search(text)
    if m:
        ios, ms, iops, mbps, mean, p50, p99, p999, mx = m.groups()
        r.ios, r.ms, r.iops, r.MBps = int(ios), int(ms), float(iops), float(mbps)
        r.lat_mean_us, r.lat_p50_us, r.lat_p99_us = float(mean), float(p50), float(p99)
        r.lat_p99_9_us, r.lat_max_us = float(p999), float(mx)
    d = DONE_RE.search(text)
    if d:
        r.errors = int(d.group(1))
    return r


def check(r: JobResult, text: str) -> None:
    if r.qemu_rc == "timeout":
        raise BenchError("timeout (QEMU killed)")
    if r.qemu_rc == qemu.PANIC_EXIT_STATUS:
        raise BenchError("QEMU exit status 3: the kernel panicked")
    if not RESULT_RE.search(text) or not DONE_RE.search(text):
        raise BenchError(f"no blkbench result (QEMU status {r.qemu_rc})")
    if r.errors:
        raise BenchError(f"blkbench reported {r.errors} I/O errors")
    if r.trouble:
        raise BenchError("driver/kernel trouble on the serial log:\n  " + "\n  ".join(r.trouble))


def parse_trace(path: Path, ios: int) -> dict:
    """The driver's trace counts over the whole boot (NVMe: doorbell MMIO
    writes of the I/O queues, qid != 0, and MSI-X on vectors != 0; virtio-blk:
    queue notifications, queue interrupts, completed requests) and per I/O."""
    total = DRIVER["trace_counts"](path)["total"]
    return {**total, **trace.per_io(total, ios)}


# ---------------------------------------------------------------- running

def drive_args(backend: str, image: Path) -> list[str]:
    if backend == "null":
        return ["-drive", NULL_DRIVE, "-device", DRIVER["device"]]
    return ["-drive", f"file={image},if=none,id=d0,format=raw,cache=none,aio=threads", "-device", DRIVER["device"]]


def boot_job(a, backend: str, job: str, iso: Path, run_dir: Path, image: Path) -> tuple[JobResult, str]:
    trace_file = run_dir / "trace.log"
    if a.trace:
        trace_file.unlink(missing_ok=True)
    cfg = qemu.QemuConfig(image=iso, image_format="iso", accel="tcg", cpu=a.cpu, smp=a.smp,
                          devices="none", disk_dir=run_dir, run_dir=run_dir,
                          extra_args=drive_args(backend, image),
                          trace_events=DRIVER["trace_events"] if a.trace else [], trace_log=trace_file)
    b = boot(cfg, run_dir, a.timeout or a.seconds + 240, until=DONE_RE)
    r = parse_serial(b.text, job, backend)
    r.qemu_rc = "timeout" if b.timed_out else b.rc
    r.qemu_cmd, r.run_dir = b.cmd, str(run_dir)
    r.wall_s, r.loadavg = b.noise["wall_s"], b.noise["loadavg"]
    r.qemu_cpu_s, r.other_cpu_seconds = b.noise["qemu_cpu_s"], b.noise["other_cpu_seconds"]
    if a.trace and trace_file.exists():
        r.trace = parse_trace(trace_file, r.ios)
    return r, b.text


def sluice_cmdline(a) -> str:
    return f"{CMDLINE} {a.kernel_append}".strip()


def build_isos(a, build: Path, run_root: Path, jobs: list[str]) -> dict[str, Path]:
    kernel = build / "kernel" / "sluice-kernel"
    mods = [(m, build / "user" / m) for m in modules()]
    for pth in [kernel] + [p for _, p in mods]:
        if not pth.is_file():
            raise BenchError(f"{pth} not found: build it first (make bench-storage does: "
                             f"ninja -C {a.build_dir} sluice-kernel {' '.join(modules())})")
    isos = {}
    for job in jobs:
        man = run_root / f"{job}.manifest"
        man.write_text(manifest_text(job, blkbench_args(job, a.seconds)))
        iso = run_root / f"{job}.iso"
        images.build_image("iso", kernel, sluice_cmdline(a), mods + [("manifest", man)], iso,
                           cache_dir=build / "image-cache")
        isos[job] = iso
    return isos


def run_linux(a, backend: str, jobs: list[str], out_dir: Path) -> dict | None:
    """run_fio.py for one backend with the same settings; its JSON, or None."""
    out_json = out_dir / f"linux-{backend}.json"
    cmd = [sys.executable, str(HERE / "linux_guest" / "run_fio.py"), "--backend", backend,
           "--runtime", str(a.seconds), "--smp", str(a.smp), "--cpu", a.cpu, "--jobs", ",".join(jobs),
           "--image", str(a.linux_image), "--out-dir", str(out_dir / f"linux-{backend}"),
           "--json", str(out_json), "--disk", DRIVER["linux_disk"], "--engine", a.engine]
    if a.trace:
        cmd.append("--trace")
    if a.linux_append:
        cmd += ["--append", a.linux_append]
    if (run_fio.GUEST / "bzImage").is_file() and (run_fio.GUEST / "initramfs.cpio.gz").is_file():
        cmd.append("--no-build")
    print(f"\n[storage] Linux baseline: {shlex.join(cmd)}", flush=True)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        print(f"[storage] run_fio.py exited with status {p.returncode}", flush=True)
    try:
        return json.loads(out_json.read_text())
    except (OSError, ValueError) as e:
        print(f"[storage] no Linux results: {e}", flush=True)
        return None


# ---------------------------------------------------------------- output

def f0(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def f1(v) -> str:
    return "-" if v is None else f"{v:,.1f}"


def f2(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def f3(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def sluice_table(results: list[JobResult], trace: bool) -> str:
    head = "| job | IOPS | MB/s | lat mean µs | p50 µs | p99 µs | p99.9 µs | max µs | I/Os |"
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if trace:
        head += "".join(f" {h} |" for _, h in DRIVER["trace_columns"])
        sep += "---:|" * len(DRIVER["trace_columns"])
    rows = [head, sep]
    for r in results:
        row = (f"| {r.job} | {f0(r.iops)} | {f1(r.MBps)} | {f1(r.lat_mean_us)} | {f1(r.lat_p50_us)} | "
               f"{f1(r.lat_p99_us)} | {f1(r.lat_p99_9_us)} | {f0(r.lat_max_us)} | {r.ios:,} |")
        if trace:
            t = r.trace or {}
            row += "".join(f" {f3(t.get(k))} |" for k, _ in DRIVER["trace_columns"])
        rows.append(row)
    return "\n".join(rows)


def linux_jobs(linux: dict | None, backend: str) -> dict[str, dict]:
    """job name -> fio record (+ 'trace' window) for one backend."""
    out: dict[str, dict] = {}
    if not linux:
        return out
    for b in linux.get("boots", []):
        if b.get("backend") != backend:
            continue
        windows = {w["job"]: w for w in (b.get("trace") or {}).get("windows", [])}
        for j in b.get("jobs", []):
            rec = dict(j)
            if j["job"] in windows:
                rec["trace"] = windows[j["job"]]
            out.setdefault(j["job"], rec)
    return out


def ratio(a, b) -> float | None:
    return a / b if a is not None and b else None


def ratio_table(results: list[JobResult], lj: dict[str, dict], trace: bool) -> tuple[str, list[dict]]:
    head = ("| job | Sluice IOPS | Linux IOPS | IOPS S/L | Sluice p50 µs | Linux p50 µs | p50 S/L | "
            "Sluice mean µs | Linux mean µs | mean S/L |")
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if trace:
        head += "".join(f" Sluice {h} | Linux {h} |" for _, h in DRIVER["trace_compare"])
        sep += "---:|---:|" * len(DRIVER["trace_compare"])
    rows, raw = [head, sep], []
    for r in results:
        l = lj.get(r.job)
        if not l or "iops" not in l:
            rows.append(f"| {r.job} | {f0(r.iops)} | (no Linux result) |")
            continue
        rec = {"job": r.job, "iops_ratio": ratio(r.iops, l["iops"]),
               "p50_ratio": ratio(r.lat_p50_us, l.get("lat_p50_us")),
               "mean_ratio": ratio(r.lat_mean_us, l.get("lat_mean_us"))}
        row = (f"| {r.job} | {f0(r.iops)} | {f0(l['iops'])} | {f2(rec['iops_ratio'])} | {f1(r.lat_p50_us)} | "
               f"{f1(l.get('lat_p50_us'))} | {f2(rec['p50_ratio'])} | {f1(r.lat_mean_us)} | "
               f"{f1(l.get('lat_mean_us'))} | {f2(rec['mean_ratio'])} |")
        if trace:
            for k, _ in DRIVER["trace_compare"]:
                s_v, l_v = (r.trace or {}).get(k), (l.get("trace") or {}).get(k)
                rec[f"sluice_{k}"], rec[f"linux_{k}"] = s_v, l_v
                row += f" {f3(s_v)} | {f3(l_v)} |"
        rows.append(row)
        raw.append(rec)
    return "\n".join(rows), raw


TRACE_NOTE = {
    "nvme": "doorbells/IO: MMIO doorbell writes of the I/O queue (SQ tail + CQ head, admin queue excluded) / "
            "blkbench I/Os; MSI-X/IO: interrupts on vectors != 0 / I/Os.",
    "virtio-blk": "notifications/IO: virtio_queue_notify (the driver kicked the device) / blkbench I/Os; "
                  "interrupts/IO: virtio_notify + virtio_notify_irqfd (queue interrupts QEMU raised, after "
                  "EVENT_IDX / NO_INTERRUPT suppression) / I/Os; device requests/IO: virtio_blk_req_complete / "
                  "I/Os. Whole boot (the provider's GET_ID at start included); traced runs are slower: take "
                  "speed from untraced runs.",
}

SMP_NOTE = ("-smp {smp}: the same as run_fio.py. It matters even though Sluice boots one CPU either way: "
            "QEMU 7.2's TCG elides guest memory barriers when max_cpus == 1, which changes the emulated "
            "NVMe's view of shadow-doorbell ordering (and Linux uses every CPU it gets).")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", type=Path, default=REPO / "build")
    p.add_argument("--driver", choices=list(DRIVERS), default="nvme", help="the driver under test (default nvme)")
    p.add_argument("--engine", default="libaio", help="the Linux baseline's fio ioengine: libaio | io_uring")
    p.add_argument("--linux-append", default="",
                   help="extra kernel command line for the Linux baseline, e.g. nr_cpus=1 (Sluice runs on one CPU)")
    p.add_argument("--kernel-append", default="",
                   help="extra Sluice kernel command line, e.g. idle=halt (docs/boot.md)")
    p.add_argument("--backend", choices=["null", "file", "both"], default="both")
    p.add_argument("--jobs", default=",".join(JOBS), help=f"comma list of {', '.join(JOBS)}")
    p.add_argument("--seconds", type=int, default=20, help="seconds per job (default 20)")
    p.add_argument("--smp", type=int, default=2, help="-smp (default 2, as run_fio.py)")
    p.add_argument("--cpu", default="max", help="-cpu (default max)")
    p.add_argument("--image", type=Path, default=None,
                   help="raw 1 GiB image for the file backend (default <build-dir>/bench-storage/nvme-1g.img)")
    p.add_argument("--linux-image", type=Path, default=run_fio.CACHE / "nvme-1g.img",
                   help="raw image run_fio.py uses (default its own)")
    p.add_argument("--trace", action="store_true",
                   help="count per I/O from QEMU's trace: NVMe doorbells and MSI-X; virtio-blk notifications, "
                        "interrupts and device requests")
    p.add_argument("--linux", action="store_true", help="also run the Linux + fio baseline and print ratios")
    p.add_argument("--timeout", type=int, default=0, help="per-boot limit, s (default seconds + 240)")
    p.add_argument("--json", type=Path, help="write raw results here")
    p.add_argument("--keep", action="store_true", help="keep the run directory on success")
    p.add_argument("--parse", type=Path, metavar="RUN_DIR", help="only re-read a kept run directory")
    a = p.parse_args(argv)
    global DRIVER
    DRIVER = DRIVERS[a.driver]

    jobs = [j for j in a.jobs.split(",") if j]
    bad = [j for j in jobs if j not in JOBS]
    if bad:
        print(f"storage: unknown job(s) {', '.join(bad)}", file=sys.stderr)
        return 2
    backends = ["null", "file"] if a.backend == "both" else [a.backend]

    if a.parse:
        for backend in backends:
            rs = []
            for job in jobs:
                d = a.parse / backend / job
                if not (d / "serial.log").exists():
                    continue
                r = parse_serial(read_all(d / "serial.log"), job, backend)
                if (d / "trace.log").exists():
                    r.trace = parse_trace(d / "trace.log", r.ios)
                rs.append(r)
            if rs:
                print(f"\n{backend}:\n{sluice_table(rs, any(r.trace for r in rs))}")
        return 0

    build = a.build_dir.resolve()
    image = (a.image or build / "bench-storage" / "nvme-1g.img").resolve()
    facts = host.facts()
    run_root = new_run_root(build, "storage")
    print(f"[storage] {facts['qemu']}; host CPU {facts['host_cpu']} ({facts['host_cpus']} CPUs); "
          f"load {facts['loadavg_before'][0]:.2f}; run directory {run_root}", flush=True)
    if "file" in backends:
        images.ensure_filled(image, say=lambda m: print(f"[storage] {m}", flush=True))
        facts.update(host.image_facts(image))
        print(f"[storage] image {image} on {facts['image_fs']}: O_DIRECT {facts['odirect_check']}", flush=True)

    try:
        isos = build_isos(a, build, run_root, jobs)
    except (BenchError, images.ImageError) as e:
        print(f"storage: FAILED: {e}", file=sys.stderr)
        return 1

    failures: list[str] = []
    per_backend: dict[str, list[JobResult]] = {}
    linux: dict[str, dict | None] = {}
    for backend in backends:
        per_backend[backend] = []
        for job in jobs:
            print(f"[storage] Sluice {backend} {job}: {blkbench_args(job, a.seconds)} ...", flush=True)
            try:
                r, text = boot_job(a, backend, job, isos[job], run_root / backend / job, image)
            except qemu.QemuError as e:
                print(f"storage: FAILED: {e}", file=sys.stderr)
                return 1
            try:
                check(r, text)
            except BenchError as e:
                failures.append(f"{backend} {job}: {e}")
                print(f"[storage] !! {backend} {job}: {e}\n----- serial log tail ({r.run_dir}/serial.log) -----\n"
                      f"{tail(text, 40)}\n----- end -----", flush=True)
            per_backend[backend].append(r)
            t = r.trace or {}
            print(f"[storage]   {f0(r.iops)} IOPS, {f1(r.MBps)} MB/s, mean {f1(r.lat_mean_us)} µs, "
                  f"p50 {f1(r.lat_p50_us)} µs; QEMU {r.wall_s} s, blkbench started at guest "
                  f"{r.guest_start_s} s; other host CPU {r.other_cpu_seconds} CPU-s"
                  + "".join(f"; {h} {f3(t.get(k))}" for k, h in DRIVER["trace_compare"] if a.trace), flush=True)
        if a.linux:
            linux[backend] = run_linux(a, backend, jobs, run_root)

    accel = "tcg"
    print()
    print(f"Sluice {DRIVER['name']} storage benchmark, accelerator TCG (-accel tcg -cpu {a.cpu} -smp {a.smp}); "
          f"{a.seconds} s per job, one boot per job")
    print(host.describe(facts))
    print(SMP_NOTE.format(smp=a.smp))
    ratios: dict[str, list[dict]] = {}
    for backend, rs in per_backend.items():
        print(f"\n### backend {backend}" + (" (1 GiB raw file, cache=none,aio=threads)" if backend == "file"
                                            else " (null-co, read-zeroes=on)"))
        print(sluice_table(rs, a.trace))
        if a.trace:
            print(TRACE_NOTE[a.driver])
            for r in rs:
                t = r.trace or {}
                if a.driver == "nvme":
                    print(f"  {r.job}: SQ {t.get('sq')} CQ {t.get('cq')} (admin SQ {t.get('sq_admin')} "
                          f"CQ {t.get('cq_admin')}), MSI-X {t.get('irq')} (+{t.get('irq_vector0')} on vector 0), "
                          f"Doorbell Buffer Config {t.get('dbbuf_config')}")
                else:
                    print(f"  {r.job}: notifications {t.get('notify')}, interrupts {t.get('irq')}, "
                          f"requests completed {t.get('req')}, blkbench I/Os {r.ios}")
        for r in rs:
            print(f"  {r.job}: QEMU {r.wall_s} s, host load {r.loadavg[0]:.2f} before, other host CPU "
                  f"{r.other_cpu_seconds} CPU-s during")
        if rs:
            print(f"QEMU command line ({rs[-1].job}; the jobs differ only in the image and run directory):")
            print(f"  {qemu.format_command(rs[-1].qemu_cmd)}")
        if a.linux:
            lj = linux_jobs(linux.get(backend), backend)
            if lj:
                lb = [b for b in (linux.get(backend) or {}).get("boots", []) if b.get("backend") == backend]
                print(f"\nLinux + fio ({backend}), one boot, jobs in a row, 2 s ramp not counted:")
                if lb:
                    run_fio.print_table(lb[0])
                    print(f"  Linux QEMU command line: {lb[0].get('qemu_cmd')}")
            table, raw = ratio_table(rs, lj, a.trace)
            ratios[backend] = raw
            print(f"\nSluice / Linux ({backend}): IOPS ratio > 1 = Sluice faster; latency ratio < 1 = Sluice lower")
            print(table)
    print(f"\naccelerator: {accel}")
    print(f"kernel command line: {sluice_cmdline(a)}")

    if a.json:
        write_result(a.json, {
            "facts": facts, "accel": accel, "seconds": a.seconds, "smp": a.smp, "cpu": a.cpu,
            "cmdline": sluice_cmdline(a), "jobs": {j: blkbench_args(j, a.seconds) for j in jobs},
            "sluice": {b: [asdict(r) for r in rs] for b, rs in per_backend.items()},
            "linux": linux if a.linux else None, "ratios": ratios, "failures": failures,
        })
        print(f"[storage] wrote {a.json}")
    if failures:
        print("\n[storage] FAILED boots:\n  " + "\n  ".join(failures), file=sys.stderr)
        print(f"[storage] run directory kept: {run_root}", file=sys.stderr)
        return 1
    if a.keep:
        print(f"[storage] run directory: {run_root}")
    remove_unless(a.keep, run_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
