#!/usr/bin/env python3
"""Boot the Linux baseline guest (build_guest.py) under QEMU and run fio
against QEMU's emulated NVMe; print a table per boot plus the exact QEMU
command line. Stdlib only.

  python3 bench/linux_guest/run_fio.py                       # null-co and raw file, 20 s/job
  python3 bench/linux_guest/run_fio.py --backend null --runtime 10 --trace
  python3 bench/linux_guest/run_fio.py --backend file --runs 2 --json out.json
  python3 bench/linux_guest/run_fio.py --jobs randread-4k-qd32 --runs 6 --boot-per-job   # stall hunt
  python3 bench/linux_guest/run_fio.py --parse RUN_DIR/boot1/serial.log [--trace-file ...]

Each boot runs all --jobs one after another (unless --boot-per-job). fio:
ioengine libaio (--engine io_uring possible), direct=1, time_based, the
whole 1 GiB namespace, ramp_time --ramp s (not counted by fio). Latency
columns are fio's total latency (lat_ns = submission + completion).

--trace adds -trace pci_nvme_mmio_doorbell_sq/_cq (+ irq_msix, dbbuf_config,
pci_cfg_read) -D <file>. The guest reads config dword 0xfc of the NVMe
function right before and after each fio job; those two pci_cfg_read lines
delimit the job in the trace. Doorbell MMIO writes per I/O = doorbell lines
inside the job's window / I/Os the block layer completed in that window
(/sys/block/<dev>/stat delta, includes ramp_time), and also / fio's own
completed I/O count (excludes ramp).
With --disk virtio it traces harness.trace.VIRTIO_BLK_EVENTS instead:
queue notifications, queue interrupts QEMU raised and requests the device
completed, per job window and per block-layer I/O the same way.

The machine is harness.qemu's (the one Sluice boots on, booted with
-kernel/-initrd/-append instead of an image); the run, the trace counts and
the host facts are the harness's too (scripts/harness/).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "scripts"))

from harness import host, images, qemu, trace  # noqa: E402
from harness.boot import boot, write_result  # noqa: E402
from harness.serial import clean_text  # noqa: E402

CACHE = HERE / ".cache"
GUEST = CACHE / "guest"
DEFAULT_JOBS = ["randread-4k-qd1", "randread-4k-qd32", "randwrite-4k-qd1", "seqread-128k-qd8"]
# --disk -> (QEMU trace events, their counter); the window event is added.
TRACE = {"nvme": (trace.NVME_EVENTS, trace.nvme_counts), "virtio": (trace.VIRTIO_BLK_EVENTS, trace.virtio_blk_counts)}
STALL_RES = {
    "timeout": re.compile(r"nvme nvme\d+: I/O \d+ (?:\(.*?\) )?QID \d+ timeout"),
    "abort": re.compile(r"nvme nvme\d+: Abort status"),
    "reset": re.compile(r"nvme nvme\d+: (?:resetting controller|.*reset controller|controller is down)", re.I),
    "io_error": re.compile(r"I/O error|Buffer I/O error|blk_update_request", re.I),
    "hung_task": re.compile(r"blocked for more than \d+ seconds"),
}


# ---------------------------------------------------------------- setup

def qemu_config(a, backend: str, jobs: list[str], trace_file: Path | None) -> qemu.QemuConfig:
    append = ["console=ttyS0", f"loglevel={a.loglevel}", "panic=-1",
              f"fio.jobs={','.join(jobs)}", f"fio.runtime={a.runtime}", f"fio.ramp={a.ramp}",
              f"fio.engine={a.engine}", f"fio.repeat={a.repeat}",
              f"guest.mods={a.mods or ('nvme' if a.disk == 'nvme' else 'virtio')}"]
    if a.sched:
        append.append(f"blk.sched={a.sched}")
    if a.append:
        append += shlex.split(a.append)
    if backend == "null":
        drive = ["-drive", "driver=null-co,size=1G,read-zeroes=on,if=none,id=d0"]
    else:
        drive = ["-drive", f"file={a.image},if=none,id=d0,format=raw,cache={a.cache},aio={a.aio}"]
    if a.disk == "nvme":
        dev = "nvme,serial=lgnvme0,id=nvme0,drive=d0"
        if a.nvme_opts:
            dev += "," + a.nvme_opts
    else:
        dev = "virtio-blk-pci,drive=d0,id=vblk0"
    return qemu.QemuConfig(kernel=GUEST / "bzImage", initrd=GUEST / "initramfs.cpio.gz", append=" ".join(append),
                           accel="tcg", accel_opts=a.accel_opts, cpu=a.cpu, smp=a.smp, memory=a.memory,
                           devices="none", extra_args=drive + ["-device", dev],
                           trace_events=TRACE[a.disk][0] + [trace.WINDOW_EVENT] if trace_file else [],
                           trace_log=trace_file)


# ---------------------------------------------------------------- parsing

def parse_serial(text: str) -> dict:
    out: dict = {"jobs": [], "errors": [], "done": "@@GUEST-DONE@@" in text}
    stats: dict = {}
    for m in re.finditer(r"@@STAT-(BEFORE|AFTER) (\S+) (\d+)@@\s+([\d ]+)", text):
        stats[(m.group(2), int(m.group(3)), m.group(1))] = [int(x) for x in m.group(4).split()]
    for m in re.finditer(r"@@FIO-BEGIN (\S+) (\d+)@@ t0=(\S+) t1=(\S+)\n(.*?)@@FIO-END \1 \2 rc=(\d+)@@", text, re.S):
        name, it = m.group(1), int(m.group(2))
        body = "\n".join(l for l in m.group(5).splitlines() if not re.match(r"\s*\[\s*\d+\.\d+\]", l))
        rec = {"job": name, "iteration": it, "rc": int(m.group(6)),
               "guest_t0": float(m.group(3)), "guest_t1": float(m.group(4))}
        try:
            j = json.loads(body[body.index("{"):])
            job = j["jobs"][0]
            d = job["write"] if job["write"]["io_bytes"] > job["read"]["io_bytes"] else job["read"]
            pct = d.get("lat_ns", {}).get("percentile", {})

            def p(k: str):
                return pct.get(k, 0) / 1000.0 if pct else None
            rec.update({
                "iops": d["iops"], "MBps": d["bw_bytes"] / 1e6, "total_ios": d["total_ios"],
                "lat_mean_us": d["lat_ns"]["mean"] / 1000.0, "lat_p50_us": p("50.000000"),
                "lat_p99_us": p("99.000000"), "lat_p99_9_us": p("99.900000"),
                "lat_max_us": d["lat_ns"]["max"] / 1000.0,
                "error": job.get("error", 0), "fio_version": j.get("fio version"),
                "runtime_ms": d.get("runtime"),
                "usr_cpu": job.get("usr_cpu"), "sys_cpu": job.get("sys_cpu"),
            })
        except (ValueError, KeyError, IndexError) as e:
            rec["parse_error"] = f"{type(e).__name__}: {e}"
        b, a_ = stats.get((name, it, "BEFORE")), stats.get((name, it, "AFTER"))
        if b and a_:
            rec["blk_ios"] = (a_[0] - b[0]) + (a_[4] - b[4])
        out["jobs"].append(rec)
    dm = re.search(r"@@DMESG-BEGIN@@\n(.*?)@@DMESG-END@@", text, re.S)
    klog = dm.group(1) if dm else text
    out["dmesg_complete"] = bool(dm)
    out["stall"] = {k: len(r.findall(klog)) for k, r in STALL_RES.items()}
    out["stall_lines"] = [l.strip() for l in klog.splitlines()
                          if any(r.search(l) for r in STALL_RES.values())][:40]
    out["nvme_lines"] = [l.strip() for l in klog.splitlines() if "nvme" in l][:40]
    for m in re.finditer(r"@@ERROR@@ (.*)", text):
        out["errors"].append(m.group(1))
    m = re.search(r"@@GUEST-UP@@ kernel=(\S+) cpus=(\d+) uptime=(\S+)", text)
    if m:
        out["kernel"], out["guest_cpus"], out["boot_to_init_s"] = m.group(1), int(m.group(2)), float(m.group(3))
    m = re.search(r"@@QUEUE@@ (.*)", text)
    if m:
        out["queue"] = m.group(1).strip()
    m = re.search(r"@@INTERRUPTS-BEGIN@@\n(.*?)@@INTERRUPTS-END@@", text, re.S)
    if m:
        out["interrupts"] = m.group(1).strip().splitlines()
    return out


def parse_trace(path: Path, jobs: list[dict], disk: str = "nvme") -> dict:
    """Trace counts per job window (between the guest's pci_cfg_read @0xfc
    markers): NVMe doorbells and MSI-X, or virtio-blk notifications,
    interrupts and device requests."""
    counts = TRACE[disk][1](path)
    res = {"total": counts["total"], "markers": counts["markers"], "windows": []}
    for rec, w in zip(jobs, counts["windows"]):
        r = dict(w)
        r["job"], r["iteration"] = rec["job"], rec["iteration"]
        if rec.get("blk_ios"):
            r["blk_ios"] = rec["blk_ios"]
            r.update(trace.per_io(w, rec["blk_ios"]))
        if rec.get("total_ios"):
            if "sq" in w:
                r["db_per_fio_io"] = (w["sq"] + w["cq"]) / rec["total_ios"]
            else:
                r["notify_per_fio_io"] = w["notify"] / rec["total_ios"]
        res["windows"].append(r)
    return res


# ---------------------------------------------------------------- output

def fmt(v, spec=",.0f") -> str:
    return "-" if v is None else format(v, spec)


def print_table(res: dict) -> None:
    print(f"| job | IOPS | MB/s | lat mean µs | p50 µs | p99 µs | p99.9 µs | max µs | fio I/Os | rc |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for j in res["jobs"]:
        if "parse_error" in j:
            print(f"| {j['job']} | parse error: {j['parse_error']} |")
            continue
        print(f"| {j['job']} | {fmt(j['iops'])} | {fmt(j['MBps'], '.1f')} | {fmt(j['lat_mean_us'], '.1f')} | "
              f"{fmt(j['lat_p50_us'], '.1f')} | {fmt(j['lat_p99_us'], '.1f')} | {fmt(j['lat_p99_9_us'], '.1f')} | "
              f"{fmt(j['lat_max_us'], ',.0f')} | {j['total_ios']} | {j['rc']}/{j['error']} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["null", "file", "both"], default="both")
    ap.add_argument("--jobs", default=",".join(DEFAULT_JOBS), help="comma list of job names (build_guest.JOBS)")
    ap.add_argument("--runtime", type=int, default=20, help="seconds per fio job (default 20)")
    ap.add_argument("--ramp", type=int, default=2, help="fio ramp_time seconds (default 2)")
    ap.add_argument("--runs", type=int, default=1, help="boots per backend")
    ap.add_argument("--repeat", type=int, default=1, help="run the job list N times inside one boot")
    ap.add_argument("--boot-per-job", action="store_true", help="boot once per job instead of once per job list")
    ap.add_argument("--engine", default="libaio", help="fio ioengine (libaio | io_uring)")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--cpu", default="max", help="-cpu model (default max, like scripts/qemu.py under TCG)")
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--accel-opts", default="", help="extra -accel tcg options, e.g. thread=single")
    ap.add_argument("--nvme-opts", default="", help="extra -device nvme properties, e.g. ioeventfd=on")
    ap.add_argument("--disk", choices=["nvme", "virtio"], default="nvme", help="virtio = virtio-blk-pci control")
    ap.add_argument("--mods", default="", help="guest module set: nvme (default) | nvme-nodbbuf (shadow "
                    "doorbells disabled by a patched nvme.ko) | virtio")
    ap.add_argument("--sched", default="", help="guest I/O scheduler for the disk: none | mq-deadline "
                    "(default: kernel's choice: mq-deadline with -smp 1, none with -smp 2)")
    ap.add_argument("--image", type=Path, default=CACHE / "nvme-1g.img")
    ap.add_argument("--cache", default="none", help="-drive cache= for the file backend (default none)")
    ap.add_argument("--aio", default="threads", help="-drive aio= for the file backend (default threads)")
    ap.add_argument("--append", default="", help="extra kernel command line")
    ap.add_argument("--loglevel", type=int, default=5, help="guest console loglevel (5: warnings reach serial)")
    ap.add_argument("--trace", action="store_true", help="count doorbell MMIO writes per I/O")
    ap.add_argument("--timeout", type=int, default=0, help="per-boot limit, s (default: jobs*(runtime+ramp+10)+240)")
    ap.add_argument("--out-dir", type=Path, default=None, help="keep logs here (default .cache/runs/<stamp>)")
    ap.add_argument("--json", type=Path, default=None, help="write raw results here")
    ap.add_argument("--no-build", action="store_true", help="do not run build_guest.py first")
    ap.add_argument("--parse", type=Path, default=None, help="only parse a serial log")
    ap.add_argument("--trace-file", type=Path, default=None, help="with --parse: trace log to count")
    a = ap.parse_args()

    if a.parse:
        res = parse_serial(clean_text(a.parse.read_bytes()))
        if a.trace_file:
            res["trace"] = parse_trace(a.trace_file, res["jobs"], a.disk)
        print_table(res)
        print(json.dumps({k: v for k, v in res.items() if k != "jobs"}, indent=1))
        return 0

    if not a.no_build:
        subprocess.run([sys.executable, str(HERE / "build_guest.py")], check=True)
    jobs = [j for j in a.jobs.split(",") if j]
    backends = ["null", "file"] if a.backend == "both" else [a.backend]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = a.out_dir or (CACHE / "runs" / stamp)
    out_dir.mkdir(parents=True, exist_ok=True)
    facts = host.facts()
    if "file" in backends:
        images.ensure_filled(a.image, say=lambda m: print(f"[run_fio] {m}", flush=True))
        facts.update(host.image_facts(a.image))
        print(f"[run_fio] image {a.image} on {facts['image_fs']}: O_DIRECT {facts['odirect_check']}", flush=True)
    print(f"[run_fio] {facts['qemu']}; host CPU {facts['host_cpu']}; load {facts['loadavg_before']}")

    groups = [[j] for j in jobs] if a.boot_per_job else [jobs]
    all_results = {"facts": facts, "args": {k: str(v) for k, v in vars(a).items()}, "boots": []}
    failures = 0
    for backend in backends:
        for run in range(1, a.runs + 1):
            for gi, group in enumerate(groups):
                tag = f"{backend}-run{run}" + (f"-{group[0]}" if a.boot_per_job else "")
                bdir = out_dir / tag
                bdir.mkdir(parents=True, exist_ok=True)
                trace_file = bdir / "trace.log" if a.trace else None
                if trace_file:
                    trace_file.unlink(missing_ok=True)
                limit = a.timeout or len(group) * a.repeat * (a.runtime + a.ramp + 10) + 240
                print(f"\n=== {tag}: {' '.join(group)} (limit {limit} s)", flush=True)
                b = boot(qemu_config(a, backend, group, trace_file), bdir, limit)
                rc, cmd, text, serial = "timeout" if b.timed_out else b.rc, b.cmd, b.text, b.serial_path
                res = parse_serial(text)
                # host.Meter: wall_s, loadavg, qemu_cpu_s, other_cpu_seconds (the Sluice boots' keys)
                res.update({"backend": backend, "run": run, "tag": tag, "qemu_rc": rc, **b.noise,
                            "qemu_cmd": shlex.join(cmd), "qemu_output": b.qemu_output, "serial": str(serial)})
                if trace_file and trace_file.exists():
                    res["trace"] = parse_trace(trace_file, res["jobs"], a.disk)
                all_results["boots"].append(res)
                print_table(res)
                st = res["stall"]
                print(f"boot: qemu rc={rc} wall {res['wall_s']:.0f} s (qemu CPU {res['qemu_cpu_s']} s), guest init at "
                      f"{res.get('boot_to_init_s')} s, {res.get('queue', '')}; "
                      f"stall evidence: {st['timeout']} I/O timeouts, {st['abort']} aborts, {st['reset']} resets, "
                      f"{st['io_error']} I/O errors{'' if res['dmesg_complete'] else ' (no dmesg dump: guest did not finish)'}")
                for l in res["stall_lines"][:12]:
                    print("   ", l)
                if "trace" in res:
                    t = res["trace"]
                    print(f"trace totals: {t['total']} (markers {t['markers']})")
                    for w in t["windows"]:
                        if "notify" in w:
                            print(f"  {w['job']}: notifications {w['notify']}, interrupts {w['irq']}, device "
                                  f"requests {w['req']}, block-layer I/Os {w.get('blk_ios')}: notifications/IO "
                                  f"{fmt(w.get('notify_per_io'), '.3f')} (per fio-counted I/O "
                                  f"{fmt(w.get('notify_per_fio_io'), '.3f')}), interrupts/IO "
                                  f"{fmt(w.get('irq_per_io'), '.3f')}, device requests/IO "
                                  f"{fmt(w.get('req_per_io'), '.3f')}")
                            continue
                        print(f"  {w['job']}: SQ doorbells {w['sq']}, CQ doorbells {w['cq']}, MSI-X {w['irq']}, "
                              f"block-layer I/Os {w.get('blk_ios')}: SQ/IO {fmt(w.get('sq_per_io'), '.3f')}, "
                              f"CQ/IO {fmt(w.get('cq_per_io'), '.3f')}, doorbells/IO {fmt(w.get('db_per_io'), '.3f')} "
                              f"(per fio-counted I/O {fmt(w.get('db_per_fio_io'), '.3f')}), "
                              f"MSI-X/IO {fmt(w.get('irq_per_io'), '.3f')}")
                bad = rc != 0 or not res["done"] or res["errors"] or any(j.get("rc") or "parse_error" in j for j in res["jobs"]) \
                    or len(res["jobs"]) != len(group) * a.repeat
                if bad:
                    failures += 1
                    print(f"!! boot {tag} incomplete or failed (errors {res['errors']}); serial log {serial}")
                    print("\n".join(text.splitlines()[-15:]))
                print(f"accelerator: TCG ({'-accel ' + cmd[cmd.index('-accel') + 1]}, -cpu {a.cpu}, -smp {a.smp})")
                print(f"qemu: {shlex.join(cmd)}", flush=True)

    # summary of stall evidence across boots
    print("\n=== summary")
    for b in all_results["boots"]:
        s = b["stall"]
        jl = ", ".join(f"{j['job']} {fmt(j.get('iops'))} IOPS" for j in b["jobs"])
        print(f"{b['tag']}: {jl}; timeouts {s['timeout']} resets {s['reset']} aborts {s['abort']} "
              f"done={b['done']} wall {b['wall_s']} s")
    if a.json:
        write_result(a.json, all_results)
        print(f"[run_fio] wrote {a.json}")
    print(f"[run_fio] logs in {out_dir}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
