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


# What the network benchmark traces (bench/run_net_bench.py; one virtio-net
# device and no other virtio device in the machine). QEMU 7.2,
# hw/virtio/virtio.c and hw/net/virtio-net.c:
# - virtio_queue_notify `vdev P n N vq Q`: the driver notified queue N (0
#   receive, 1 transmit, 2 control: no multiqueue is offered to it).
# - virtio_notify / virtio_notify_irqfd `vdev P vq Q`: an interrupt raised
#   for queue Q (after EVENT_IDX / NO_INTERRUPT suppression, as for blk).
# - virtqueue_pop `vq Q elem E in_num I out_num O`: the device took one
#   descriptor chain: on the receive queue one per frame it delivered
#   (with MRG_RXBUF a frame larger than one buffer takes several), on the
#   transmit queue one per frame sent. These are the frames "per packet"
#   divides by: the device's count, not either guest's.
# The log must carry timestamps (`-msg timestamp=on`): the benchmark's jobs
# are windows of host time, which works for any guest (the Sluice side
# cannot read a PCI config dword to mark its windows as the Linux guest
# does for the storage jobs).
VIRTIO_NET_EVENTS = ["virtio_queue_notify", "virtio_notify", "virtio_notify_irqfd", "virtqueue_pop"]
TIMESTAMP_ARGS = ["-msg", "timestamp=on"]
VIRTIO_NET_QUEUES = {0: "rx", 1: "tx", 2: "ctrl"}
VIRTIO_NET_KEYS = ("rx_notify", "tx_notify", "rx_irq", "tx_irq", "rx_frames", "tx_frames")


def timed_events(path: Path) -> Iterator[tuple[float, str, dict[str, str]]]:
    """(host time in s, event, its `key value` fields) for each line of a log
    written with TIMESTAMP_ARGS (`PID@SECONDS.MICROS:event k v k v ...`).
    A line without a timestamp is an error: its window cannot be known."""
    with open(path, errors="replace") as f:
        for n, line in enumerate(f, 1):
            head, _, rest = line.partition(":")
            if "@" not in head or not rest:
                raise ValueError(f"{path}:{n}: no timestamp (QEMU started without {' '.join(TIMESTAMP_ARGS)}?)")
            parts = rest.split()
            if parts:
                yield float(head.split("@", 1)[1]), parts[0], dict(zip(parts[1::2], parts[2::2]))


def virtio_net_counts(path: Path, windows: list[tuple[float, float]]) -> dict:
    """Notifications, interrupts and device frames per queue of one
    virtio-net device (VIRTIO_NET_EVENTS), in total and for each host-time
    window (t0, t1). Which virtqueue pointer is which queue is learned from
    the notifications (they name the queue index); a queue the driver never
    notified is recognised by its chains (device-writable only: receive)."""
    queue_of: dict[str, str] = {}
    lines = list(timed_events(path))
    for _t, ev, f in lines:
        if ev == "virtio_queue_notify" and "vq" in f:
            queue_of[f["vq"]] = VIRTIO_NET_QUEUES.get(int(f.get("n", -1)), "other")
    for _t, ev, f in lines:
        if ev == "virtqueue_pop" and f.get("vq") not in queue_of:
            queue_of[f["vq"]] = "rx" if int(f.get("out_num", 0)) == 0 else "tx"
    total = {k: 0 for k in VIRTIO_NET_KEYS}
    wins = [{k: 0 for k in VIRTIO_NET_KEYS} for _ in windows]
    for t, ev, f in lines:
        q = queue_of.get(f.get("vq", ""), "other")
        if q not in ("rx", "tx"):
            continue
        kind = {"virtio_queue_notify": "notify", "virtio_notify": "irq", "virtio_notify_irqfd": "irq",
                "virtqueue_pop": "frames"}.get(ev)
        if kind is None:
            continue
        key = f"{q}_{kind}"
        total[key] += 1
        for (t0, t1), w in zip(windows, wins):
            if t0 <= t < t1:
                w[key] += 1
    return {"total": total, "windows": wins, "queues": sorted(set(queue_of.values()))}


def per_frame(counts: dict[str, int]) -> dict[str, float | None]:
    """notify_per_frame and irq_per_frame (both queues over every frame the
    device moved), and the per-direction ratios, None where nothing moved."""
    frames = counts["rx_frames"] + counts["tx_frames"]

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None
    return {"frames": frames,
            "notify_per_frame": ratio(counts["rx_notify"] + counts["tx_notify"], frames),
            "irq_per_frame": ratio(counts["rx_irq"] + counts["tx_irq"], frames),
            "tx_notify_per_tx_frame": ratio(counts["tx_notify"], counts["tx_frames"]),
            "rx_irq_per_rx_frame": ratio(counts["rx_irq"], counts["rx_frames"]),
            "tx_irq_per_tx_frame": ratio(counts["tx_irq"], counts["tx_frames"])}
