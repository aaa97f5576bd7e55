"""COM1: the guest's serial port as the harness sees it.

SerialLink  COM1 both ways over a unix socket QEMU connects to (scenarios:
            typed input); a reader thread appends what the guest prints to
            serial.log.
SerialLog   that log (or one QEMU writes itself with -serial file:), read
            incrementally and cleaned (ANSI escapes and CR dropped) for
            matching and printing.
Pattern     a regex from a scenario that may name captures: a named group
            `(?P<NAME>...)` captures what it matched, `{capture:NAME}` in a
            later marker, trigger or typed text stands for it (escaped in a
            regex). So a marker can match any pid and still require that a
            later line names the same process, and an input can act on it
            (`kill {capture:nvme}`).
Markers     ordered markers: each searched from the end of the previous match;
            after the run, the ones the boot log alone would satisfy.
InputFeeder when each typed input is due.
dead_end    firmware / bootloader dead ends that fail a boot at once.
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SERIAL_SEND_SECONDS = 5       # a guest that never reads COM1 makes sendall block
SERIAL_DRAIN_SECONDS = 2      # after QEMU exits, until the reader has seen EOF
POLL_SECONDS = 0.05
SOCKET_PATH_MAX = 100         # sun_path is 108 bytes

ANSI_RE = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\r")

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


class SerialError(Exception):
    """The serial connection to QEMU failed."""


def clean_text(raw: bytes) -> str:
    """Serial bytes -> text for matching and printing (ANSI escapes and CR dropped)."""
    return ANSI_RE.sub("", raw.decode("utf-8", errors="replace"))


def tail(text: str, lines: int) -> str:
    ls = text.splitlines()
    if len(ls) <= lines:
        return text
    return f"[... {len(ls) - lines} earlier lines omitted ...]\n" + "\n".join(ls[-lines:])


def dead_end(text: str) -> str | None:
    """Why the boot cannot reach the kernel, if the log shows a dead end."""
    return next((why for rx, why in BOOT_FAILURE_PATTERNS if rx.search(text)), None)


class SerialLog:
    """A serial log file someone appends to, read as it grows."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.raw = b""
        self.text = ""
        self._file = None

    def read(self) -> str:
        """Reads what was appended; returns it cleaned (self.text is everything)."""
        if self._file is None:
            try:
                self._file = open(self.path, "rb")
            except FileNotFoundError:
                return ""
        chunk = self._file.read()
        if not chunk:
            return ""
        self.raw += chunk
        self.text = clean_text(self.raw)
        return clean_text(chunk)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "SerialLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_all(path: Path) -> str:
    try:
        return clean_text(Path(path).read_bytes())
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# Patterns with captures

CAPTURE_REF_RE = re.compile(r"\{capture:([^{}]*)\}")
CAPTURE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def lookaheads_only(source: str, flags: int) -> bool:
    """Is the regex nothing but lookaheads at its top level, (?=...)(?=...)?"""
    try:
        items = list(re._parser.parse(source, flags))  # the stdlib's own parser (3.11)
    except Exception:
        return False
    return bool(items) and all(op is re._constants.ASSERT and av[0] == 1 for op, av in items)


class Pattern:
    """A scenario regex (re.M) that may define captures (named groups) and
    use them ({capture:NAME}). compile() gives the regex once every capture
    it uses is known, None until then. Raises re.error or ValueError for a
    bad regex or capture reference."""

    def __init__(self, source: str, flags: int = re.M):
        self.source = source
        self.flags = flags
        self.uses: list[str] = []
        for name in CAPTURE_REF_RE.findall(source):
            if not CAPTURE_NAME_RE.fullmatch(name):
                raise ValueError(f"{{capture:{name}}}: a capture name is a Python identifier")
            if name not in self.uses:
                self.uses.append(name)
        # With stand-ins for the captures: checks the syntax, learns the groups.
        static = re.compile(CAPTURE_REF_RE.sub("0", source), flags)
        self.defines = list(static.groupindex)
        self._static = None if self.uses else static
        self.lookaheads_only = lookaheads_only(CAPTURE_REF_RE.sub("0", source), flags)

    @property
    def pattern(self) -> str:
        return self.source

    def compile(self, captures: dict[str, str]) -> re.Pattern | None:
        if self._static is not None:
            return self._static
        if any(name not in captures for name in self.uses):
            return None
        return re.compile(CAPTURE_REF_RE.sub(lambda m: re.escape(captures[m.group(1)]), self.source),
                          self.flags)

    def search(self, text: str, pos: int, captures: dict[str, str]) -> re.Match | None:
        """Searches from pos; on a match records the groups it defines."""
        rx = self.compile(captures)
        if rx is None:
            m = None
        elif self.lookaheads_only:
            # "All of these, in any order": (?=.*A)(?=.*B) holds at pos or
            # nowhere after it, so only pos is tried. search() would try
            # every position, each scanning to the end: quadratic in the
            # log (11 s per check on a 137 KB soak log, which slowed the
            # guest through the serial line it was not reading meanwhile).
            m = rx.match(text, pos)
        else:
            m = rx.search(text, pos)
        if m:
            for name in self.defines:
                if m.group(name) is not None:
                    captures[name] = m.group(name)
        return m

    def missing(self, captures: dict[str, str]) -> list[str]:
        return [n for n in self.uses if n not in captures]


def expand(text: str, captures: dict[str, str]) -> str | None:
    """Typed text with its {capture:NAME} references filled in; None until all are known."""
    names = CAPTURE_REF_RE.findall(text)
    if any(n not in captures for n in names):
        return None
    return CAPTURE_REF_RE.sub(lambda m: captures[m.group(1)], text)


class Markers:
    """Ordered markers: marker n must match after the end of marker n-1's match."""

    def __init__(self, patterns: list[Pattern], captures: dict[str, str]):
        self.patterns = patterns
        self.captures = captures
        self.next = 0
        self.pos = 0
        self.starts: list[int] = []   # where each matched marker's match began

    @property
    def done(self) -> bool:
        return self.next == len(self.patterns)

    def advance(self, text: str) -> None:
        while self.next < len(self.patterns):
            m = self.patterns[self.next].search(text, self.pos, self.captures)
            if not m:
                return
            self.starts.append(m.start())
            self.pos = m.end()
            self.next += 1

    def satisfied_by_boot_log(self, text: str) -> list[str]:
        """The matched markers that prove nothing: each matched after the boot
        log (see boot_log_end) yet would match inside it, so the text it
        checks for is printed by every boot (the banner, the command line,
        the memory map, PCI, the module list, `audit: address audit on`) and
        a replay of the kernel log (the shell's `log`) would satisfy it too.
        A marker matched inside the boot log tests the boot itself: fine."""
        end = boot_log_end(text)
        boot = text[:end]
        out = []
        for n, start in enumerate(self.starts):
            rx = self.patterns[n].compile(self.captures)
            if start >= end and rx is not None and rx.search(boot):
                out.append(f"marker #{n + 1} /{self.patterns[n].pattern}/ also matches the boot log "
                           "(printed before any process ran): it proves nothing; make it name what the "
                           "test shows")
        return out

    def describe_next(self) -> str:
        p = self.patterns[self.next]
        missing = p.missing(self.captures)
        return (f"marker #{self.next + 1} /{p.pattern}/"
                + (f" (its capture {', '.join(missing)} was never captured)" if missing else ""))


# The kernel's first line about a user process ends the boot log: what it
# printed before is the same for every boot of the configuration.
BOOT_LOG_END_RE = re.compile(r"^.*\bproc: ", re.M)


def boot_log_end(text: str) -> int:
    """Where the boot log ends in a serial log (all of it when no process ran)."""
    m = BOOT_LOG_END_RE.search(text)
    return m.start() if m else len(text)


@dataclass
class Input:
    after: Pattern               # wait until this matches the serial log ...
    send: str                    # ... then type this (its {capture:NAME} filled in) into COM1
    delay_ms: int = 0            # ... this long after the match

    def uses(self) -> list[str]:
        return self.after.uses + [n for n in CAPTURE_REF_RE.findall(self.send) if n not in self.after.uses]


class InputFeeder:
    """Decides when each [[input]] is due; pure, so the self-test can drive it.

    Input i waits for its `after` regex to match the (cleaned) serial text at
    or beyond the end of input i-1's match (and for every capture it uses),
    then for its delay_ms, and is then due. poll() returns the inputs due
    now, in order, with the bytes to type.
    """

    def __init__(self, inputs: list[Input], captures: dict[str, str] | None = None):
        self.inputs = inputs
        self.captures = {} if captures is None else captures
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

    def poll(self, text: str, now: float) -> list[tuple[int, Input, bytes]]:
        due = []
        while self.next < len(self.inputs):
            inp = self.inputs[self.next]
            if self._due_at is None:
                m = inp.after.search(text, self.pos, self.captures)
                if not m:
                    break
                self.pos = m.end()
                self._due_at = now + inp.delay_ms / 1000
            send = expand(inp.send, self.captures)
            if now < self._due_at or send is None:
                break
            due.append((self.next, inp, send.encode("utf-8")))
            self.next += 1
            self._due_at = None
        return due

    def missing(self) -> list[str]:
        """The captures the next input uses that are not known yet."""
        return [n for n in self.inputs[self.next].uses() if n not in self.captures]

    def waiting_for(self) -> str:
        inp = self.inputs[self.next]
        missing = self.missing()
        if missing:
            return f"input #{self.next + 1}'s capture {', '.join(missing)} (never captured)"
        if self.triggered:
            return f"input #{self.next + 1} (its delay_ms {inp.delay_ms})"
        return f"input #{self.next + 1}'s trigger /{inp.after.pattern}/"


# ---------------------------------------------------------------------------


class SerialLink:
    """COM1 of one QEMU run, both ways, over a unix stream socket.

    The harness listens (listen(), before QEMU starts) and QEMU connects as a
    client (harness.qemu serial mode socket:PATH) while it initialises, i.e.
    before the guest executes anything, so no output can be lost; until the
    harness accepts, the kernel queues it in the socket, and QEMU's UART stops
    transmitting (guest sees a busy THR) rather than dropping bytes.

    A reader thread appends every byte the guest prints to `log_path` (flushed
    at once, so the watch loop, checks and failure reports can read the file)
    and sets `activity` so the watch loop wakes without waiting for its poll
    interval. send() writes typed bytes to the guest's receiver; they never
    appear in the log (no echo is faked).
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
            raise SerialError(f"serial socket path too long for a unix socket: {self.sock_path}")
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
                raise SerialError("QEMU exited before connecting to the serial socket")
            if time.monotonic() > deadline:
                raise SerialError(f"QEMU did not connect to the serial socket {self.sock_path} "
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
