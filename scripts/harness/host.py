"""Host facts and host noise: what every benchmark result records about
the machine it ran on, with one set of keys for Sluice and Linux alike.

facts():  date, qemu, host, host_cpu, host_cpus, host_kernel, loadavg_before
image_facts(path):  image, image_fs, odirect_check (a file-backed disk)
Meter:  per boot, wall_s, loadavg (before), qemu_cpu_s (CPU time of the
        QEMU that ran) and other_cpu_seconds (host CPU time used by
        everything else meanwhile: the noise indicator; QEMU TCG is one busy
        host thread, anything competing for the host's CPUs shows here)

Result files written before these keys were shared (bench/results/ up to
2026-11-26) recorded the Linux baseline's facts as qemu_version and
loadavg_before as strings; normalize_facts reads both.
"""

from __future__ import annotations

import datetime
import mmap
import os
import platform
import re
import resource
import subprocess
import time
from pathlib import Path

from .qemu import QEMU_BINARY

FACT_KEYS = ("date", "qemu", "host", "host_cpu", "host_cpus", "host_kernel", "loadavg_before")


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.strip().splitlines()[0] if out.strip() else "?"


def cpu_model() -> str:
    """lscpu's model name (inside a VM, whatever the hypervisor shows)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        if m:
            return m.group(1).strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def facts() -> dict:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "qemu": _first_line([QEMU_BINARY, "--version"]),
        "host": platform.node(),
        "host_cpu": cpu_model(),
        "host_cpus": str(os.cpu_count()),
        "host_kernel": platform.release(),
        "loadavg_before": list(os.getloadavg()),
    }


def describe(f: dict) -> str:
    """One line for a result's header."""
    return (f"date {f.get('date', '?')}; {f.get('qemu', '?')}; host CPU {f.get('host_cpu', '?')} "
            f"({f.get('host_cpus', '?')} CPUs, Linux {f.get('host_kernel', '?')})")


def normalize_facts(f: dict) -> dict:
    """Facts from any result file, old or new, with today's keys."""
    out = dict(f)
    if "qemu_version" in out:
        out.setdefault("qemu", out.pop("qemu_version"))
    if "loadavg_before" in out:
        out["loadavg_before"] = [float(x) for x in out["loadavg_before"]]
    return out


def fs_type(path: Path) -> str:
    try:
        r = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
        return r.stdout.strip() or "?"
    except OSError:
        return "?"


def check_odirect(path: Path) -> str:
    """Whether the host file can be read with O_DIRECT (cache=none needs it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError as e:
        return f"O_DIRECT open refused: {e}"
    try:
        buf = mmap.mmap(-1, 4096)
        n = os.preadv(fd, [buf], 0)
        return f"ok (O_DIRECT 4 KiB read returned {n})"
    except OSError as e:
        return f"O_DIRECT read failed: {e}"
    finally:
        os.close(fd)


def image_facts(path: Path) -> dict:
    return {"image": str(path), "image_fs": fs_type(path), "odirect_check": check_odirect(path)}


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


class Meter:
    """The host noise around one boot: start() just before QEMU starts,
    stop() once it has exited (and been waited for)."""

    def start(self) -> "Meter":
        self.loadavg = list(os.getloadavg())
        self._busy, self._child, self._t = host_busy_seconds(), children_cpu_seconds(), time.monotonic()
        return self

    def stop(self) -> dict:
        wall = time.monotonic() - self._t
        busy, child = host_busy_seconds(), children_cpu_seconds()
        qemu_cpu = child - self._child
        other = None
        if self._busy is not None and busy is not None:
            other = round(max(0.0, (busy - self._busy) - qemu_cpu), 1)
        return {"wall_s": round(wall, 1), "loadavg": self.loadavg, "qemu_cpu_s": round(qemu_cpu, 1),
                "other_cpu_seconds": other}
