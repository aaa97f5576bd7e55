"""QEMU's trace log: what the device models themselves saw, from outside
the guest.

QEMU is started with `-trace EVENT ... -D FILE` (qemu_args) and its log
backend writes one line per event, `event_name field value ...`, or
`PID@SECONDS:event_name ...` with `-msg timestamp=on`. Scenarios check
ordered markers and forbidden patterns in it (check_markers); the storage
benchmarks count NVMe doorbell writes and MSI-X interrupts (nvme_counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# What the storage benchmarks trace. pci_cfg_read delimits the Linux
# baseline's jobs: its guest reads config dword 0xfc of the NVMe function
# right before and after each fio job.
NVME_EVENTS = ["pci_nvme_mmio_doorbell_sq", "pci_nvme_mmio_doorbell_cq", "pci_nvme_irq_msix",
               "pci_nvme_dbbuf_config"]
WINDOW_EVENT = "pci_cfg_read"
EVENT_NAME_RE = re.compile(r"[a-z0-9_*]+")


def qemu_args(events: list[str], log: Path) -> list[str]:
    args: list[str] = []
    for ev in events:
        args += ["-trace", ev]
    return args + ["-D", str(log)]


def events(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(event name, its fields) for each line of a trace log."""
    with open(path, errors="replace") as f:
        for line in f:
            head = line.split(" ", 1)[0]
            if "@" in head and ":" in head:
                line = line.split(":", 1)[1]  # PID@SECONDS: prefix
            parts = line.split()
            if parts:
                yield parts[0], parts[1:]


def check_markers(text: str, markers: list[re.Pattern],
                  forbidden: list[re.Pattern]) -> tuple[str | None, str]:
    """Markers in order, then no forbidden pattern, over a trace log's text.
    (failure or None, a note saying what held)."""
    pos = 0
    for i, m in enumerate(markers):
        hit = m.search(text, pos)
        if not hit:
            return (f"trace marker #{i + 1} /{m.pattern}/ not in QEMU's trace log"
                    + (f" after trace marker #{i}" if i else "")), ""
        pos = hit.end()
    for f in forbidden:
        hit = f.search(text)
        if hit:
            line = text[text.rfind("\n", 0, hit.start()) + 1:].split("\n", 1)[0]
            return f"forbidden trace pattern /{f.pattern}/ in QEMU's trace log: {line!r}", ""
    return None, (f"{len(markers)} markers in order in QEMU's trace log"
                  + (f", none of {len(forbidden)} forbidden patterns" if forbidden else ""))


@dataclass
class Count:
    """[trace] counts: how many lines of `event` QEMU logged inside window
    `window`. Windows are the spans between consecutive lines matching the
    scenario's [trace] delimiter (e.g. the guest reading a device's config
    dword 0xfc between the phases it wants counted: QEMU traces it as
    pci_cfg_read). `window` indexes them as a Python list: -1 is the span
    between the last two delimiters, so reads of the same register at boot
    do not shift the guest's windows."""
    event: str
    window: int
    min: int
    max: int

    def describe(self) -> str:
        return f"{self.event} in window {self.window}: {self.min}..{self.max}"


def window_counts(text: str, names: set[str], delimiter: re.Pattern) -> list[dict[str, int]]:
    """Lines of each event in `names` per span between delimiter lines."""
    windows: list[dict[str, int]] = []
    current: dict[str, int] | None = None
    for line in text.splitlines():
        if delimiter.search(line):
            if current is not None:
                windows.append(current)
            current = {n: 0 for n in names}
            continue
        head = line.split(" ", 1)[0]
        if "@" in head and ":" in head:
            line = line.split(":", 1)[1]
        parts = line.split()
        if current is not None and parts and parts[0] in names:
            current[parts[0]] += 1
    return windows


def check_counts(text: str, counts: list[Count], delimiter: re.Pattern | None) -> tuple[str | None, str]:
    """Each count within its bounds. (failure or None, a note with the counts)."""
    if not counts or delimiter is None:
        return None, ""
    windows = window_counts(text, {c.event for c in counts}, delimiter)
    seen = []
    for c in counts:
        if not -len(windows) <= c.window < len(windows):
            return (f"trace count {c.describe()}: the trace log has {len(windows)} windows "
                    f"(spans between lines matching /{delimiter.pattern}/)"), ""
        n = windows[c.window][c.event]
        if not c.min <= n <= c.max:
            return f"trace count {c.describe()}: {n}", ""
        seen.append(f"{c.event}[{c.window}]={n}")
    return None, "counts " + ", ".join(seen)


def _zero() -> dict[str, int]:
    return {"sq": 0, "cq": 0, "irq": 0}


def nvme_counts(path: Path) -> dict:
    """Doorbell MMIO writes and MSI-X interrupts in an NVMe trace log.

    total: sq / cq = doorbell writes of the I/O queues (qid != 0), sq_admin /
    cq_admin those of the admin queue, irq = MSI-X interrupts on vectors
    other than 0 (the I/O queues'), irq_vector0, dbbuf_config = Doorbell
    Buffer Config commands. windows: sq / cq / irq counted the same way
    between each pair of `pci_cfg_read ... @0xfc` lines (the Linux guest's
    per-job delimiters); markers: how many such lines there were."""
    total = {"sq": 0, "cq": 0, "sq_admin": 0, "cq_admin": 0, "irq": 0, "irq_vector0": 0,
             "dbbuf_config": 0}
    windows: list[dict[str, int]] = []
    current: dict[str, int] | None = None
    markers = 0
    for ev, fields in events(path):
        key = None
        if ev in ("pci_nvme_mmio_doorbell_sq", "pci_nvme_mmio_doorbell_cq"):
            # "pci_nvme_mmio_doorbell_sq sqid 1 new_tail 5"
            kind = "sq" if ev.endswith("_sq") else "cq"
            key = kind if int(fields[1]) else f"{kind}_admin"
        elif ev == "pci_nvme_irq_msix":
            # "pci_nvme_irq_msix raising MSI-X IRQ vector 1"
            key = "irq" if int(fields[-1]) else "irq_vector0"
        elif ev == "pci_nvme_dbbuf_config":
            key = "dbbuf_config"
        elif ev == WINDOW_EVENT and "@0xfc" in fields:
            markers += 1
            if current is None:
                current = _zero()
            else:
                windows.append(current)
                current = None
        if key is None:
            continue
        total[key] += 1
        if current is not None and key in current:
            current[key] += 1
    return {"total": total, "markers": markers, "windows": windows}


def per_io(counts: dict[str, int], ios: int | None) -> dict[str, float]:
    """sq_per_io, cq_per_io, db_per_io (SQ + CQ), irq_per_io for `ios` I/Os."""
    if not ios:
        return {}
    return {"sq_per_io": counts["sq"] / ios, "cq_per_io": counts["cq"] / ios,
            "db_per_io": (counts["sq"] + counts["cq"]) / ios, "irq_per_io": counts["irq"] / ios}
