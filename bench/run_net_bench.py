#!/usr/bin/env python3
"""Network benchmark: a guest's virtio-net path measured from the host, on
QEMU's user-mode network, Sluice next to a Linux guest with its own
virtio_net in the same QEMU. The protocol: bench/README.md, "Network
benchmark protocol"; the host side is bench/net_host.py, the Linux guest's
side bench/linux_guest/netbench.c.

    run_net_bench.py [--guest linux|sluice|both] [--runs 2] [--seconds 10]
                     [--smp 1] [--accel tcg|kvm] [--jobs udp-rtt,tcp-rx,tcp-tx,udp-tx]
                     [--trace] [--json FILE] [--keep] [--build-dir build]

One boot per guest and run; the jobs run one after another over the
guest's control connection:

    udp-rtt   the guest sends --rtt-size byte datagrams to a host echo
              server (10.0.2.2:P), --window in flight, for --seconds; the
              host counts round trips per second (first to last echo)
    tcp-rx    the host connects through hostfwd and sends for --seconds; MB/s
              from its first send to the guest's acknowledgement of the last byte
    tcp-tx    the same connection the other way: the guest sends for
              --seconds; MB/s from the first byte to the end of the stream
    udp-tx    the guest sends --tx-size byte datagrams to a host sink as fast
              as it can for --seconds (--tx-batch per send call where the
              guest has one, Linux's sendmmsg); datagrams per second arrived

QEMU (harness.qemu builds the command, for both guests): -machine q35
-accel ACCEL -cpu max -smp N -m 1G, no default devices, plus

    -netdev user,id=n0,hostfwd=tcp:127.0.0.1:C-:5000,hostfwd=tcp:127.0.0.1:D-:5001
    -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56

Linux: bench/linux_guest/build_guest.py's kernel and initramfs, -append
'console=ttyS0 loglevel=5 panic=-1 guest.bench=net guest.mods=virtio-net
net.addr=dhcp', booted --runs times with all of -smp's CPUs (`linux`) and
--runs times with nr_cpus=1 (`linux-nr1`; --linux-nr-cpus picks the set):
Sluice runs on one CPU, and the better of the two is Linux at its best,
which the Sluice/Linux ratios use. -smp 2 by default, as the storage
benchmark (docs/benchmarks.md: QEMU's TCG elides barriers with one CPU). Sluice: an ISO of the kernel,
devmgr, the virtio-net provider, the netstack and the `netbench` program.

--trace adds -trace virtio_queue_notify/virtio_notify/virtio_notify_irqfd/
virtqueue_pop -msg timestamp=on -D <run>/trace.log and reports, per job
(the host-time window the job ran in), queue notifications and queue
interrupts per frame the device moved (virtqueue_pop on the receive and
transmit queues), also per direction (harness.trace.virtio_net_counts).
Tracing slows QEMU: take the speed from untraced runs.

Where the Sluice side is missing (netbench not built) the script says so
and reports no Sluice figure. A boot whose guest never answers, answers
`error`, or whose counts disagree with the host's fails (exit status 1);
nothing unmeasured is ever printed as a number. Stdlib only.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "linux_guest"))

from harness import host, images, qemu, trace  # noqa: E402
import guest_profile  # noqa: E402  (bench/guest_profile.py, beside this file)
from harness.boot import boot, new_run_root, remove_unless, write_result  # noqa: E402
from harness.network import free_tcp_port  # noqa: E402
import net_host  # noqa: E402
import run_fio  # noqa: E402  (where the Linux guest lives)

NIC = "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56"
DEFAULT_JOBS = ["udp-rtt", "tcp-rx", "tcp-tx", "udp-tx"]
LINUX_APPEND = "console=ttyS0 loglevel=5 panic=-1 guest.bench=net guest.mods=virtio-net"
SLUICE_CMDLINE = "console=com1 loglevel=info init=init"
SLUICE_MODULES = ("init", "devmgr", "virtio-net", "netstack", "netbench")
# How the manifest grants netbench the socket service: a `serve` line on
# the netstack's [process] (docs/manifest.md), the two ports the protocol
# listens on, and sockets for the two listeners, the control and data
# connections and a UDP socket at a time.
SLUICE_SOCKET_GRANT = f"serve = netbench ports={net_host.GUEST_CTRL_PORT}|{net_host.GUEST_DATA_PORT} sockets=8"
TARGETS = {"udp-rtt": 1.3, "tcp-rx": 1.0, "tcp-tx": 1.0}  # issue 14: Sluice / Linux at least
TROUBLE_RE = re.compile(r"Kernel panic|BUG:|Oops|virtio_net.*(?:error|timeout)|NETDEV WATCHDOG|"
                        r"@@ERROR@@|FAILED|PANIC")


class NotMeasured(Exception):
    """This guest cannot be measured here; the reason is printed instead of figures."""


def net_args(ctrl: int, data: int) -> list[str]:
    fwd = (f",hostfwd=tcp:127.0.0.1:{ctrl}-:{net_host.GUEST_CTRL_PORT}"
           f",hostfwd=tcp:127.0.0.1:{data}-:{net_host.GUEST_DATA_PORT}")
    return ["-netdev", f"user,id=n0{fwd}", "-device", NIC]


def make_jobs(a) -> list[net_host.Job]:
    jobs = []
    for kind in [j for j in a.jobs.split(",") if j]:
        if kind == "udp-rtt":
            jobs.append(net_host.Job(kind, a.seconds, a.rtt_size, a.window))
        elif kind == "udp-tx":
            jobs.append(net_host.Job(kind, a.seconds, a.tx_size, a.tx_batch))
        else:
            jobs.append(net_host.Job(kind, a.seconds))
    return jobs


# ---------------------------------------------------------------- guests

def linux_config(a, run_dir: Path, ctrl: int, data: int, nr_cpus: int = 0) -> qemu.QemuConfig:
    append = f"{LINUX_APPEND} net.addr={a.net_addr}"
    if nr_cpus:
        append += f" nr_cpus={nr_cpus}"
    if a.linux_append:
        append += " " + a.linux_append
    return qemu.QemuConfig(kernel=run_fio.GUEST / "bzImage", initrd=run_fio.GUEST / "initramfs.cpio.gz",
                           append=append, accel=a.accel, cpu=a.cpu, smp=a.smp, memory=a.memory, devices="none",
                           run_dir=run_dir, extra_args=net_args(ctrl, data))


def sluice_manifest() -> str:
    # The provider entry is tests/scenarios/data/netstack.manifest's.
    return f"""# Generated by bench/run_net_bench.py.
[devices pci]
[resource root]
[manifest boot]

[process devmgr]
module = devmgr
cap = pci rights=inspect|manage|wait as=devices
cap = root rights=manage as=resource
cap = boot rights=read|map as=manifest

[process netstack]
module = netstack
{SLUICE_SOCKET_GRANT}

[process netbench]
module = netbench
args = "serve ctrl={net_host.GUEST_CTRL_PORT} data={net_host.GUEST_DATA_PORT}"

[provider vnet0]
module = virtio-net
match = VirtioNet
bar = 4 mode=filtered
vectors = 3
dma_pool = 1M
serve = netstack
"""


def sluice_config(a, run_dir: Path, ctrl: int, data: int, _nr_cpus: int = 0) -> qemu.QemuConfig:
    build = Path(a.build_dir)
    missing = [m for m in SLUICE_MODULES if not (build / "user" / m).is_file()]
    if "netbench" in missing:
        raise NotMeasured(f"Sluice's netbench program ({build}/user/netbench) does not exist: it is not built "
                          "(make bench-net builds it)")
    kernel = build / "kernel" / "sluice-kernel"
    if missing or not kernel.is_file():
        raise NotMeasured(f"not built: {', '.join(missing + ([] if kernel.is_file() else [str(kernel)]))} "
                          f"(make bench-net builds them)")
    man = run_dir / "net.manifest"
    man.write_text(sluice_manifest())
    iso = run_dir / "net.iso"
    cmdline = SLUICE_CMDLINE + (f" profile={a.profile}" if a.profile else "")
    images.build_image("iso", kernel, cmdline, [(m, build / "user" / m) for m in SLUICE_MODULES]
                       + [("manifest", man)], iso, cache_dir=build / "image-cache")
    return qemu.QemuConfig(image=iso, image_format="iso", accel=a.accel, cpu=a.cpu, smp=a.smp, memory=a.memory,
                           devices="none", disk_dir=run_dir, run_dir=run_dir, extra_args=net_args(ctrl, data))


GUESTS = {"linux": linux_config, "sluice": sluice_config}


def variants(a) -> list[tuple[str, str, int]]:
    """(label, guest, nr_cpus) in the order they run: Sluice, then Linux
    once per --linux-nr-cpus entry (0: every CPU -smp gives)."""
    out = [("sluice", "sluice", 0)] if a.guest in ("sluice", "both") else []
    if a.guest in ("linux", "both"):
        for n in sorted({int(x) for x in a.linux_nr_cpus.split(",") if x.strip()}):
            out.append(("linux" if n == 0 else f"linux-nr{n}", "linux", n))
    return out


# ---------------------------------------------------------------- one boot

def run_boot(a, label: str, guest: str, nr_cpus: int, run: int, run_dir: Path, jobs: list[net_host.Job]) -> dict:
    """Boot `guest`, run every job from the host, stop. The boot's record:
    jobs (host figures, guest views, trace counts), the QEMU command line and
    accelerator, the host noise; `error` says what went wrong, if anything."""
    run_dir.mkdir(parents=True, exist_ok=True)
    ctrl, data = free_tcp_port(), free_tcp_port()
    cfg = GUESTS[guest](a, run_dir, ctrl, data, nr_cpus)
    trace_file = run_dir / "trace.log"
    if a.trace:
        trace_file.unlink(missing_ok=True)
        cfg.trace_events, cfg.trace_log = trace.VIRTIO_NET_EVENTS, trace_file
        cfg.extra_args = cfg.extra_args + trace.TIMESTAMP_ARGS
    limit = a.timeout or a.boot_timeout + len(jobs) * (a.seconds + net_host.ANSWER_GRACE_S)
    stop = threading.Event()
    box: dict = {}
    # Sluice does not power off after `quit` (init keeps serving): stop it
    # once netbench has exited, and its profile, if any, is printed.
    until = None
    if guest == "sluice":
        until = re.compile(r"profile: end" if a.profile else r"proc: pid \d+ 'netbench' exited")
    th = threading.Thread(target=lambda: box.update(b=boot(cfg, run_dir, limit, until=until, stop=stop, settle=0.5)),
                          daemon=True)
    rec: dict = {"guest": label, "run": run, "nr_cpus": nr_cpus or None, "accel": a.accel, "smp": a.smp, "cpu": a.cpu, "jobs": [],
                 "run_dir": str(run_dir)}
    print(f"\n=== {label} run {run}: {', '.join(j.name for j in jobs)} ({a.seconds} s each; limit {limit:.0f} s)",
          flush=True)
    th.start()
    h = net_host.Host(ctrl, data)
    try:
        rec["guest_impl"] = h.connect(a.boot_timeout, alive=th.is_alive)
        print(f"[net] {label} answered on its control port ({rec['guest_impl']})", flush=True)
        for j in jobs:
            r = h.run(j)
            rec["jobs"].append(r)
            print(f"  {j.name}: {r['figure']:,.1f} {r['unit']}  (guest: "
                  + " ".join(f"{k}={v:g}" for k, v in r["guest"].items()) + ")", flush=True)
        h.quit()
    except (net_host.ProtocolError, OSError) as e:
        rec["error"] = f"{type(e).__name__}: {e}"
        print(f"!! {label} run {run}: {rec['error']}", flush=True)
    if "error" not in rec:
        th.join(30)      # the Linux guest powers off after `quit`, Sluice stops at netbench's exit
    stop.set()
    th.join(60)
    b = box.get("b")
    if b is None:
        rec.setdefault("error", "QEMU did not stop")
        return rec
    rec.update({"qemu_cmd": shlex.join(b.cmd), "qemu_rc": "timeout" if b.timed_out else b.rc, **b.noise,
                "qemu_output": b.qemu_output})
    rec["trouble"] = [ln.strip() for ln in b.text.splitlines() if TROUBLE_RE.search(ln)][:20]
    m = re.search(r"@@NET-UP@@ (.*)", b.text)
    if m:
        rec["net_up"] = m.group(1).strip()
    if rec["trouble"] and "error" not in rec:
        rec["error"] = "trouble on the serial log: " + " | ".join(rec["trouble"][:5])
    if a.profile and guest == "sluice":
        dumps = guest_profile.parse(b.text)
        rec["profile"] = dumps
        for d in dumps:
            print(guest_profile.report(d, Path(a.build_dir), 30), flush=True)
        if not dumps:
            print(f"!! {label} run {run}: no profile on the serial log (did netbench exit?)", flush=True)
    if a.trace and trace_file.exists() and rec["jobs"]:
        counts = trace.virtio_net_counts(trace_file, [(j["window_t0"], j["window_t1"]) for j in rec["jobs"]])
        rec["trace_total"] = counts["total"]
        for j, w in zip(rec["jobs"], counts["windows"]):
            j["trace"] = {**w, **trace.per_frame(w)}
    return rec


# ---------------------------------------------------------------- output

def fnum(v, spec: str = ",.1f") -> str:
    return "-" if v is None else format(v, spec)


def guest_view(r: dict) -> str:
    g = r["guest"]
    if r["kind"] == "udp-rtt":
        return f"p50 {fnum(g.get('rtt_p50_us'))} µs, p99 {fnum(g.get('rtt_p99_us'))} µs, lost {g.get('lost', 0):.0f}"
    if r["kind"] == "udp-tx":
        return (f"sent {g['sent'] / g['secs']:,.0f}/s, {100 * r['delivered']:.1f}% arrived"
                if g.get("secs") else "-")
    return f"{g['bytes'] / g['secs'] / 1e6:,.1f} MB/s by its clock" if g.get("secs") else "-"


def print_boot(rec: dict) -> None:
    print(f"| job | host figure | guest's view | notif/frame | irq/frame | tx notif/tx frame | rx irq/rx frame |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for r in rec["jobs"]:
        t = r.get("trace", {})
        print(f"| {r['job']} | {r['figure']:,.1f} {r['unit']} | {guest_view(r)} | {fnum(t.get('notify_per_frame'), '.3f')} | "
              f"{fnum(t.get('irq_per_frame'), '.3f')} | {fnum(t.get('tx_notify_per_tx_frame'), '.3f')} | "
              f"{fnum(t.get('rx_irq_per_rx_frame'), '.3f')} |")
    if rec.get("net_up"):
        print(f"guest network: {rec['net_up']}")
    if "qemu_cmd" in rec:
        print(f"boot: qemu rc={rec['qemu_rc']} wall {rec.get('wall_s', 0):.0f} s (qemu CPU {rec.get('qemu_cpu_s')} s, "
              f"load {rec.get('loadavg')})")
        print(f"accelerator: {rec['accel']} (-smp {rec['smp']}, -cpu {rec['cpu']})")
        print(f"qemu: {rec['qemu_cmd']}", flush=True)


def summary(labels: list[str], boots: list[dict], not_measured: dict[str, str], jobs: list[net_host.Job]) -> None:
    """Every run's host figure per guest; Sluice/Linux from each side's best
    run, Linux's best over all its configurations (Linux at its best)."""
    print("\n=== summary (host figures; every run)")
    best: dict[tuple[str, str], float] = {}
    for g in labels:
        if g in not_measured:
            print(f"{g}: NOT MEASURED: {not_measured[g]}")
            continue
        for j in jobs:
            # A failed boot (an error, trouble on its serial log) is no figure.
            vals = [r["figure"] for b in boots if b["guest"] == g and "error" not in b
                    for r in b["jobs"] if r["job"] == j.name]
            unit = next((r["unit"] for b in boots for r in b["jobs"] if r["job"] == j.name), "")
            if vals:
                side = "linux" if g.startswith("linux") else g
                best[(side, j.name)] = max(best.get((side, j.name), 0.0), *vals)
            print(f"{g} {j.name}: " + (", ".join(f"{v:,.1f}" for v in vals) + f" {unit}" if vals else "no figure"))
    for j in jobs:
        if ("sluice", j.name) in best and ("linux", j.name) in best:
            ratio = best[("sluice", j.name)] / best[("linux", j.name)]
            target = TARGETS.get(j.kind)
            print(f"Sluice/Linux {j.name} (best runs): {ratio:.2f}x"
                  + (f" (target >= {target}x: {'met' if ratio >= target else 'NOT met'})" if target else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--guest", choices=["linux", "sluice", "both"], default="both")
    ap.add_argument("--runs", type=int, default=2, help="boots per guest (default 2)")
    ap.add_argument("--seconds", type=int, default=10, help="seconds per job (default 10)")
    ap.add_argument("--jobs", default=",".join(DEFAULT_JOBS), help=f"comma list of {', '.join(net_host.KINDS)}")
    ap.add_argument("--rtt-size", type=int, default=64, help="udp-rtt datagram payload bytes (default 64)")
    ap.add_argument("--window", type=int, default=1, help="udp-rtt datagrams in flight (default 1)")
    ap.add_argument("--tx-size", type=int, default=64, help="udp-tx datagram payload bytes (default 64)")
    ap.add_argument("--tx-batch", type=int, default=32, help="udp-tx datagrams per send call (default 32)")
    ap.add_argument("--accel", choices=["tcg", "kvm"], default="tcg")
    ap.add_argument("--smp", type=int, default=2, help="QEMU -smp for both guests (default 2)")
    ap.add_argument("--cpu", default="max")
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--linux-nr-cpus", default="0,1", help="Linux configurations: comma list of nr_cpus= "
                    "values, 0 = every CPU of -smp (default 0,1: both, --runs boots each)")
    ap.add_argument("--linux-append", default="", help="extra Linux kernel command line")
    ap.add_argument("--net-addr", choices=["dhcp", "static"], default="dhcp", help="how the Linux guest gets its address")
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--no-build", action="store_true", help="do not run build_guest.py first")
    ap.add_argument("--trace", action="store_true", help="count notifications and interrupts per frame")
    ap.add_argument("--profile", type=int, default=0, metavar="HZ",
                    help="sample Sluice's CPU at HZ (kernel profile=HZ) and print where its time went "
                         "(bench/guest_profile.py); it slows the guest: take the speed from runs without it")
    ap.add_argument("--boot-timeout", type=float, default=180, help="s until the guest's hello (default 180)")
    ap.add_argument("--timeout", type=float, default=0, help="per-boot limit, s (default: boot + jobs)")
    ap.add_argument("--json", type=Path, default=None, help="write raw results here")
    ap.add_argument("--keep", action="store_true", help="keep <build>/bench-runs/<stamp>.net.* on success")
    a = ap.parse_args()

    try:
        jobs = make_jobs(a)
    except ValueError as e:
        ap.error(str(e))
    todo = variants(a)
    if any(g == "linux" for _, g, _ in todo) and not a.no_build:
        subprocess.run([sys.executable, str(HERE / "linux_guest" / "build_guest.py")], check=True)
    run_root = new_run_root(Path(a.build_dir).resolve(), "net")
    facts = host.facts()
    print(f"[net] {host.describe(facts)}", flush=True)
    boots: list[dict] = []
    not_measured: dict[str, str] = {}
    failures = 0
    for label, g, nr in todo:
        for run in range(1, a.runs + 1):
            try:
                rec = run_boot(a, label, g, nr, run, run_root / f"{label}-run{run}", jobs)
            except NotMeasured as e:
                not_measured[label] = str(e)
                print(f"\n=== {label}: NOT MEASURED: {e}", flush=True)
                break
            except qemu.QemuError as e:
                print(f"!! {e}", flush=True)
                return 1
            boots.append(rec)
            print_boot(rec)
            if "error" in rec or len(rec["jobs"]) != len(jobs):
                failures += 1
                print(f"!! {label} run {run} failed: {rec.get('error', 'jobs missing')}; logs in {rec['run_dir']}")
    summary([lb for lb, _, _ in todo], boots, not_measured, jobs)
    if a.json:
        write_result(a.json, {"facts": facts, "args": {k: str(v) for k, v in vars(a).items()},
                              "protocol": net_host.PROTOCOL_VERSION, "boots": boots, "not_measured": not_measured})
        print(f"[net] wrote {a.json}")
    # A guest that was not measured fails the run, "both" included: make
    # bench-net must not pass on Linux's figures alone.
    if failures or not_measured:
        print(f"[net] logs in {run_root}")
        return 1
    remove_unless(a.keep, run_root)
    if a.keep:
        print(f"[net] logs in {run_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
