"""QEMU's trace log: what the device models themselves saw, from outside
the guest.

QEMU is started with `-trace EVENT ... -D FILE` (qemu_args) and its log
backend writes one line per event, `event_name field value ...`, or
`PID@SECONDS:event_name ...` with `-msg timestamp=on`. Scenarios check
ordered markers and forbidden patterns in it (check_markers); the storage
benchmarks count NVMe doorbell writes and MSI-X interrupts (nvme_counts)
and virtio-blk notifications and interrupts (virtio_blk_counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# What the storage benchmarks trace for NVMe (VIRTIO_BLK_EVENTS below for
# virtio-blk). pci_cfg_read delimits the Linux baseline's jobs: its guest
# reads config dword 0xfc of the disk's PCI function right before and after
# each fio job.
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


def _bench_counts(path: Path, classify, total_keys: tuple[str, ...], window_keys: tuple[str, ...]) -> dict:
    """The storage benchmarks' counts: classify(event, fields) names the
    total_keys entry a line counts for (or None). total: every line so
    named; windows: window_keys counted between each pair of `pci_cfg_read
    ... @0xfc` lines (the Linux guest's per-job delimiters: it reads that
    dword right before and right after each fio job); markers: how many such
    lines there were."""
    total = {k: 0 for k in total_keys}
    windows: list[dict[str, int]] = []
    current: dict[str, int] | None = None
    markers = 0
    for ev, fields in events(path):
        if ev == WINDOW_EVENT and "@0xfc" in fields:
            markers += 1
            if current is None:
                current = {k: 0 for k in window_keys}
            else:
                windows.append(current)
                current = None
            continue
        key = classify(ev, fields)
        if key is None:
            continue
        total[key] += 1
        if current is not None and key in current:
            current[key] += 1
    return {"total": total, "markers": markers, "windows": windows}


def _nvme_key(ev: str, fields: list[str]) -> str | None:
    if ev in ("pci_nvme_mmio_doorbell_sq", "pci_nvme_mmio_doorbell_cq"):
        # "pci_nvme_mmio_doorbell_sq sqid 1 new_tail 5"
        kind = "sq" if ev.endswith("_sq") else "cq"
        return kind if int(fields[1]) else f"{kind}_admin"
    if ev == "pci_nvme_irq_msix":
        # "pci_nvme_irq_msix raising MSI-X IRQ vector 1"
        return "irq" if int(fields[-1]) else "irq_vector0"
    if ev == "pci_nvme_dbbuf_config":
        return "dbbuf_config"
    return None


def nvme_counts(path: Path) -> dict:
    """Doorbell MMIO writes and MSI-X interrupts in an NVMe trace log.

    total: sq / cq = doorbell writes of the I/O queues (qid != 0), sq_admin /
    cq_admin those of the admin queue, irq = MSI-X interrupts on vectors
    other than 0 (the I/O queues'), irq_vector0, dbbuf_config = Doorbell
    Buffer Config commands. windows: sq / cq / irq per job (_bench_counts)."""
    return _bench_counts(path, _nvme_key,
                         ("sq", "cq", "sq_admin", "cq_admin", "irq", "irq_vector0", "dbbuf_config"),
                         ("sq", "cq", "irq"))


# What the storage benchmark traces for virtio-blk (one virtio device in
# the machine, so no event needs telling devices apart). QEMU 7.2,
# hw/virtio/virtio.c and hw/block/virtio-blk.c:
# - virtio_queue_notify: the driver notified the device of new buffers (a
#   write to a queue's notify address, modern MMIO or legacy port, that
#   QEMU's virtio core handled). Under TCG QEMU has no ioeventfd, so every
#   notification the guest makes is one line; with EVENT_IDX the guest
#   makes one only when avail_event asks for it.
# - virtio_notify / virtio_notify_irqfd: the device interrupted the driver
#   for a queue (MSI-X or INTx; irqfd: the same through KVM's irqfd). Traced
#   after virtio_should_notify(), so only interrupts actually raised: those
#   used_event (EVENT_IDX) or VRING_AVAIL_F_NO_INTERRUPT suppressed are not
#   here. Configuration-change interrupts are not counted.
# - virtio_blk_req_complete: the device finished one request (its status
#   byte written): requests per I/O says how the driver split the I/Os.
VIRTIO_BLK_EVENTS = ["virtio_queue_notify", "virtio_notify", "virtio_notify_irqfd", "virtio_blk_req_complete"]
_VIRTIO_BLK_KEYS = {"virtio_queue_notify": "notify", "virtio_notify": "irq", "virtio_notify_irqfd": "irq",
                    "virtio_blk_req_complete": "req"}


def virtio_blk_counts(path: Path) -> dict:
    """Notifications, interrupts and completed requests in a virtio-blk trace
    log (VIRTIO_BLK_EVENTS), every queue of the device: total and windows
    (per job, _bench_counts) both have notify, irq and req."""
    keys = ("notify", "irq", "req")
    return _bench_counts(path, lambda ev, fields: _VIRTIO_BLK_KEYS.get(ev), keys, keys)


def per_io(counts: dict[str, int], ios: int | None) -> dict[str, float]:
    """<key>_per_io for every per-job key counts has (NVMe: sq, cq, irq;
    virtio-blk: notify, irq, req) for `ios` I/Os, and NVMe's db_per_io (SQ +
    CQ doorbell writes)."""
    if not ios:
        return {}
    out = {f"{k}_per_io": counts[k] / ios for k in ("sq", "cq", "notify", "irq", "req") if k in counts}
    if "sq" in counts and "cq" in counts:
        out["db_per_io"] = (counts["sq"] + counts["cq"]) / ios
    return out
