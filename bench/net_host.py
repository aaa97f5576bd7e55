"""The host side of the network benchmark protocol (bench/README.md,
"Network benchmark protocol").

The host drives and the host's counts are the figures: it connects to the
guest's control port (through QEMU's hostfwd), sends one command line at a
time and reads one answer line per command; the datagrams and the TCP bytes
are counted and timed by the host's own sockets. The guest's result line is
its own view, kept next to the host's figure and checked against it (a guest
claiming more round trips than the host echoed is an error, not a figure).

Any failure -- no hello, an `error` answer, no answer in time, a count of
zero, a byte count the two sides disagree on -- raises ProtocolError: the
benchmark never turns a guest that did not answer into a zero. Stdlib only.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable

PROTOCOL_VERSION = 1
GUEST_CTRL_PORT = 5000       # the guest's ports (hostfwd targets)
GUEST_DATA_PORT = 5001
HOST_FROM_GUEST = "10.0.2.2"  # QEMU user networking: the host, as the guest reaches it
HELLO_RE = re.compile(r"^netbench-hello (\d+) (\S+)$")
RESULT_RE = re.compile(r"^result (\S+)((?: [a-z0-9_]+=\S+)*)$")
TCP_CHUNK = 256 << 10
ANSWER_GRACE_S = 60.0        # beyond the job's seconds, for its answer
KINDS = ("udp-rtt", "udp-tx", "tcp-rx", "tcp-tx")


class ProtocolError(Exception):
    """The guest did not do what the protocol says; no figure is reported."""


@dataclass
class Job:
    kind: str          # udp-rtt | udp-tx | tcp-rx | tcp-tx (direction: the guest's)
    seconds: int
    size: int = 0      # udp: datagram payload bytes
    window: int = 1    # udp-rtt: datagrams in flight; udp-tx: datagrams per send call (batch)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown job kind {self.kind!r} ({', '.join(KINDS)})")
        if self.seconds <= 0:
            raise ValueError("seconds must be > 0")
        if self.kind.startswith("udp") and not (8 <= self.size <= 65507 and 1 <= self.window <= 256):
            raise ValueError("udp jobs need 8 <= size <= 65507 and 1 <= window/batch <= 256")

    @property
    def name(self) -> str:
        if self.kind == "udp-rtt":
            return f"udp-rtt-{self.size}B-w{self.window}"
        if self.kind == "udp-tx":
            return f"udp-tx-{self.size}B"
        return self.kind


class UdpCounter(threading.Thread):
    """A UDP socket on the host's loopback that counts (and, as the echo
    server, returns) every datagram: how many, their bytes, the first and
    last arrival times, and how many were not `size` bytes long."""

    def __init__(self, echo: bool, size: int, bind: str = "127.0.0.1"):
        super().__init__(daemon=True)
        self.echo, self.size = echo, size
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # A burst the host thread has not read yet must not be the host's
        # loss. The kernel caps the size at net.core.rmem_max for non-root:
        # what it granted is read back and recorded (rcvbuf).
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.sock.bind((bind, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.count = self.bytes = self.wrong_size = self.send_errors = 0
        self.first: float | None = None
        self.last: float | None = None
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            t = time.monotonic()
            if len(data) != self.size:
                self.wrong_size += 1
                continue
            if self.echo:
                try:
                    self.sock.sendto(data, addr)
                except OSError:
                    self.send_errors += 1
                    continue
            if self.first is None:
                self.first = t
            self.last = t
            self.count += 1
            self.bytes += len(data)

    def finish(self) -> None:
        self._done.set()
        self.join(5)
        self.sock.close()

    def rate(self) -> float:
        """Datagrams per second between the first and the last arrival."""
        if self.count < 2 or self.last is None or self.first is None or self.last <= self.first:
            raise ProtocolError(f"the host counted {self.count} datagram(s): nothing to measure")
        return (self.count - 1) / (self.last - self.first)


class Conn:
    """A line-oriented TCP connection (the control channel)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def send_line(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"no answer within {timeout:.0f} s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError as e:
                raise ProtocolError(f"control connection: {e}") from e
            if not chunk:
                raise ProtocolError("the guest closed the control connection")
            self.buf += chunk
            if len(self.buf) > 65536:
                raise ProtocolError("overlong answer line")
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def close(self) -> None:
        self.sock.close()


def parse_result(line: str, kind: str) -> dict[str, float]:
    """`result KIND k=v ...` -> {k: float(v)}; anything else is an error."""
    if line.startswith("error"):
        raise ProtocolError(f"the guest answered {line!r}")
    m = RESULT_RE.match(line)
    if not m or m.group(1) != kind:
        raise ProtocolError(f"expected 'result {kind} ...', got {line!r}")
    out: dict[str, float] = {}
    for kv in m.group(2).split():
        k, v = kv.split("=", 1)
        try:
            out[k] = float(v)
        except ValueError as e:
            raise ProtocolError(f"result field {kv!r} is not a number") from e
    return out


def need(fields: dict[str, float], *keys: str) -> None:
    missing = [k for k in keys if k not in fields]
    if missing:
        raise ProtocolError(f"the guest's result lacks {', '.join(missing)}")


class Host:
    """One guest's control connection and the jobs run over it."""

    def __init__(self, ctrl_port: int, data_port: int, connect_host: str = "127.0.0.1",
                 guest_sees_host: str = HOST_FROM_GUEST):
        self.ctrl_port, self.data_port = ctrl_port, data_port
        self.connect_host, self.guest_sees_host = connect_host, guest_sees_host
        self.conn: Conn | None = None
        self.impl = ""

    def connect(self, timeout: float, alive: Callable[[], bool] = lambda: True) -> str:
        """Retries until the guest's hello arrives. Under hostfwd the host's
        connect succeeds before the guest listens (QEMU accepts, then finds
        nobody and closes): only the hello line proves the guest is there."""
        deadline = time.monotonic() + timeout
        last = "never tried"
        while time.monotonic() < deadline:
            if not alive():
                raise ProtocolError(f"the guest stopped before it answered on its control port ({last})")
            s = None
            try:
                s = socket.create_connection((self.connect_host, self.ctrl_port), timeout=5)
                c = Conn(s)
                line = c.read_line(5)
                m = HELLO_RE.match(line)
                if not m:
                    raise ProtocolError(f"expected the netbench hello, got {line!r}")
                if int(m.group(1)) != PROTOCOL_VERSION:
                    raise ProtocolError(f"guest speaks protocol {m.group(1)}, the host {PROTOCOL_VERSION}")
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.conn, self.impl = c, m.group(2)
                return self.impl
            except ProtocolError as e:
                s.close()
                if "hello" in str(e) or "protocol" in str(e):
                    raise
                last = str(e)
            except OSError as e:
                if s is not None:
                    s.close()
                last = str(e)
            time.sleep(0.5)
        raise ProtocolError(f"no netbench hello on the control port within {timeout:.0f} s ({last})")

    def _answer(self, job: Job) -> dict[str, float]:
        assert self.conn is not None
        return parse_result(self.conn.read_line(job.seconds + ANSWER_GRACE_S), job.kind)

    def run(self, job: Job) -> dict:
        """One job; the host's figure, the guest's view and the host-time
        window (time.time(), for the QEMU trace) it ran in."""
        if self.conn is None:
            raise ProtocolError("not connected")
        t0 = time.time()
        if job.kind in ("udp-rtt", "udp-tx"):
            res = self._udp(job)
        else:
            res = self._tcp(job)
        res.update({"job": job.name, "kind": job.kind, "seconds": job.seconds, "window_t0": t0,
                    "window_t1": time.time()})
        return res

    def _udp(self, job: Job) -> dict:
        assert self.conn is not None
        ctr = UdpCounter(echo=job.kind == "udp-rtt", size=job.size)
        ctr.start()
        try:
            self.conn.send_line(f"{job.kind} {self.guest_sees_host} {ctr.port} {job.size} {job.seconds} {job.window}")
            g = self._answer(job)
        finally:
            ctr.finish()
        need(g, "sent", "secs")
        res = {"host_count": ctr.count, "host_wrong_size": ctr.wrong_size, "host_rcvbuf": ctr.rcvbuf, "guest": g}
        # A datagram of another size, or an echo the host could not send, is
        # no figure of the guest's: the job fails rather than counts it.
        if ctr.wrong_size or ctr.send_errors:
            raise ProtocolError(f"{ctr.wrong_size} datagram(s) of the wrong size, {ctr.send_errors} echo(es) the host "
                                "could not send")
        if job.kind == "udp-rtt":
            need(g, "recv")
            if g["recv"] > ctr.count:
                raise ProtocolError(f"the guest counts {g['recv']:.0f} round trips, the host echoed only {ctr.count}")
            # The host's echoes count only as round trips the guest
            # completed: every one but those still in flight at the end.
            if g["recv"] < ctr.count - job.window:
                raise ProtocolError(f"the host echoed {ctr.count} datagrams, the guest received only "
                                    f"{g['recv']:.0f} of them back")
            res["round_trips_per_s"] = ctr.rate()
            res["figure"], res["unit"] = res["round_trips_per_s"], "round trips/s"
        else:
            if ctr.count > g["sent"]:
                raise ProtocolError(f"the host counted {ctr.count} datagrams, the guest says it sent {g['sent']:.0f}")
            res["datagrams_per_s"] = ctr.rate()
            res["delivered"] = ctr.count / g["sent"] if g["sent"] else 0.0
            res["figure"], res["unit"] = res["datagrams_per_s"], "datagrams/s"
        return res

    def _tcp(self, job: Job) -> dict:
        assert self.conn is not None
        self.conn.send_line("tcp")
        try:
            d = socket.create_connection((self.connect_host, self.data_port), timeout=30)
        except OSError as e:
            raise ProtocolError(f"data connection: {e}") from e
        d.settimeout(job.seconds + ANSWER_GRACE_S)
        try:
            if job.kind == "tcp-rx":
                host_bytes, secs = self._tcp_send(d, job.seconds)
            else:
                host_bytes, secs = self._tcp_receive(d, job.seconds)
        except OSError as e:
            raise ProtocolError(f"data connection: {e}") from e
        finally:
            d.close()
        g = self._answer(job)
        need(g, "bytes", "secs")
        if g["bytes"] != host_bytes:
            raise ProtocolError(f"the host {'sent' if job.kind == 'tcp-rx' else 'received'} {host_bytes} bytes, "
                                f"the guest counts {g['bytes']:.0f}")
        if host_bytes == 0 or secs <= 0:
            raise ProtocolError("no bytes moved")
        return {"host_bytes": host_bytes, "host_secs": secs, "guest": g, "MBps": host_bytes / secs / 1e6,
                "figure": host_bytes / secs / 1e6, "unit": "MB/s"}

    @staticmethod
    def _tcp_send(d: socket.socket, seconds: int) -> tuple[int, float]:
        """Host -> guest: `seconds` of data, then the guest's `got N`. The
        time runs from the first send to that acknowledgement, so bytes still
        in buffers when the host stops sending are waited for."""
        chunk = bytes(range(256)) * (TCP_CHUNK // 256)
        d.sendall(b"rx\n")
        sent = 0
        t0 = time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            d.sendall(chunk)
            sent += len(chunk)
        d.shutdown(socket.SHUT_WR)
        ack = b""
        while b"\n" not in ack:
            part = d.recv(64)
            if not part:
                raise ProtocolError(f"the guest closed without acknowledging ({ack!r})")
            ack += part
        secs = time.monotonic() - t0
        m = re.match(rb"got (\d+)\n", ack)
        if not m:
            raise ProtocolError(f"expected 'got N', got {ack!r}")
        if int(m.group(1)) != sent:
            raise ProtocolError(f"the host sent {sent} bytes, the guest acknowledged {int(m.group(1))}")
        return sent, secs

    @staticmethod
    def _tcp_receive(d: socket.socket, seconds: int) -> tuple[int, float]:
        """Guest -> host: everything until the guest closes, timed from the
        first byte to the end of the stream."""
        d.sendall(f"tx {seconds}\n".encode())
        got = 0
        t0: float | None = None
        buf = bytearray(TCP_CHUNK)  # one buffer: no allocation per read inside the timed stream
        while True:
            n = d.recv_into(buf)
            if not n:
                break
            if t0 is None:
                t0 = time.monotonic()
            got += n
        return got, (time.monotonic() - t0) if t0 is not None else 0.0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def quit(self) -> None:
        if self.conn is None:
            return
        try:
            self.conn.send_line("quit")
            line = self.conn.read_line(10)
            if line != "bye":
                raise ProtocolError(f"expected 'bye', got {line!r}")
        finally:
            self.close()
