"""Host-side checks for QEMU scenarios, and the log parsers they use.

Everything here is a pure function of (serial log text, data QEMU gave us)
so harness_selftest.py can exercise it on canned data without QEMU.

Kernel log formats parsed (see docs/testing.md):
    pci 00:03.0 1b36:0010 class 01.08.02 rev 02
    pci   bar0 mem64 addr 0x00000000febf0000 size 0x4000     (io|mem32|mem64 [pref])
    pci   msix vectors 65 table bar0+0x2000 pba bar0+0x3000
    pci   msi vectors 1 64bit maskable
    pci: <N> functions on <M> buses
    module <name> size <bytes>
    modules: <N>
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------
# PCI: the kernel's view

PCI_FUNC_RE = re.compile(
    r"\bpci (?P<bus>[0-9a-fA-F]{2}):(?P<slot>[0-9a-fA-F]{2})\.(?P<fn>[0-7]) "
    r"(?P<vendor>[0-9a-fA-F]{4}):(?P<device>[0-9a-fA-F]{4}) "
    r"class (?P<cls>[0-9a-fA-F]{2})\.(?P<sub>[0-9a-fA-F]{2})\.(?P<progif>[0-9a-fA-F]{2}) "
    r"rev (?P<rev>[0-9a-fA-F]{2})\b")
PCI_BAR_RE = re.compile(
    r"\bpci\s+bar(?P<bar>[0-5]) (?P<kind>io|mem32|mem64)(?P<pref> pref)? "
    r"addr 0x(?P<addr>[0-9a-fA-F]+) size 0x(?P<size>[0-9a-fA-F]+)\b")
PCI_MSIX_RE = re.compile(
    r"\bpci\s+msix vectors (?P<vectors>\d+) table bar(?P<tbir>[0-5])\+0x(?P<toff>[0-9a-fA-F]+) "
    r"pba bar(?P<pbir>[0-5])\+0x(?P<poff>[0-9a-fA-F]+)")
PCI_MSI_RE = re.compile(r"\bpci\s+msi vectors (?P<vectors>\d+)(?P<flags>(?: [a-z0-9]+)*)\s*$")
PCI_SUMMARY_RE = re.compile(r"\bpci: (?P<functions>\d+) functions on (?P<buses>\d+) bus(?:es)?\b")

MODULE_RE = re.compile(r"\bmodule (?P<name>\S+) size (?P<size>\d+)\b")
MODULES_TOTAL_RE = re.compile(r"\bmodules: (?P<count>\d+)\b")


@dataclass
class Bar:
    index: int
    kind: str          # io | mem32 | mem64
    prefetch: bool
    address: int
    size: int

    def describe(self) -> str:
        pref = " pref" if self.prefetch else ""
        return f"bar{self.index} {self.kind}{pref} addr {self.address:#x} size {self.size:#x}"


@dataclass
class Msix:
    vectors: int
    table_bir: int
    table_offset: int
    pba_bir: int
    pba_offset: int

    def describe(self) -> str:
        return (f"msix vectors {self.vectors} table bar{self.table_bir}+{self.table_offset:#x} "
                f"pba bar{self.pba_bir}+{self.pba_offset:#x}")


@dataclass
class Msi:
    vectors: int
    is64: bool
    maskable: bool

    def describe(self) -> str:
        return (f"msi vectors {self.vectors}" + (" 64bit" if self.is64 else "")
                + (" maskable" if self.maskable else ""))


@dataclass
class PciFunction:
    bus: int
    slot: int
    fn: int
    vendor: int
    device: int
    cls: int
    subclass: int
    prog_if: int
    revision: int
    bars: dict[int, Bar] = field(default_factory=dict)
    msix: Msix | None = None
    msi: Msi | None = None

    @property
    def bdf(self) -> str:
        return f"{self.bus:02x}:{self.slot:02x}.{self.fn:x}"


def parse_kernel_pci(log: str) -> tuple[dict[str, PciFunction], tuple[int, int] | None, list[str]]:
    """Returns (functions by bdf, (functions, buses) summary or None, parse problems)."""
    functions: dict[str, PciFunction] = {}
    problems: list[str] = []
    summary = None
    current: PciFunction | None = None
    for line in log.splitlines():
        m = PCI_FUNC_RE.search(line)
        if m:
            current = PciFunction(
                bus=int(m["bus"], 16), slot=int(m["slot"], 16), fn=int(m["fn"]),
                vendor=int(m["vendor"], 16), device=int(m["device"], 16),
                cls=int(m["cls"], 16), subclass=int(m["sub"], 16),
                prog_if=int(m["progif"], 16), revision=int(m["rev"], 16))
            if current.bdf in functions:
                problems.append(f"kernel printed function {current.bdf} twice")
            functions[current.bdf] = current
            continue
        m = PCI_SUMMARY_RE.search(line)
        if m:
            summary = (int(m["functions"]), int(m["buses"]))
            current = None
            continue
        m = PCI_BAR_RE.search(line)
        if m:
            if current is None:
                problems.append(f"BAR line outside a function: {line.strip()}")
                continue
            bar = Bar(int(m["bar"]), m["kind"], bool(m["pref"]), int(m["addr"], 16),
                      int(m["size"], 16))
            if bar.index in current.bars:
                problems.append(f"{current.bdf}: bar{bar.index} printed twice")
            current.bars[bar.index] = bar
            continue
        m = PCI_MSIX_RE.search(line)
        if m:
            if current is None:
                problems.append(f"msix line outside a function: {line.strip()}")
                continue
            current.msix = Msix(int(m["vectors"]), int(m["tbir"]), int(m["toff"], 16),
                                int(m["pbir"]), int(m["poff"], 16))
            continue
        m = PCI_MSI_RE.search(line)
        if m:
            if current is None:
                problems.append(f"msi line outside a function: {line.strip()}")
                continue
            flags = m["flags"].split()
            current.msi = Msi(int(m["vectors"]), "64bit" in flags, "maskable" in flags)
    return functions, summary, problems


# ---------------------------------------------------------------------------
# PCI: QEMU's view (QMP query-pci + config space read through the ECAM window)

UNMAPPED = {-1, (1 << 64) - 1}


def flatten_query_pci(buses: list[dict]) -> list[dict]:
    """All devices of a query-pci reply, recursing into bridges."""
    out: list[dict] = []

    def walk(devices: list[dict]) -> None:
        for d in devices:
            out.append(d)
            bridge = d.get("pci_bridge")
            if bridge:
                walk(bridge.get("devices", []))

    for bus in buses:
        walk(bus.get("devices", []))
    return out


def config_dword(config: bytes, offset: int) -> int:
    return int.from_bytes(config[offset:offset + 4], "little")


def decode_bar_register(config: bytes, index: int) -> tuple[int, bool]:
    """(address, is64) programmed in BAR `index` of a type-0/1 header."""
    lo = config_dword(config, 0x10 + 4 * index)
    if lo & 1:
        return lo & ~0x3 & 0xFFFFFFFF, False
    is64 = ((lo >> 1) & 3) == 2
    addr = lo & ~0xF & 0xFFFFFFFF
    if is64:
        addr |= config_dword(config, 0x14 + 4 * index) << 32
    return addr, is64


def capabilities(config: bytes) -> dict[int, int]:
    """Capability id -> offset, walking the list from 0x34 (bounded)."""
    caps: dict[int, int] = {}
    status = int.from_bytes(config[6:8], "little")
    if not status & 0x10 or len(config) < 0x40:
        return caps
    ptr = config[0x34] & 0xFC
    seen = set()
    while ptr and ptr not in seen and ptr + 2 <= len(config) and len(seen) < 48:
        seen.add(ptr)
        caps.setdefault(config[ptr], ptr)
        ptr = config[ptr + 1] & 0xFC
    return caps


def qemu_function(dev: dict, config: bytes | None) -> PciFunction:
    """Build the expected PciFunction from a query-pci device and, when
    available, its config space (prog-if, revision, MSI/MSI-X, and BAR values
    the firmware programmed while decoding is off)."""
    cls16 = dev["class_info"]["class"]
    f = PciFunction(bus=dev["bus"], slot=dev["slot"], fn=dev["function"],
                    vendor=dev["id"]["vendor"], device=dev["id"]["device"],
                    cls=(cls16 >> 8) & 0xFF, subclass=cls16 & 0xFF, prog_if=-1, revision=-1)
    if config is not None:
        f.revision = config[8]
        f.prog_if = config[9]
    for r in dev.get("regions", []):
        idx = r["bar"]
        if idx > 5:
            continue  # expansion ROM: not a BAR the kernel reports
        if r["type"] == "io":
            kind, pref = "io", False
        else:
            kind = "mem64" if r.get("mem_type_64") else "mem32"
            pref = bool(r.get("prefetch"))
        addr = r["address"]
        if addr in UNMAPPED and config is not None:
            # Decoding disabled in COMMAND: QMP reports "unmapped"; the
            # kernel reads the register, so compare with what is programmed.
            addr, _ = decode_bar_register(config, idx)
        f.bars[idx] = Bar(idx, kind, pref, addr, r["size"])
    if config is not None:
        caps = capabilities(config)
        if 0x11 in caps:
            o = caps[0x11]
            ctrl = int.from_bytes(config[o + 2:o + 4], "little")
            table = config_dword(config, o + 4)
            pba = config_dword(config, o + 8)
            f.msix = Msix((ctrl & 0x7FF) + 1, table & 7, table & ~7, pba & 7, pba & ~7)
        if 0x05 in caps:
            o = caps[0x05]
            ctrl = int.from_bytes(config[o + 2:o + 4], "little")
            f.msi = Msi(1 << ((ctrl >> 1) & 7), bool(ctrl & 0x80), bool(ctrl & 0x100))
    return f


def compare_pci(kernel: dict[str, PciFunction], qemu: dict[str, PciFunction],
                summary: tuple[int, int] | None, bridges_buses: int | None = None) -> list[str]:
    """Every difference between the kernel's PCI view and QEMU's. Empty = match."""
    diffs: list[str] = []
    for bdf in sorted(set(qemu) - set(kernel)):
        q = qemu[bdf]
        diffs.append(f"{bdf} {q.vendor:04x}:{q.device:04x} exists in QEMU but the kernel did not report it")
    for bdf in sorted(set(kernel) - set(qemu)):
        k = kernel[bdf]
        diffs.append(f"{bdf} {k.vendor:04x}:{k.device:04x} reported by the kernel but absent in QEMU")
    for bdf in sorted(set(kernel) & set(qemu)):
        k, q = kernel[bdf], qemu[bdf]
        for attr, width in (("vendor", 4), ("device", 4), ("cls", 2), ("subclass", 2),
                            ("prog_if", 2), ("revision", 2)):
            kv, qv = getattr(k, attr), getattr(q, attr)
            if qv < 0:
                continue  # unknown on the QEMU side (no config space read)
            if kv != qv:
                diffs.append(f"{bdf} {attr}: kernel {kv:0{width}x}, QEMU {qv:0{width}x}")
        for idx in sorted(set(k.bars) | set(q.bars)):
            kb, qb = k.bars.get(idx), q.bars.get(idx)
            if kb is None:
                diffs.append(f"{bdf} bar{idx}: missing in kernel output; QEMU has {qb.describe()}")
            elif qb is None:
                diffs.append(f"{bdf} bar{idx}: kernel reports {kb.describe()}; QEMU has no such BAR")
            elif (kb.kind, kb.prefetch, kb.address, kb.size) != (qb.kind, qb.prefetch, qb.address, qb.size):
                diffs.append(f"{bdf} bar{idx}: kernel {kb.describe()}; QEMU {qb.describe()}")
        for attr, name in (("msix", "MSI-X"), ("msi", "MSI")):
            kc, qc = getattr(k, attr), getattr(q, attr)
            if kc is None and qc is not None:
                diffs.append(f"{bdf}: missing {attr} line; QEMU has {qc.describe()}")
            elif qc is None and kc is not None:
                diffs.append(f"{bdf}: kernel reports {kc.describe()}; device has no {name}")
            elif kc != qc:
                diffs.append(f"{bdf}: kernel {kc.describe()}; QEMU {qc.describe()}")
    if summary is None:
        diffs.append("no 'pci: <N> functions on <M> buses' summary line")
    else:
        n, m = summary
        if n != len(qemu):
            diffs.append(f"summary says {n} functions, QEMU has {len(qemu)}")
        if n != len(kernel):
            diffs.append(f"summary says {n} functions but the kernel printed {len(kernel)}")
        # Buses: either the buses that hold functions or every bus reached
        # (root + one per bridge); both readings are accepted.
        with_functions = len({f.bus for f in qemu.values()})
        accepted = {with_functions} | ({bridges_buses} if bridges_buses else set())
        if m not in accepted:
            diffs.append(f"summary says {m} buses, QEMU has "
                         + " or ".join(str(a) for a in sorted(accepted)))
    return diffs


def ecam_base_from_mtree(mtree: str) -> int | None:
    m = re.search(r"([0-9a-fA-F]{8,16})-[0-9a-fA-F]{8,16} \(prio \d+, i/o\): pcie-mmcfg-mmio", mtree)
    return int(m.group(1), 16) if m else None


def parse_xp_words(text: str) -> bytes:
    """HMP `xp /Nwx` output -> little-endian bytes."""
    out = bytearray()
    for line in text.splitlines():
        if ":" not in line:
            continue
        for word in line.split(":", 1)[1].split():
            out += int(word, 16).to_bytes(4, "little")
    return bytes(out)


def count_reached_buses(buses: list[dict]) -> int:
    n = len(buses)
    for d in flatten_query_pci(buses):
        if d.get("pci_bridge"):
            n += 1
    return n


# ---------------------------------------------------------------------------
# Modules


def parse_modules(log: str) -> tuple[list[tuple[str, int]], int | None]:
    mods = [(m["name"], int(m["size"])) for m in MODULE_RE.finditer(log)]
    total = None
    for m in MODULES_TOTAL_RE.finditer(log):
        total = int(m["count"])
    return mods, total


def compare_modules(expected: list[tuple[str, int]], log: str) -> list[str]:
    got, total = parse_modules(log)
    diffs = []
    got_by_name: dict[str, int] = {}
    for name, size in got:
        if name in got_by_name:
            diffs.append(f"module {name} reported twice")
        got_by_name[name] = size
    for name, size in expected:
        if name not in got_by_name:
            diffs.append(f"module {name} ({size} bytes) not reported by the kernel")
        elif got_by_name[name] != size:
            diffs.append(f"module {name}: kernel says {got_by_name[name]} bytes, expected {size}")
    for name in got_by_name:
        if name not in dict(expected):
            diffs.append(f"kernel reports unexpected module {name}")
    if total is None:
        diffs.append("no 'modules: <N>' line")
    elif total != len(expected):
        diffs.append(f"kernel says modules: {total}, expected {len(expected)}")
    if not diffs and [n for n, _ in got] != [n for n, _ in expected]:
        diffs.append(f"modules reported in order {[n for n, _ in got]}, "
                     f"GRUB passed {[n for n, _ in expected]}")
    return diffs


# ---------------------------------------------------------------------------
# DMA canaries (the VT-d self-test, kernel/iommu/vtd_selftest.h)

CANARY_RE = re.compile(r"test: vtd: canary page at 0x(?P<addr>[0-9a-f]+): (?P<bytes>\d+) bytes that were "
                       r"0x(?P<value>[0-9a-f]{2})")


def canary_diffs(memory: bytes, value: int, intact: bool) -> list[str]:
    """What is wrong with the canary's bytes as read from outside: any byte
    changed (intact), or none (the device's write should have landed)."""
    changed = sum(1 for b in memory if b != value)
    if intact and changed:
        return [f"{changed} of {len(memory)} canary bytes changed: the device wrote where its domain "
                f"does not reach"]
    if not intact and not changed:
        return [f"all {len(memory)} canary bytes still 0x{value:02x}: the device's write did not land"]
    return []


# ---------------------------------------------------------------------------
# A device aimed at the kernel's code (Model B's attack, user/tests/probe_provider)

AIMED_RE = re.compile(r"provider: model B: aiming identify at IOVA 0x(?P<addr>[0-9a-f]+), outside the domain")
AIMED_DONE_RE = re.compile(r"provider: model B: identify aimed outside completed")


def elf_bytes_at(elf: bytes, phys: int, length: int) -> bytes | None:
    """The bytes a read-only PT_LOAD segment of an ELF64 file puts at
    physical address [phys, phys + length), or None when no such segment
    holds all of it (only what never changes at run time is compared)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return None
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, p_flags, p_offset, _vaddr, p_paddr, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        writable = p_flags & 2
        if p_type == 1 and not writable and p_paddr <= phys and phys + length <= p_paddr + p_filesz:
            at = p_offset + phys - p_paddr
            return elf[at:at + length]
    return None


# ---------------------------------------------------------------------------
# Registry used by harness.runner


@dataclass
class CheckSpec:
    name: str
    ready: re.Pattern        # run once this matches the serial log
    live: bool               # needs the guest still running (QMP)
    doc: str


CHECKS: dict[str, CheckSpec] = {
    "pci_matches_qmp": CheckSpec(
        "pci_matches_qmp", PCI_SUMMARY_RE, True,
        "kernel PCI lines == QMP query-pci (+ config space via ECAM): every function, "
        "ids, class/subclass/prog-if, revision, BAR kind/64-bit/prefetch/address/size, MSI/MSI-X"),
    "dma_canary_intact": CheckSpec(
        "dma_canary_intact", CANARY_RE, True,
        "the canary page the VT-d self-test logged, read from guest memory through QEMU's monitor, still "
        "holds its value in every byte"),
    "dma_canary_overwritten": CheckSpec(
        "dma_canary_overwritten", CANARY_RE, True,
        "the same canary, with translation off: the device's write must have changed it"),
    "dma_target_is_kernel_code": CheckSpec(
        "dma_target_is_kernel_code", AIMED_DONE_RE, True,
        "the page a provider aimed its device at (`aiming identify at IOVA 0x...`), read from guest memory "
        "through QEMU's monitor once the command completed, still holds the kernel's code as the kernel's "
        "ELF file has it"),
    "modules_match": CheckSpec(
        "modules_match", MODULES_TOTAL_RE, False,
        "each declared boot module is reported with its name and exact byte size"),
}
