#!/usr/bin/env python3
"""Run one QEMU scenario (a .toml file next to this script) against a kernel.

    run_scenario.py --build-dir build --kernel build/kernel/sluice-kernel \
                    [--accel tcg|kvm] [--keep] [--verbose] tests/scenarios/boot_bios.toml

Builds the scenario's boot image (its own command line and modules), boots it
in QEMU (scripts/qemu.py), watches the serial log for the expected markers in
order and for forbidden patterns, types the scenario's [[input]] lines into
COM1 when their trigger appears, runs the scenario's host-side checks
(checks.py) at the moment they become possible, ends the run the way the
scenario says (guest poweroff, QMP quit, or kernel panic) and enforces the
timeout.

COM1 is a unix socket the harness listens on (SerialLink): QEMU connects to it
while starting, a reader thread appends everything the guest prints to the
run directory's serial.log (which the watch loop, checks and failure reports
read), and typed input is written to the same socket.

Exit status 0 = pass, 1 = fail, 2 = bad scenario/usage.

The schema is documented in docs/testing.md; validate() below is its
definition.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(HERE))

import checks  # noqa: E402
import mkimage  # noqa: E402
import qemu  # noqa: E402
from qmp import Qmp, QmpError  # noqa: E402

BASE_CMDLINE = "console=com1 loglevel=info"
SERIAL_TAIL_LINES = 300
QUIT_GRACE_SECONDS = 10
PANIC_DRAIN_SECONDS = 3
SERIAL_CONNECT_SECONDS = 10   # QEMU connects to the serial socket while it starts
SERIAL_DRAIN_SECONDS = 2      # after QEMU exits, until the reader has seen EOF
SERIAL_SEND_SECONDS = 5       # a guest that never reads COM1 makes sendall block
POLL_SECONDS = 0.05           # the watch loop's pass interval when the guest is quiet ...
MIN_PASS_SECONDS = 0.01       # ... and, woken by output, at most one pass per this
SOCKET_PATH_MAX = 100         # sun_path is 108 bytes

# Firmware / bootloader dead ends: fail at once instead of waiting for the
# timeout. (Not GRUB's bare "error: ..." lines: some are harmless, e.g. "no
# suitable video mode found" under OVMF without a display.)
BOOT_FAILURE_PATTERNS = [
    (re.compile(r"Press any key to continue"), "GRUB could not boot the entry"),
    (re.compile(r"No bootable device"), "firmware found no bootable device"),
    (re.compile(r"Boot failed: "), "SeaBIOS could not boot the image"),
    (re.compile(r"BdsDxe: failed to (load|start) Boot"), "OVMF could not start GRUB"),
    (re.compile(r"grub rescue>"), "GRUB fell into rescue mode"),
    (re.compile(r"^grub> ", re.M), "GRUB fell into its command line"),
    (re.compile(r"UEFI Interactive Shell"), "OVMF fell into the UEFI shell"),
]

ANSI_RE = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\r")

TOP_KEYS = {"description", "format", "firmware", "cmdline", "modules", "devices", "qemu_args", "disks",
            "memory", "smp", "markers", "forbidden", "end", "timeout", "checks", "input", "trace",
            "disk_fill", "image_checks"}
TRACE_KEYS = {"events", "markers", "forbidden"}
MODULE_KEYS = {"name", "path", "source", "generate"}
INPUT_KEYS = {"after", "send", "delay_ms"}
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
class Input:
    after: re.Pattern            # wait until this matches the serial log ...
    send: bytes                  # ... then type these bytes into COM1
    delay_ms: int = 0            # ... this long after the match


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
    markers: list[re.Pattern]
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
    # disk image name -> the bytes the harness writes at its start before
    # boot (markers may quote them as {disk_hex:NAME:OFFSET:LEN} and
    # {disk_sha256:NAME:OFFSET:LEN})
    disk_fill: dict[str, bytes] = field(default_factory=dict)
    # [[image_checks]]: byte ranges of disk images checked after QEMU exits
    image_checks: list["ImageCheck"] = field(default_factory=list)

    def full_cmdline(self) -> str:
        parts = [BASE_CMDLINE]
        if self.cmdline:
            parts.append(self.cmdline)
        if self.end == "poweroff" and "exit=poweroff" not in self.cmdline:
            parts.append("exit=poweroff")
        return " ".join(parts)


DISK_HEX_RE = re.compile(r"\{disk_(hex|sha256):([A-Za-z0-9._-]+):(\d+):(\d+)\}")


@dataclass
class ImageCheck:
    """[[image_checks]] disk, offset, length and what the bytes must be:
    pattern_seed = S (util/pattern.h, as the guest's blk write-pattern
    writes it) or original = true (exactly what [disk_fill] put there, zeros
    past it: nothing was written)."""
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


def pattern_bytes(seed: int, offset: int, length: int) -> bytes:
    """util::fill_pattern (lib/util/pattern.h), recomputed on the host."""
    mask = (1 << 64) - 1
    golden = 0x9E3779B97F4A7C15
    out = bytearray()
    for a in range(offset, offset + length, 8):
        z = (seed * golden + (a >> 3) + golden) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out += (z ^ (z >> 31)).to_bytes(8, "little")
    return bytes(out)


def _image_checks(data, disks: list[str], fill: dict[str, bytes]) -> list[ImageCheck]:
    out = []
    for i, c in enumerate(data.get("image_checks", [])):
        if not isinstance(c, dict) or set(c) - {"disk", "offset", "length", "pattern_seed", "original", "zeros"}:
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


def check_images(sc: Scenario, run: Run) -> None:
    for c in sc.image_checks:
        path = run.run_dir / f"{c.disk}.img"
        with open(path, "rb") as f:
            f.seek(c.offset)
            got = f.read(c.length)
        if c.pattern_seed is not None:
            want = pattern_bytes(c.pattern_seed, c.offset, c.length)
        elif c.zeros:
            want = bytes(c.length)
        else:
            base = sc.disk_fill.get(c.disk, b"")[c.offset:c.offset + c.length]
            want = base + bytes(c.length - len(base))
        if got == want:
            run.notes.append(f"image check: {c.describe()}")
            continue
        if len(got) != len(want):
            run.fail(f"image check: {c.describe()}: the image ends {len(got)} bytes into the range")
            continue
        first = next(i for i in range(len(want)) if got[i] != want[i])
        bad = sum(1 for i in range(len(want)) if got[i] != want[i])
        run.fail(f"image check: {c.describe()}: {bad} bytes differ, first at byte {c.offset + first} "
                 f"(image {got[first:first + 8].hex()}, expected {want[first:first + 8].hex()})")


def _disk_fill(data) -> dict[str, bytes]:
    """[disk_fill] NAME = { size = N, seed = S }: random bytes the harness
    writes at the start of disk image NAME (truth the guest must read back)."""
    fill = data.get("disk_fill", {})
    if not isinstance(fill, dict):
        raise ScenarioError("[disk_fill] must be a table of NAME = { size = N, seed = S }")
    out = {}
    for name, spec in fill.items():
        if (not mkimage.MODULE_NAME_RE.match(name) or not isinstance(spec, dict) or set(spec) != {"size", "seed"}
                or not all(isinstance(spec[k], int) for k in spec) or not 0 < spec["size"] <= 64 << 20):
            raise ScenarioError(f"[disk_fill] {name}: give {{ size = 1..64M, seed = S }}")
        out[name] = random.Random(spec["seed"]).randbytes(spec["size"])
    return out


def _expand_disk_hex(text: str, fill: dict[str, bytes]) -> str:
    def one(m: re.Match) -> str:
        kind, name, off, length = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        if name not in fill or off + length > len(fill[name]):
            raise ScenarioError(f"{m.group(0)}: not inside [disk_fill] {name}")
        data = fill[name][off:off + length]
        return data.hex() if kind == "hex" else hashlib.sha256(data).hexdigest()
    return DISK_HEX_RE.sub(one, text)


def _regexes(values, key, fill: dict[str, bytes] | None = None) -> list[re.Pattern]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ScenarioError(f"{key} must be a list of regex strings")
    values = [_expand_disk_hex(v, fill or {}) for v in values]
    out = []
    for v in values:
        try:
            out.append(re.compile(v, re.M))
        except re.error as e:
            raise ScenarioError(f"{key}: bad regex {v!r}: {e}")
    return out


def _inputs(values) -> list[Input]:
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
        try:
            after = re.compile(v["after"], re.M)
        except re.error as e:
            raise ScenarioError(f"{where}: bad regex {v['after']!r}: {e}")
        send = v.get("send")
        if not isinstance(send, str) or not send:
            raise ScenarioError(f"{where}: send (the text to type, e.g. \"ps\\r\") is required")
        delay = v.get("delay_ms", 0)
        if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
            raise ScenarioError(f"{where}: delay_ms must be a non-negative integer")
        out.append(Input(after, send.encode("utf-8"), delay))
    return out


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

    modules = []
    for i, m in enumerate(data.get("modules", [])):
        if not isinstance(m, dict):
            raise ScenarioError("modules must be an array of tables ([[modules]])")
        bad = set(m) - MODULE_KEYS
        if bad:
            raise ScenarioError(f"modules[{i}]: unknown keys {sorted(bad)}")
        mname = m.get("name")
        if not isinstance(mname, str) or not mkimage.MODULE_NAME_RE.match(mname):
            raise ScenarioError(f"modules[{i}]: name must match {mkimage.MODULE_NAME_RE.pattern}")
        sources = [k for k in ("path", "source", "generate") if k in m]
        if len(sources) != 1:
            raise ScenarioError(f"module {mname}: give exactly one of path (relative to the "
                                "build dir), source (relative to the repo) or generate")
        if "generate" in m:
            g = m["generate"]
            if (not isinstance(g, dict) or set(g) != {"size", "seed"}
                    or not all(isinstance(g[k], int) for k in g) or g["size"] < 0):
                raise ScenarioError(f"module {mname}: generate = {{ size = N, seed = S }}")
            modules.append(Module(mname, generate=(g["size"], g["seed"])))
        else:
            base = build_dir if "path" in m else REPO
            p = Path(m[sources[0]])
            modules.append(Module(mname, path=p if p.is_absolute() else base / p))
    if len({m.name for m in modules}) != len(modules):
        raise ScenarioError("module names must be unique")

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
    if not (isinstance(disks, list) and all(isinstance(d, str) and mkimage.MODULE_NAME_RE.match(d)
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
    markers = _regexes(data.get("markers", []), "markers", disk_fill)
    if not markers:
        raise ScenarioError("markers: at least one expected marker is required")
    forbidden = _regexes(data.get("forbidden", []), "forbidden")
    if end != "panic" and not any(f.pattern == "PANIC:" for f in forbidden):
        forbidden.insert(0, re.compile("PANIC:"))
    if end == "panic" and not any("PANIC" in m.pattern for m in markers):
        raise ScenarioError("end = 'panic' needs a marker for the PANIC: report")
    timeout = data.get("timeout", 60)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
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
        raise ScenarioError("modules_match without [[modules]]")
    memory = str(data.get("memory", "1G"))
    smp = data.get("smp", 1)
    if not isinstance(smp, int) or smp < 1:
        raise ScenarioError("smp must be a positive integer")
    inputs = _inputs(data.get("input", []))
    trace = data.get("trace", {})
    if not isinstance(trace, dict) or set(trace) - TRACE_KEYS:
        raise ScenarioError(f"[trace] takes {sorted(TRACE_KEYS)}")
    trace_events = trace.get("events", [])
    if not (isinstance(trace_events, list) and all(isinstance(e, str) and re.fullmatch(r"[a-z0-9_*]+", e)
                                                   for e in trace_events)):
        raise ScenarioError("[trace] events must be a list of QEMU trace event names")
    trace_markers = _regexes(trace.get("markers", []), "trace markers")
    trace_forbidden = _regexes(trace.get("forbidden", []), "trace forbidden")
    if bool(trace_events) != bool(trace_markers):
        raise ScenarioError("[trace] needs both events and markers (a trace nobody checks proves nothing)")
    default_disks = ["nvme0", "vblk0"] if devices == "default" else []  # scripts/qemu.py default_devices
    image_checks = _image_checks(data, disks + default_disks, disk_fill)
    return Scenario(name, desc.strip(), fmt, firmware, cmdline, modules, devices, qemu_args,
                    disks, memory, smp, markers, forbidden, end, float(timeout), names, inputs,
                    trace_events, trace_markers, trace_forbidden, disk_fill, image_checks)


def load_scenario(path: Path, build_dir: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: {e}")
    try:
        return validate(path.stem, data, build_dir)
    except ScenarioError as e:
        raise ScenarioError(f"{path}: {e}")


# ---------------------------------------------------------------------------


def clean_text(raw: bytes) -> str:
    """Serial bytes -> text for matching and printing (ANSI escapes and CR dropped)."""
    return ANSI_RE.sub("", raw.decode("utf-8", errors="replace"))


class SerialLink:
    """COM1 of one QEMU run, both ways, over a unix stream socket.

    The harness listens (listen(), before QEMU starts) and QEMU connects as a
    client (scripts/qemu.py serial mode socket:PATH) while it initialises, i.e.
    before the guest executes anything, so no output can be lost; until the
    harness accepts, the kernel queues it in the socket, and QEMU's UART stops
    transmitting (guest sees a busy THR) rather than dropping bytes.

    A reader thread appends every byte the guest prints to `log_path` (flushed
    at once, so the watch loop, checks and failure reports can read the file
    as before) and sets `activity` so the watch loop wakes without waiting for
    its poll interval. send() writes typed bytes to the guest's receiver; they
    never appear in the log (no echo is faked).
    """

    def __init__(self, sock_path: Path, log_path: Path):
        self.sock_path = Path(sock_path)
        self.log_path = Path(log_path)
        self.activity = threading.Event()
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.error: str | None = None

    def listen(self) -> None:
        if len(str(self.sock_path)) > SOCKET_PATH_MAX:
            raise ScenarioError(f"serial socket path too long for a unix socket: {self.sock_path}")
        self.sock_path.unlink(missing_ok=True)
        self.log_path.touch()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(self.sock_path))
        s.listen(1)
        self._listener = s

    def accept(self, timeout: float, alive=None) -> None:
        """Wait for QEMU's connection; gives up early once alive() is False."""
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self._listener], [], [], POLL_SECONDS)
            if ready:
                break
            if alive is not None and not alive():
                raise ScenarioError("QEMU exited before connecting to the serial socket")
            if time.monotonic() > deadline:
                raise ScenarioError(f"QEMU did not connect to the serial socket {self.sock_path} "
                                    f"within {timeout:g} s")
        conn, _ = self._listener.accept()
        self._listener.close()
        self._listener = None
        conn.settimeout(SERIAL_SEND_SECONDS)  # bounds sendall; the reader handles timeouts
        self._conn = conn
        self._thread = threading.Thread(target=self._read_loop, name="serial-reader", daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        try:
            with open(self.log_path, "ab") as log:
                while True:
                    try:
                        chunk = self._conn.recv(65536)
                    except (socket.timeout, TimeoutError):
                        continue
                    except OSError as e:
                        if not self._closed.is_set():
                            self.error = f"serial socket read failed: {e}"
                        return
                    if not chunk:
                        return  # QEMU exited (or closed COM1)
                    log.write(chunk)
                    log.flush()
                    self.activity.set()
        finally:
            self._closed.set()
            self.activity.set()

    def send(self, data: bytes) -> None:
        if self._conn is None:
            raise OSError("serial socket not connected")
        self._conn.sendall(data)

    def wait_closed(self, timeout: float) -> bool:
        """After QEMU exited: wait until everything it printed is in the log."""
        return self._closed.wait(timeout) if self._thread is not None else True

    def close(self) -> None:
        self._closed.set()
        for s in (self._conn, self._listener):
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        if self._thread is not None:
            self._thread.join(SERIAL_DRAIN_SECONDS)
        self.sock_path.unlink(missing_ok=True)


class InputFeeder:
    """Decides when each [[input]] is due; pure, so the self-test can drive it.

    Input i waits for its `after` regex to match the (cleaned) serial text at
    or beyond the end of input i-1's match, then for its delay_ms, and is then
    due. poll() returns the inputs due now, in order.
    """

    def __init__(self, inputs: list[Input]):
        self.inputs = inputs
        self.next = 0          # index of the first input not yet due
        self.pos = 0           # where the next input's `after` is searched from
        self._due_at: float | None = None  # set once the next input's `after` matched

    @property
    def done(self) -> bool:
        return self.next == len(self.inputs)

    @property
    def triggered(self) -> bool:
        """The next input's `after` matched; only its delay_ms is still running."""
        return self._due_at is not None

    def poll(self, text: str, now: float) -> list[tuple[int, Input]]:
        due = []
        while self.next < len(self.inputs):
            inp = self.inputs[self.next]
            if self._due_at is None:
                m = inp.after.search(text, self.pos)
                if not m:
                    break
                self.pos = m.end()
                self._due_at = now + inp.delay_ms / 1000
            if now < self._due_at:
                break
            due.append((self.next, inp))
            self.next += 1
            self._due_at = None
        return due

    def waiting_for(self) -> str:
        inp = self.inputs[self.next]
        if self.triggered:
            return f"input #{self.next + 1} (its delay_ms {inp.delay_ms})"
        return f"input #{self.next + 1}'s trigger /{inp.after.pattern}/"


@dataclass
class Run:
    scenario: Scenario
    accel: str
    run_dir: Path
    cmd: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    serial_path: Path | None = None
    qemu_out_path: Path | None = None
    expected_modules: list[tuple[str, int]] = field(default_factory=list)

    def fail(self, msg: str) -> None:
        self.failures.append(msg)


def prepare_modules(sc: Scenario, run_dir: Path) -> list[tuple[str, Path]]:
    out = []
    for m in sc.modules:
        if m.generate is not None:
            size, seed = m.generate
            p = run_dir / "modules" / m.name
            p.parent.mkdir(exist_ok=True)
            p.write_bytes(random.Random(seed).randbytes(size))
            out.append((m.name, p))
        else:
            if not m.path.is_file():
                raise ScenarioError(f"module {m.name}: {m.path} does not exist")
            out.append((m.name, m.path))
    return out


def run_live_check(name: str, run: Run, qmp: Qmp | None, log: str) -> None:
    if name == "pci_matches_qmp":
        if qmp is None:
            run.fail("pci_matches_qmp: no QMP connection")
            return
        diffs = pci_check(qmp, log)
    else:
        diffs = [f"no live implementation for {name}"]
    report_check(run, name, diffs)


def run_log_check(name: str, run: Run, log: str) -> None:
    if name == "modules_match":
        report_check(run, name, checks.compare_modules(run.expected_modules, log))
    else:
        report_check(run, name, [f"no implementation for {name}"])


def report_check(run: Run, name: str, diffs: list[str]) -> None:
    if diffs:
        run.fail(f"check {name} failed:\n" + "\n".join(f"    - {d}" for d in diffs))
    else:
        run.notes.append(f"check {name}: ok")


def pci_check(qmp: Qmp, log: str) -> list[str]:
    kernel, summary, problems = checks.parse_kernel_pci(log)
    buses = qmp.command("query-pci")
    ecam = checks.ecam_base_from_mtree(qmp.hmp("info mtree"))
    diffs = list(problems)
    if ecam is None:
        diffs.append("cannot find the PCIe ECAM window (pcie-mmcfg-mmio) in `info mtree`: "
                     "prog-if, revision and MSI/MSI-X cannot be checked")
    qemu_view: dict[str, checks.PciFunction] = {}
    for dev in checks.flatten_query_pci(buses):
        config = None
        if ecam is not None:
            addr = ecam + (dev["bus"] << 20) + (dev["slot"] << 15) + (dev["function"] << 12)
            config = checks.parse_xp_words(qmp.hmp(f"xp /64wx {addr:#x}"))
            if len(config) != 256:
                diffs.append(f"short config space read at {addr:#x}")
                config = None
            elif checks.config_dword(config, 0) != dev["id"]["vendor"] | (dev["id"]["device"] << 16):
                diffs.append(f"ECAM read at {addr:#x} disagrees with query-pci ids "
                             f"(ECAM window not where `info mtree` says?)")
                config = None
        f = checks.qemu_function(dev, config)
        qemu_view[f.bdf] = f
    diffs += checks.compare_pci(kernel, qemu_view, summary, checks.count_reached_buses(buses))
    return diffs


def execute(sc: Scenario, run: Run, kernel: Path, build_dir: Path, verbose: bool) -> None:
    modules = prepare_modules(sc, run.run_dir)
    run.expected_modules = [(n, p.stat().st_size) for n, p in modules]
    image = run.run_dir / ("boot.iso" if sc.format == "iso" else "boot.img")
    t0 = time.monotonic()
    mkimage.build_image(sc.format, kernel, sc.full_cmdline(), modules, image,
                        cache_dir=build_dir / "image-cache")
    run.notes.append(f"image {sc.format} built in {time.monotonic() - t0:.1f} s")

    run.serial_path = run.run_dir / "serial.log"
    run.qemu_out_path = run.run_dir / "qemu.out"
    sock_dir = run.run_dir
    if len(str(sock_dir / "serial.sock")) > SOCKET_PATH_MAX:
        sock_dir = Path(tempfile.mkdtemp(prefix="sluice-sock-"))
    qmp_sock = sock_dir / "qmp.sock"
    link = SerialLink(sock_dir / "serial.sock", run.serial_path)
    for d in sc.disks:
        qemu.ensure_disk_image(run.run_dir / f"{d}.img")
    if isinstance(sc.devices, list):
        devices, extra = "none", list(sc.devices) + sc.qemu_args
    else:
        devices, extra = sc.devices, list(sc.qemu_args)
    extra = [a.format(run_dir=run.run_dir, repo=REPO) for a in extra]
    for event in sc.trace_events:
        extra += ["-trace", event]
    if sc.trace_events:
        extra += ["-D", str(run.run_dir / "qemu-trace.log")]
    cfg = qemu.QemuConfig(image=image, image_format=sc.format, firmware=sc.firmware,
                          accel=run.accel, memory=sc.memory, smp=sc.smp, devices=devices,
                          disk_dir=run.run_dir, run_dir=run.run_dir,
                          serial=f"socket:{link.sock_path}", qmp_socket=qmp_sock,
                          extra_args=extra)
    run.cmd = qemu.build_command(cfg)
    for disk, content in sc.disk_fill.items():
        path = run.run_dir / f"{disk}.img"
        if not path.exists():
            raise ScenarioError(f"[disk_fill] {disk}: no disk image {path} in this configuration")
        with open(path, "r+b") as f:
            f.write(content)
    qemu.announce(cfg, run.cmd, stream=sys.stdout)

    link.listen()  # before QEMU starts: it connects while initialising
    with open(run.qemu_out_path, "wb") as qout:
        proc = subprocess.Popen(run.cmd, stdin=subprocess.DEVNULL, stdout=qout,
                                stderr=subprocess.STDOUT, start_new_session=True)
    start = time.monotonic()
    deadline = start + sc.timeout
    qmp: Qmp | None = None
    try:
        alive = lambda: proc.poll() is None  # noqa: E731
        connected = False
        try:
            link.accept(SERIAL_CONNECT_SECONDS, alive=alive)
            connected = True
        except ScenarioError as e:
            if proc.poll() is None:
                run.fail(str(e))
            # else: QEMU died at once; watch() reports its exit status and output
        if connected:
            try:
                qmp = Qmp(qmp_sock, connect_timeout=10, alive=alive)
            except QmpError as e:
                if proc.poll() is None:
                    run.fail(f"cannot talk to QEMU over QMP: {e}")
                # else: QEMU died at once; reported below with its output
        if connected or proc.poll() is not None:
            watch(sc, run, proc, qmp, link, deadline, verbose, start)
    finally:
        if proc.poll() is None:
            qemu.kill_group(proc)
        if qmp is not None:
            qmp.close()
        link.close()
        if sock_dir != run.run_dir:
            shutil.rmtree(sock_dir, ignore_errors=True)
    run.notes.append(f"QEMU ran {time.monotonic() - start:.1f} s")


def watch(sc: Scenario, run: Run, proc: subprocess.Popen, qmp: Qmp | None, link: SerialLink,
          deadline: float, verbose: bool, start: float) -> None:
    pending_checks = list(sc.checks)
    feeder = InputFeeder(sc.inputs)
    marker_pos = 0
    next_marker = 0
    quit_sent = False
    timed_out = False
    text = ""
    with open(run.serial_path, "rb") as serial:
        raw = b""

        def read_serial() -> str:
            nonlocal raw, text
            chunk = serial.read()
            if chunk:
                raw += chunk
                text = clean_text(raw)
                if verbose:
                    sys.stdout.write(clean_text(chunk))
                    sys.stdout.flush()
            return text

        first = True
        while True:
            pass_start = time.monotonic()
            exited = proc.poll() is not None
            if exited:
                link.wait_closed(SERIAL_DRAIN_SECONDS)  # the last output reaches the log
            link.activity.clear()  # before reading: output arriving after this wakes the wait below
            before = len(raw)
            text = read_serial()
            if len(raw) != before or exited or first:
                first = False
                # markers, in order
                while next_marker < len(sc.markers):
                    m = sc.markers[next_marker].search(text, marker_pos)
                    if not m:
                        break
                    marker_pos = m.end()
                    next_marker += 1
                # forbidden patterns and boot dead ends fail at once
                hit = next((f for f in sc.forbidden if f.search(text)), None)
                if hit is not None:
                    run.fail(f"forbidden pattern /{hit.pattern}/ appeared in the serial log")
                    if "PANIC" in hit.pattern:
                        if wait_exit(proc, PANIC_DRAIN_SECONDS):  # let the report finish
                            link.wait_closed(SERIAL_DRAIN_SECONDS)
                        text = read_serial()
                    break
                dead_end = next((why for rx, why in BOOT_FAILURE_PATTERNS if rx.search(text)), None)
                if dead_end is not None:
                    run.fail(f"boot failed before the kernel ran: {dead_end}")
                    break
                # checks whose moment has come
                for name in list(pending_checks):
                    spec = checks.CHECKS[name]
                    if spec.ready.search(text) and (not spec.live or not exited):
                        if spec.live:
                            try:
                                run_live_check(name, run, qmp, text)
                            except (QmpError, OSError) as e:
                                run.fail(f"check {name}: QMP failed: {e}")
                        else:
                            run_log_check(name, run, text)
                        pending_checks.remove(name)
                if exited:
                    break
            # typed input whose moment has come (a delay_ms can expire without new output)
            now = time.monotonic()
            try:
                for i, inp in feeder.poll(text, now):
                    link.send(inp.send)
                    run.notes.append(f"input #{i + 1}: typed {inp.send.decode('utf-8')!r} at "
                                     f"{now - start:.1f} s (after /{inp.after.pattern}/)")
                    if verbose:
                        sys.stdout.write(f"[harness typed {inp.send.decode('utf-8')!r}]\n")
                        sys.stdout.flush()
            except OSError as e:
                run.fail(f"typing input #{feeder.next + 1} into the serial port failed: {e}")
                break
            if (sc.end == "kill" and not quit_sent and next_marker == len(sc.markers)
                    and not pending_checks and feeder.done):
                quit_sent = True
                qemu.kill_group(proc)  # SIGKILL: nothing QEMU has buffered is written
                wait_exit(proc, QUIT_GRACE_SECONDS)
                continue
            if (sc.end == "quit" and not quit_sent and next_marker == len(sc.markers)
                    and not pending_checks and feeder.done):
                quit_sent = True
                try:
                    qmp.command("quit")
                except (QmpError, OSError, AttributeError) as e:
                    run.fail(f"QMP quit failed: {e}")
                    break
                if not wait_exit(proc, QUIT_GRACE_SECONDS):
                    run.fail(f"QEMU did not exit within {QUIT_GRACE_SECONDS} s of QMP quit")
                    break
                continue
            if time.monotonic() > deadline:
                timed_out = True
                break
            link.activity.wait(POLL_SECONDS)
            rest = pass_start + MIN_PASS_SECONDS - time.monotonic()
            if rest > 0:
                time.sleep(rest)  # coalesce a burst of output into one pass

    killed = proc.poll() is None
    if killed:
        qemu.kill_group(proc)
    link.wait_closed(SERIAL_DRAIN_SECONDS)
    if link.error:
        run.fail(link.error)
    text = read_serial_final(run)
    events = qmp.drain_events(0.5) if qmp is not None else []
    rc = proc.returncode

    if timed_out:
        waiting = []
        if next_marker < len(sc.markers):
            waiting.append(f"marker #{next_marker + 1} /{sc.markers[next_marker].pattern}/")
        if not feeder.done:
            waiting.append(feeder.waiting_for())
        if pending_checks and not waiting:
            waiting.append(f"checks {pending_checks}")
        run.fail(f"timeout after {sc.timeout:g} s (QEMU killed): "
                 + (f"still waiting for {' and '.join(waiting)}" if waiting else
                    "all markers seen; QEMU did not exit as the scenario's end expects"))
    # markers
    if next_marker < len(sc.markers) and not timed_out:
        run.fail(f"marker #{next_marker + 1} /{sc.markers[next_marker].pattern}/ never appeared"
                 + (f" (after marker #{next_marker} matched)" if next_marker else ""))
    # typed input
    if not feeder.done and not timed_out:
        run.fail(f"input #{feeder.next + 1} was never typed: "
                 + ("QEMU exited during its delay_ms" if feeder.triggered else
                    f"its trigger /{sc.inputs[feeder.next].after.pattern}/ never appeared")
                 + (f" (after input #{feeder.next} was typed)" if feeder.next else ""))
    for name in pending_checks:
        spec = checks.CHECKS[name]
        if spec.ready.search(text) and not spec.live:
            run_log_check(name, run, text)
        else:
            run.fail(f"check {name} never ran: its trigger /{spec.ready.pattern}/ "
                     + ("did not appear" if not spec.ready.search(text)
                        else "appeared only after QEMU exited"))
    if sc.trace_markers and not timed_out:
        check_trace(sc, run)
    if sc.image_checks and not timed_out:
        check_images(sc, run)
    # how QEMU ended (unless the harness had to kill it: then a failure or
    # the timeout above already says why)
    if timed_out or killed:
        return
    shutdown = [e for e in events if e.get("event") == "SHUTDOWN"]
    reason = shutdown[-1].get("data", {}).get("reason") if shutdown else None
    if sc.end == "kill":
        if not quit_sent:
            run.fail(f"QEMU exited by itself (status {rc}) before the harness killed it")
        return
    if rc not in (0, qemu.PANIC_EXIT_STATUS):
        run.fail(f"QEMU exited with status {rc}: a QEMU error, not a guest exit (see QEMU output)")
    elif rc == qemu.PANIC_EXIT_STATUS and sc.end != "panic":
        run.fail("QEMU exit status 3: the kernel panicked (isa-debug-exit)")
    elif sc.end == "panic":
        if rc != qemu.PANIC_EXIT_STATUS:
            run.fail(f"expected a panic (QEMU exit status 3), got exit status {rc}")
    elif sc.end == "poweroff":
        if rc != 0:
            run.fail(f"expected ACPI poweroff (QEMU exit status 0), got exit status {rc}")
        elif qmp is not None and reason not in (None, "guest-shutdown"):
            run.fail(f"QEMU exited 0 but not by guest poweroff: SHUTDOWN reason {reason!r} "
                     "(guest-reset = triple fault or reset)")
        elif qmp is not None and reason is None:
            run.notes.append("no SHUTDOWN event seen on QMP; relied on exit status 0")
    elif sc.end == "quit":
        if not quit_sent:
            run.fail(f"QEMU exited by itself (status {rc}, shutdown reason {reason!r}) "
                     "before the harness sent quit")
        elif rc != 0:
            run.fail(f"QEMU exit status {rc} after QMP quit")


def check_trace(sc: Scenario, run: Run) -> None:
    """The [trace] markers, in order, over QEMU's own trace log."""
    path = run.run_dir / "qemu-trace.log"
    try:
        trace = path.read_text(errors="replace")
    except OSError as e:
        run.fail(f"QEMU trace log {path} unreadable: {e} (is this QEMU built with the log trace backend?)")
        return
    pos = 0
    for i, m in enumerate(sc.trace_markers):
        hit = m.search(trace, pos)
        if not hit:
            run.fail(f"trace marker #{i + 1} /{m.pattern}/ not in QEMU's trace log"
                     + (f" after trace marker #{i}" if i else "") + f" ({path})")
            return
        pos = hit.end()
    for f in sc.trace_forbidden:
        hit = f.search(trace)
        if hit:
            line = trace[trace.rfind("\n", 0, hit.start()) + 1:].split("\n", 1)[0]
            run.fail(f"forbidden trace pattern /{f.pattern}/ in QEMU's trace log: {line!r} ({path})")
            return
    run.notes.append(f"trace: {len(sc.trace_markers)} markers in order in QEMU's trace log"
                     + (f", none of {len(sc.trace_forbidden)} forbidden patterns" if sc.trace_forbidden else ""))


def read_serial_final(run: Run) -> str:
    try:
        return clean_text(run.serial_path.read_bytes())
    except OSError:
        return ""


def wait_exit(proc: subprocess.Popen, seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def tail(text: str, lines: int) -> str:
    ls = text.splitlines()
    if len(ls) <= lines:
        return text
    return f"[... {len(ls) - lines} earlier lines omitted ...]\n" + "\n".join(ls[-lines:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run one Sluice QEMU scenario.")
    p.add_argument("--build-dir", type=Path, required=True)
    p.add_argument("--kernel", type=Path, required=True)
    p.add_argument("--accel", choices=["tcg", "kvm"], default="tcg")
    p.add_argument("--keep", action="store_true", help="keep the run directory on success")
    p.add_argument("--verbose", "-v", action="store_true", help="echo the serial log live")
    p.add_argument("scenario", type=Path)
    a = p.parse_args(argv)

    build_dir = a.build_dir.resolve()
    try:
        sc = load_scenario(a.scenario, build_dir)
    except ScenarioError as e:
        print(f"scenario error: {e}")
        return 2
    print(f"scenario {sc.name}: {' '.join(sc.description.split())}")
    print(f"scenario {sc.name}: accelerator {a.accel}, {sc.format} image, {sc.firmware} firmware, "
          f"end {sc.end}, timeout {sc.timeout:g} s")
    runs_root = build_dir / "scenario-runs"
    runs_root.mkdir(parents=True, exist_ok=True)
    run = Run(sc, a.accel, Path(tempfile.mkdtemp(prefix=f"{sc.name}.", dir=runs_root)))
    t0 = time.monotonic()
    try:
        execute(sc, run, a.kernel.resolve(), build_dir, a.verbose)
    except (ScenarioError, mkimage.ImageError, qemu.QemuError) as e:
        run.fail(str(e))
    elapsed = time.monotonic() - t0

    for n in run.notes:
        print(f"  {n}")
    if not run.failures:
        print(f"PASS {sc.name} in {elapsed:.1f} s (accelerator {a.accel})")
        if not a.keep:
            shutil.rmtree(run.run_dir, ignore_errors=True)
        return 0

    print(f"FAIL {sc.name} after {elapsed:.1f} s (accelerator {a.accel})")
    for f in run.failures:
        print(f"  * {f}")
    if run.cmd:
        print("QEMU command line:")
        print("  " + qemu.format_command(run.cmd))
    print(f"kernel command line: {sc.full_cmdline()}")
    print(f"run directory (kept): {run.run_dir}")
    if run.serial_path is not None:
        text = read_serial_final(run)
        print(f"----- serial log ({run.serial_path}) -----")
        print(tail(text, SERIAL_TAIL_LINES).rstrip() or "(empty)")
        print("----- end of serial log -----")
    if run.qemu_out_path is not None and run.qemu_out_path.exists():
        out = run.qemu_out_path.read_text(errors="replace").strip()
        if out:
            print("----- QEMU output -----")
            print(tail(out, 50))
            print("----- end of QEMU output -----")
    return 1


if __name__ == "__main__":
    sys.exit(main())
