"""The scenario schema: a QEMU scenario is data, one .toml file
(tests/scenarios/<name>.toml; docs/testing.md documents every key and
validate() below is its definition).

The loader refuses, with a message naming the key, anything it does not
understand: an unknown key at any level, a wrong type, a bad regex, a module
that is neither a module set nor a program the build makes, a capture used
but never defined. A typo therefore cannot silently disable a check.

Boot modules: `modules` lists, in boot order, module set names
(tests/scenarios/data/module_sets.toml) and program names (a
`sluice_user_program(NAME ...)` in user/**/CMakeLists.txt; the file is
<build-dir>/user/NAME), and tables for anything else ({ name, path | source
| generate }); `manifest = "PATH"` appends the boot module `manifest` read
from PATH (relative to the repository root).

Captures: a named group `(?P<NAME>...)` in a marker or an input's `after`
captures what it matched; `{capture:NAME}` in a later marker, `after` or
`send` stands for that text (harness.serial.Pattern).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import REPO, checks, images, network, qemu, trace
from .serial import CAPTURE_REF_RE, Input, Pattern

BASE_CMDLINE = "console=com1 loglevel=info"
MODULE_SETS_FILE = REPO / "tests" / "scenarios" / "data" / "module_sets.toml"
PROGRAM_RE = re.compile(r"^\s*sluice_user_program\(\s*([A-Za-z0-9._-]+)", re.M)

TOP_KEYS = {"description", "format", "firmware", "cmdline", "modules", "manifest", "devices", "qemu_args",
            "disks", "memory", "smp", "markers", "forbidden", "end", "timeout", "checks", "input", "trace",
            "disk_fill", "image_checks", "record_checks", "network", "lanes"}
LANE_KEYS = {"markers", "forbidden", "all_translated"}
TRACE_KEYS = {"events", "markers", "forbidden", "counts", "delimiter"}
COUNT_KEYS = {"event", "window", "min", "max"}
MODULE_KEYS = {"name", "path", "source", "generate"}
INPUT_KEYS = {"after", "send", "delay_ms"}
IMAGE_CHECK_KEYS = {"disk", "offset", "length", "pattern_seed", "original", "zeros"}
RECORD_CHECK_KEYS = {"disk", "device", "consumers", "offset", "length"}
# kill: once every marker has matched, QEMU is killed hard (SIGKILL, no
# flush of anything the guest has not written) — what a crash or power
# loss leaves on the disk images, which image_checks then inspect.
ENDS = ("poweroff", "quit", "panic", "kill")


class ScenarioError(Exception):
    """The scenario file itself is wrong."""


@dataclass
class Module:
    name: str
    path: Path | None = None     # existing file
    generate: tuple[int, int] | None = None  # (size, seed)


@dataclass
class Lane:
    """A [lanes.NAME] table: the scenario again on another DMA lane."""
    markers: list[Pattern]           # ordered among themselves, anywhere in the log
    forbidden: list[re.Pattern]
    # every function granted DMA must show translated accesses in QEMU's
    # trace (false where a scenario grants DMA that no device ever uses:
    # refused attacks, idle providers)
    all_translated: bool = True


# What every scenario on a lane must show, and must never show. The vtd
# lane: QEMU's intel-iommu in front of every device, translation and
# interrupt remapping on, the brokered lane's sessions each in a domain of
# their own ranges — and no remapping fault (a device touching anything but
# its grant is a bug there).
LANES = {
    "vtd": (
        [r"vtd: unit 0: translation on \(queued invalidation, fault event vector 0x[0-9a-f]+\)",
         r"vtd: unit 0: interrupt remapping on \(256 entries, source-validated"],
        [r"vtd: unit \d+: fault:", r"vtd: unit \d+: translation not turned on", r"invalidation (refused|not confirmed)",
         r"did not confirm",
         # a grant without a domain: a device the unit does not translate
         r"granted DMA \(session \d+, bounce lane, quota \d+ KiB\)"],
    ),
}
# ... and what QEMU's own trace must show on it: the unit turned on, never a
# fault; that every device granted DMA had its accesses translated is
# checked by harness.runner (check_lane_translation).
LANE_TRACE = {
    "vtd": (["vtd_dmar_enable", "vtd_ir_enable", "vtd_dmar_fault", "vtd_dmar_translate"],
            [r"vtd_dmar_enable enable 1", r"vtd_ir_enable enable 1"], [r"vtd_dmar_fault"]),
}


def on_lane(sc: "Scenario", lane: str) -> "Scenario":
    """The scenario as it runs on `lane` (one of its [lanes])."""
    if lane not in sc.lanes:
        raise ScenarioError(f"{sc.name} has no [lanes.{lane}] (it has: {sorted(sc.lanes) or 'none'})")
    spec = sc.lanes[lane]
    always_markers, always_forbidden = LANES[lane]
    events, trace_markers, trace_forbidden = LANE_TRACE[lane]
    return dataclasses.replace(
        sc, name=f"{sc.name}.{lane}", lane=lane,
        lane_markers=[_pattern(m, f"lanes.{lane} markers") for m in always_markers] + spec.markers,
        forbidden=sc.forbidden + [re.compile(f, re.M) for f in always_forbidden] + spec.forbidden,
        trace_events=sc.trace_events + [e for e in events if e not in sc.trace_events],
        # the unit is enabled at boot, before anything the scenario traces
        trace_markers=[re.compile(m, re.M) for m in trace_markers] + sc.trace_markers,
        trace_forbidden=sc.trace_forbidden + [re.compile(f, re.M) for f in trace_forbidden])


def _lanes(data, disk_fill: dict[str, bytes]) -> dict[str, Lane]:
    lanes = data.get("lanes", {})
    if not isinstance(lanes, dict):
        raise ScenarioError("[lanes] is a table of lanes ([lanes.vtd])")
    out = {}
    for name, spec in lanes.items():
        if name not in LANES:
            raise ScenarioError(f"[lanes.{name}]: unknown lane (known: {sorted(LANES)})")
        if not isinstance(spec, dict) or set(spec) - LANE_KEYS:
            raise ScenarioError(f"[lanes.{name}] takes {sorted(LANE_KEYS)}")
        markers = [_pattern(expand_disk_hex(v, disk_fill), f"lanes.{name} markers")
                   for v in _strings(spec.get("markers", []), f"lanes.{name} markers")]
        every = spec.get("all_translated", True)
        if not isinstance(every, bool):
            raise ScenarioError(f"[lanes.{name}] all_translated is true or false")
        out[name] = Lane(markers, _regexes(spec.get("forbidden", []), f"lanes.{name} forbidden"), every)
    return out


@dataclass
class ImageCheck:
    """[[image_checks]] disk, offset, length and what the bytes must be:
    pattern_seed = S (util/pattern.h, as the guest's blk write-pattern
    writes it), original = true (exactly what [disk_fill] put there, zeros
    past it: nothing was written) or zeros = true."""
    disk: str
    offset: int
    length: int
    pattern_seed: int | None = None
    original: bool = False
    zeros: bool = False

    def describe(self) -> str:
        what = (f"pattern seed {self.pattern_seed}" if self.pattern_seed is not None
                else "zeros" if self.zeros else "the original bytes")
        return f"{self.disk}.img bytes {self.offset}..{self.offset + self.length} hold {what}"


@dataclass
class RecordCheck:
    """[[record_checks]]: after QEMU exits, the seqwriter consumers of
    `device` (exactly `consumers` of them) must find every record they were
    acknowledged in `disk`'s image, and no record-sized slot of bytes
    offset..offset+length is torn (scripts/harness/records.py)."""
    disk: str
    device: str
    consumers: int
    scan: tuple[int, int] | None = None


@dataclass
class Scenario:
    name: str
    description: str
    format: str
    firmware: str
    cmdline: str
    modules: list[Module]
    devices: str | list[str]
    qemu_args: list[str]
    disks: list[str]
    memory: str
    smp: int
    markers: list[Pattern]
    forbidden: list[re.Pattern]
    end: str
    timeout: float
    checks: list[str]
    inputs: list[Input] = field(default_factory=list)
    # QEMU trace events to record (-trace) and ordered regexes the trace log
    # must show: what the device model itself saw, from outside the guest.
    trace_events: list[str] = field(default_factory=list)
    trace_markers: list[re.Pattern] = field(default_factory=list)
    # regexes that must not appear anywhere in the trace log
    trace_forbidden: list[re.Pattern] = field(default_factory=list)
    # [trace] counts: event lines per guest-delimited window, within bounds
    trace_counts: list[trace.Count] = field(default_factory=list)
    trace_delimiter: re.Pattern | None = None  # the counts' window delimiter
    # disk image name -> the bytes the harness writes at its start before
    # boot (markers may quote them as {disk_hex:NAME:OFFSET:LEN} and
    # {disk_sha256:NAME:OFFSET:LEN})
    disk_fill: dict[str, bytes] = field(default_factory=dict)
    # [[image_checks]]: byte ranges of disk images checked after QEMU exits
    image_checks: list[ImageCheck] = field(default_factory=list)
    record_checks: list[RecordCheck] = field(default_factory=list)
    # [network]: a NIC on QEMU's user network, host peers, the capture
    network: "network.NetworkSpec | None" = None
    # [lanes.NAME]: the other DMA lanes this scenario runs on too (a ctest
    # entry each: scenario.<name>.<lane>), with what that lane must add to
    # the log; `lane` is the one this Scenario runs on (None: the default).
    lanes: dict[str, "Lane"] = field(default_factory=dict)
    lane: str | None = None
    lane_markers: list[Pattern] = field(default_factory=list)

    def full_cmdline(self) -> str:
        parts = [BASE_CMDLINE]
        if self.cmdline:
            parts.append(self.cmdline)
        if self.end == "poweroff" and "exit=poweroff" not in self.cmdline:
            parts.append("exit=poweroff")
        return " ".join(parts)


# ---------------------------------------------------------------------------
# Module sets and programs


@functools.cache
def programs() -> frozenset[str]:
    """The user programs the build makes: sluice_user_program(NAME ...) in user/**/CMakeLists.txt."""
    names = set()
    for f in (REPO / "user").rglob("CMakeLists.txt"):
        names.update(PROGRAM_RE.findall(f.read_text()))
    return frozenset(names)


def load_module_sets(path: Path = MODULE_SETS_FILE, known: frozenset[str] | None = None) -> dict[str, list[str]]:
    """The [sets] of module_sets.toml: set name -> program names, checked."""
    known = programs() if known is None else known
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ScenarioError(f"module sets {path}: {e}")
    if set(data) != {"sets"} or not isinstance(data["sets"], dict):
        raise ScenarioError(f"module sets {path}: the file holds one table, [sets]")
    sets = data["sets"]
    for name, members in sets.items():
        if name in known:
            raise ScenarioError(f"module sets {path}: set {name!r} has the name of a program")
        if not (isinstance(members, list) and members and all(isinstance(m, str) for m in members)):
            raise ScenarioError(f"module sets {path}: set {name!r} must be a non-empty list of program names")
        unknown = [m for m in members if m not in known]
        if unknown:
            raise ScenarioError(f"module sets {path}: set {name!r} names {unknown}, which the build "
                                "does not make (sluice_user_program in user/**/CMakeLists.txt)")
        if len(set(members)) != len(members):
            raise ScenarioError(f"module sets {path}: set {name!r} names a program twice")
    return sets


def _program_modules(entry: str, build_dir: Path, sets: dict[str, list[str]]) -> list[Module]:
    if entry in sets:
        return [Module(p, path=build_dir / "user" / p) for p in sets[entry]]
    if entry in programs():
        return [Module(entry, path=build_dir / "user" / entry)]
    raise ScenarioError(f"modules: {entry!r} is neither a module set ({', '.join(sorted(sets))}; "
                        f"{MODULE_SETS_FILE.relative_to(REPO)}) nor a program the build makes "
                        "(sluice_user_program in user/**/CMakeLists.txt)")


def _module_table(i: int, m: dict, build_dir: Path) -> Module:
    bad = set(m) - MODULE_KEYS
    if bad:
        raise ScenarioError(f"modules[{i}]: unknown keys {sorted(bad)} (known: {sorted(MODULE_KEYS)})")
    mname = m.get("name")
    if not isinstance(mname, str) or not images.MODULE_NAME_RE.match(mname):
        raise ScenarioError(f"modules[{i}]: name must match {images.MODULE_NAME_RE.pattern}")
    sources = [k for k in ("path", "source", "generate") if k in m]
    if len(sources) != 1:
        raise ScenarioError(f"module {mname}: give exactly one of path (relative to the "
                            "build dir), source (relative to the repo) or generate")
    if "generate" in m:
        g = m["generate"]
        if (not isinstance(g, dict) or set(g) != {"size", "seed"}
                or not all(isinstance(g[k], int) for k in g) or g["size"] < 0):
            raise ScenarioError(f"module {mname}: generate = {{ size = N, seed = S }}")
        return Module(mname, generate=(g["size"], g["seed"]))
    if not isinstance(m[sources[0]], str):
        raise ScenarioError(f"module {mname}: {sources[0]} must be a path")
    if "source" in m:
        return Module(mname, path=_repo_file(m["source"], f"module {mname}"))
    p = Path(m["path"])
    return Module(mname, path=p if p.is_absolute() else build_dir / p)


def _repo_file(path: str, what: str) -> Path:
    p = Path(path)
    p = p if p.is_absolute() else REPO / p
    if not p.is_file():
        raise ScenarioError(f"{what}: {path} does not exist (paths are relative to the repository root)")
    return p


def _modules(data: dict, build_dir: Path) -> list[Module]:
    entries = data.get("modules", [])
    if not isinstance(entries, list):
        raise ScenarioError("modules must be a list of module set names, program names and tables")
    sets: dict[str, list[str]] | None = None
    modules: list[Module] = []
    for i, e in enumerate(entries):
        if isinstance(e, str):
            if sets is None:
                sets = load_module_sets()
            modules += _program_modules(e, build_dir, sets)
        elif isinstance(e, dict):
            modules.append(_module_table(i, e, build_dir))
        else:
            raise ScenarioError(f"modules[{i}]: a module set name, a program name or a table")
    if "manifest" in data:
        if not isinstance(data["manifest"], str):
            raise ScenarioError("manifest must be the path of a manifest file")
        modules.append(Module("manifest", path=_repo_file(data["manifest"], "manifest")))
    names = [m.name for m in modules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScenarioError(f"modules: {', '.join(twice)} named twice (check the sets you list)")
    return modules


# ---------------------------------------------------------------------------
# Disks and their checks


DISK_HEX_RE = re.compile(r"\{disk_(hex|sha256):([A-Za-z0-9._-]+):(\d+):(\d+)\}")


def _image_checks(data, disks: list[str], fill: dict[str, bytes]) -> list[ImageCheck]:
    entries = data.get("image_checks", [])
    if not isinstance(entries, list):
        raise ScenarioError("image_checks must be an array of tables ([[image_checks]])")
    out = []
    for i, c in enumerate(entries):
        if not isinstance(c, dict) or set(c) - IMAGE_CHECK_KEYS:
            raise ScenarioError(f"image_checks[{i}]: keys are disk, offset, length and pattern_seed, "
                                "original or zeros")
        disk, off, length = c.get("disk"), c.get("offset"), c.get("length")
        if disk not in disks and disk not in fill:
            raise ScenarioError(f"image_checks[{i}]: disk {disk!r} is not one of this scenario's disks")
        if not (isinstance(off, int) and isinstance(length, int) and off >= 0 and length > 0):
            raise ScenarioError(f"image_checks[{i}]: offset >= 0 and length > 0 (integers)")
        if (sum(k in c for k in ("pattern_seed", "original", "zeros")) != 1
                or c.get("original", True) is not True or c.get("zeros", True) is not True):
            raise ScenarioError(f"image_checks[{i}]: give exactly one of pattern_seed = S, original = true "
                                "or zeros = true")
        if "pattern_seed" in c and (off % 8 or length % 8):
            raise ScenarioError(f"image_checks[{i}]: a pattern range is 8-byte aligned")
        out.append(ImageCheck(disk, off, length, c.get("pattern_seed"), "original" in c, "zeros" in c))
    return out


def _record_checks(data, disks: list[str], fill: dict[str, bytes]) -> list[RecordCheck]:
    entries = data.get("record_checks", [])
    if not isinstance(entries, list):
        raise ScenarioError("record_checks must be an array of tables ([[record_checks]])")
    out = []
    for i, c in enumerate(entries):
        if not isinstance(c, dict) or set(c) - RECORD_CHECK_KEYS or not {"disk", "device", "consumers"} <= set(c):
            raise ScenarioError(f"record_checks[{i}]: keys are disk, device, consumers and optionally offset "
                                "and length (the range no slot of may be torn)")
        disk, device, consumers = c["disk"], c["device"], c["consumers"]
        if disk not in disks and disk not in fill:
            raise ScenarioError(f"record_checks[{i}]: disk {disk!r} is not one of this scenario's disks")
        if not isinstance(device, str) or not device or not isinstance(consumers, int) or consumers < 1:
            raise ScenarioError(f"record_checks[{i}]: device is a block device name, consumers >= 1")
        scan = None
        if "offset" in c or "length" in c:
            off, length = c.get("offset"), c.get("length")
            if not (isinstance(off, int) and isinstance(length, int) and off >= 0 and length > 0):
                raise ScenarioError(f"record_checks[{i}]: offset >= 0 and length > 0 (integers), both or neither")
            scan = (off, length)
        out.append(RecordCheck(disk, device, consumers, scan))
    return out


def _disk_fill(data) -> dict[str, bytes]:
    """[disk_fill] NAME = { size = N, seed = S }: random bytes the harness
    writes at the start of disk image NAME (truth the guest must read back)."""
    fill = data.get("disk_fill", {})
    if not isinstance(fill, dict):
        raise ScenarioError("[disk_fill] must be a table of NAME = { size = N, seed = S }")
    out = {}
    for name, spec in fill.items():
        if (not images.MODULE_NAME_RE.match(name) or not isinstance(spec, dict) or set(spec) != {"size", "seed"}
                or not all(isinstance(spec[k], int) for k in spec) or not 0 < spec["size"] <= 64 << 20):
            raise ScenarioError(f"[disk_fill] {name}: give {{ size = 1..64M, seed = S }}")
        out[name] = images.random_bytes(spec["size"], spec["seed"])
    return out


def expand_disk_hex(text: str, fill: dict[str, bytes]) -> str:
    def one(m: re.Match) -> str:
        kind, name, off, length = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        if name not in fill or off + length > len(fill[name]):
            raise ScenarioError(f"{m.group(0)}: not inside [disk_fill] {name}")
        data = fill[name][off:off + length]
        return data.hex() if kind == "hex" else hashlib.sha256(data).hexdigest()
    return DISK_HEX_RE.sub(one, text)


# ---------------------------------------------------------------------------
# Regexes, inputs, captures


def _strings(values, key) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ScenarioError(f"{key} must be a list of regex strings")
    return values


def _regexes(values, key) -> list[re.Pattern]:
    """Plain regexes (re.M): no captures where nothing could fill them in."""
    out = []
    for v in _strings(values, key):
        if CAPTURE_REF_RE.search(v):
            raise ScenarioError(f"{key}: {v!r}: captures are for markers, input triggers and typed text")
        try:
            out.append(re.compile(v, re.M))
        except re.error as e:
            raise ScenarioError(f"{key}: bad regex {v!r}: {e}")
    return out


def _pattern(source: str, where: str) -> Pattern:
    try:
        return Pattern(source)
    except (re.error, ValueError) as e:
        raise ScenarioError(f"{where}: bad regex {source!r}: {e}")


def _inputs(values, disk_fill: dict[str, bytes]) -> list[Input]:
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        raise ScenarioError("input must be an array of tables ([[input]] with after and send)")
    out = []
    for i, v in enumerate(values):
        where = f"input[{i}]"
        bad = set(v) - INPUT_KEYS
        if bad:
            raise ScenarioError(f"{where}: unknown keys {sorted(bad)} (known: {sorted(INPUT_KEYS)})")
        if not isinstance(v.get("after"), str) or not v["after"]:
            raise ScenarioError(f"{where}: after (a regex the serial log must show first) is required")
        after = _pattern(expand_disk_hex(v["after"], disk_fill), where)
        send = v.get("send")
        if not isinstance(send, str) or not send:
            raise ScenarioError(f"{where}: send (the text to type, e.g. \"ps\\r\") is required")
        delay = v.get("delay_ms", 0)
        if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
            raise ScenarioError(f"{where}: delay_ms must be a non-negative integer")
        out.append(Input(after, send, delay))
    return out


def check_captures(markers: list[Pattern], inputs: list[Input]) -> None:
    """Every capture is defined once, by a named group of a marker or of an
    input's trigger, and used only where it can be known: in a later marker,
    in a later input's trigger, in the typed text of its own or a later
    input, or (waiting for it) in a marker after an input defined it."""
    defined: dict[str, tuple[str, int]] = {}   # name -> ("marker" | "input", index)
    for kind, pats in (("marker", markers), ("input", [i.after for i in inputs])):
        for n, p in enumerate(pats):
            for name in p.defines:
                if name in defined:
                    k, m = defined[name]
                    raise ScenarioError(f"capture {name!r} defined twice: by {k} #{m + 1} and {kind} #{n + 1}")
                defined[name] = (kind, n)

    def need(name: str, where: str, kind: str, limit: int) -> None:
        # usable if defined by the other kind, or by an item of this kind before `limit`
        if name not in defined:
            raise ScenarioError(f"{where} uses {{capture:{name}}}, which no marker or input trigger "
                                f"defines (a named group (?P<{name}>...))")
        k, m = defined[name]
        if k == kind and m >= limit:
            raise ScenarioError(f"{where} uses {{capture:{name}}}, defined only by {k} #{m + 1}, "
                                "which cannot have matched yet")

    for n, p in enumerate(markers):
        for name in p.uses:
            need(name, f"marker #{n + 1}", "marker", n)
    for n, inp in enumerate(inputs):
        for name in inp.after.uses:
            need(name, f"input #{n + 1}'s trigger", "input", n)
        for name in CAPTURE_REF_RE.findall(inp.send):
            need(name, f"input #{n + 1}'s send", "input", n + 1)


# ---------------------------------------------------------------------------


def validate(name: str, data: dict, build_dir: Path) -> Scenario:
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ScenarioError(f"unknown keys {sorted(unknown)} (known: {sorted(TOP_KEYS)})")
    desc = data.get("description")
    if not isinstance(desc, str) or not desc.strip():
        raise ScenarioError("description (a sentence saying what this proves) is required")
    fmt = data.get("format", "iso")
    if fmt not in ("iso", "uefi"):
        raise ScenarioError("format must be 'iso' or 'uefi'")
    firmware = data.get("firmware", "bios" if fmt == "iso" else "uefi")
    if firmware not in ("bios", "uefi"):
        raise ScenarioError("firmware must be 'bios' or 'uefi'")
    if fmt == "uefi" and firmware == "bios":
        raise ScenarioError("a uefi disk image cannot boot under SeaBIOS")
    cmdline = data.get("cmdline", "")
    if not isinstance(cmdline, str) or "\n" in cmdline:
        raise ScenarioError("cmdline must be a one-line string")
    modules = _modules(data, build_dir)

    devices = data.get("devices", "default")
    if isinstance(devices, str):
        if devices not in ("default", "none"):
            raise ScenarioError("devices must be 'default', 'none' or a list of QEMU arguments")
    elif not (isinstance(devices, list) and all(isinstance(d, str) for d in devices)):
        raise ScenarioError("devices must be 'default', 'none' or a list of QEMU arguments")
    qemu_args = data.get("qemu_args", [])
    if not (isinstance(qemu_args, list) and all(isinstance(a, str) for a in qemu_args)):
        raise ScenarioError("qemu_args must be a list of strings")

    disks = data.get("disks", [])
    if not (isinstance(disks, list) and all(isinstance(d, str) and images.MODULE_NAME_RE.match(d)
                                            for d in disks)):
        raise ScenarioError("disks must be a list of names (each becomes {run_dir}/<name>.img)")
    for arg in (devices if isinstance(devices, list) else []) + qemu_args:
        try:
            arg.format(run_dir="x", repo="x")
        except (KeyError, IndexError, ValueError):
            raise ScenarioError(f"QEMU argument {arg!r}: only {{run_dir}} and {{repo}} may be substituted "
                                "(write {{ and }} for literal braces)")
    end = data.get("end")
    if end not in ENDS:
        raise ScenarioError(f"end must be one of {ENDS}")
    disk_fill = _disk_fill(data)
    markers = [_pattern(expand_disk_hex(v, disk_fill), "markers") for v in _strings(data.get("markers", []), "markers")]
    if not markers:
        raise ScenarioError("markers: at least one expected marker is required")
    forbidden = _regexes(data.get("forbidden", []), "forbidden")
    if end != "panic" and not any(f.pattern == "PANIC:" for f in forbidden):
        forbidden.insert(0, re.compile("PANIC:"))
    if end == "panic" and not any("PANIC" in m.pattern for m in markers):
        raise ScenarioError("end = 'panic' needs a marker for the PANIC: report")
    timeout = data.get("timeout", 60)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ScenarioError("timeout must be a positive number of seconds")
    names = data.get("checks", [])
    if not (isinstance(names, list) and all(isinstance(c, str) for c in names)):
        raise ScenarioError("checks must be a list of check names")
    for c in names:
        if c not in checks.CHECKS:
            raise ScenarioError(f"unknown check {c!r} (known: {sorted(checks.CHECKS)})")
        if checks.CHECKS[c].live and end != "quit":
            raise ScenarioError(f"check {c} inspects the live guest: it needs end = 'quit'")
    if "modules_match" in names and not modules:
        raise ScenarioError("modules_match without modules")
    memory = data.get("memory", "1G")
    if not isinstance(memory, (str, int)) or isinstance(memory, bool):
        raise ScenarioError("memory must be a QEMU size such as \"1G\"")
    memory = str(memory)
    smp = data.get("smp", 1)
    if not isinstance(smp, int) or isinstance(smp, bool) or smp < 1:
        raise ScenarioError("smp must be a positive integer")
    inputs = _inputs(data.get("input", []), disk_fill)
    check_captures(markers, inputs)
    trace_spec = data.get("trace", {})
    if not isinstance(trace_spec, dict) or set(trace_spec) - TRACE_KEYS:
        raise ScenarioError(f"[trace] takes {sorted(TRACE_KEYS)}")
    trace_events = trace_spec.get("events", [])
    if not (isinstance(trace_events, list)
            and all(isinstance(e, str) and trace.EVENT_NAME_RE.fullmatch(e) for e in trace_events)):
        raise ScenarioError("[trace] events must be a list of QEMU trace event names")
    trace_markers = _regexes(trace_spec.get("markers", []), "trace markers")
    trace_forbidden = _regexes(trace_spec.get("forbidden", []), "trace forbidden")
    trace_counts = []
    for c in trace_spec.get("counts", []):
        if not (isinstance(c, dict) and set(c) == COUNT_KEYS and c["event"] in trace_events
                and all(isinstance(c[k], int) and not isinstance(c[k], bool) for k in ("window", "min", "max"))
                and 0 <= c["min"] <= c["max"]):
            raise ScenarioError(f"[trace] counts: each takes {sorted(COUNT_KEYS)} (an event of [trace] events, "
                                f"window/min/max integers, 0 <= min <= max)")
        trace_counts.append(trace.Count(c["event"], c["window"], c["min"], c["max"]))
    trace_delimiter = None
    if "delimiter" in trace_spec or trace_counts:
        if not trace_counts:
            raise ScenarioError("[trace] delimiter without counts")
        trace_delimiter = _regexes([trace_spec.get("delimiter", "")], "trace delimiter")[0]
        if not trace_spec.get("delimiter"):
            raise ScenarioError("[trace] counts need a delimiter (a regex for the lines between windows)")
    if bool(trace_events) != bool(trace_markers):
        raise ScenarioError("[trace] needs both events and markers (a trace nobody checks proves nothing)")
    net = None
    if "network" in data:
        try:
            net = network.parse(data["network"])
        except network.NetworkSpecError as e:
            raise ScenarioError(str(e))
        if devices == "default":
            raise ScenarioError("[network] adds its own NIC (netdev n0): give devices as a list or 'none' "
                                "(the default set has a NIC of its own)")
        defined = {name for m in markers for name in m.defines}
        for c in network.captures_used(net):
            if c not in defined:
                raise ScenarioError(f"[[network.udp_sink]] uses {{capture:{c}}}, which no marker defines")
    default_disks = list(qemu.DEFAULT_DISKS) if devices == "default" else []
    image_checks = _image_checks(data, disks + default_disks, disk_fill)
    record_checks = _record_checks(data, disks + default_disks, disk_fill)
    lanes = _lanes(data, disk_fill)
    return Scenario(name, desc.strip(), fmt, firmware, cmdline, modules, devices, qemu_args,
                    disks, memory, smp, markers, forbidden, end, float(timeout), names, inputs,
                    trace_events, trace_markers, trace_forbidden, trace_counts, trace_delimiter, disk_fill,
                    image_checks, record_checks, net, lanes)


def load(path: Path, build_dir: Path) -> Scenario:
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: {e}")
    except OSError as e:
        raise ScenarioError(f"{path}: {e}")
    try:
        return validate(Path(path).stem, data, build_dir)
    except ScenarioError as e:
        raise ScenarioError(f"{path}: {e}")
