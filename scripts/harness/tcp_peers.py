"""TCP peers the harness runs on the host for a scenario's [network] table
(harness.network parses the table; docs/testing.md "Network"):

    tcp_forward = { echo = 7 }    # hostfwd: host TCP port {port:echo} -> guest port 7

    [[network.tcp_stream]]        # a host client through the forwarded port,
    forward = "echo"              # once `after` appears on the serial port:
    after = 'net_echo: listening' # connects, sends `payload` ({port:NAME}
    payload = ""                  # substituted) then `random` random bytes
    random = 4194304              # (at `rate` bytes/s when given), half-closes,
    rate = 0                      # and reads until the guest closes. `expect`:
    expect = "echo"               # "echo" (the bytes back exactly), or a sha256
                                  # ("{capture:NAME}" allowed) of what came back

    [[network.tcp_sink]]          # a host server on {port:NAME}: the guest
    port = "sink"                 # connects to 10.0.2.2:PORT; the host sends
    random = 0                    # `random` random bytes, half-closes, and reads
    expect = "{capture:sha}"      # until the guest closes: the sha256 of what
    guest_received = "{capture:rx}"  # came must be `expect`; `guest_received`
                                  # (optional): the sha256 the guest reports
                                  # for what it got, which must be that of
                                  # what the host sent

    [[network.http_get]]          # once `after` appears: GET `path` through the
    forward = "web"               # forwarded port; the status must be 200, the
    after = 'http: listening'     # body JSON (an object) containing each of
    path = "/status"              # `contains` somewhere in its text
    contains = ["nvme", "virtio"]
    method = "GET"                # or "HEAD": the head only, no body byte after it
    status = 200                  # the status expected (JSON checked only for a 200 GET)
    request = ""                  # instead of method: these bytes as the request (a
                                  # malformed one); `path` then only names it
    silent = 0                    # first open this many connections that send nothing;
                                  # the guest must close each (its idle timeout)
    hold = false                  # with silent: keep them open and make the request at
                                  # once (the guest must serve it beside them)

Each peer runs in a thread of its own (a stream of several MiB must not
hold up the watch loop); the watch loop starts them, reports their
progress and waits for them before the run counts as done. The truth is
what the host's own sockets carried, compared by sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass

STREAM_KEYS = {"forward", "after", "payload", "random", "rate", "expect"}
SINK_KEYS = {"port", "random", "expect", "guest_received"}
HTTP_KEYS = {"forward", "after", "path", "contains", "method", "status", "request", "silent", "hold"}
MAX_SILENT = 16
MAX_RANDOM = 64 << 20
IO_TIMEOUT_SECONDS = 60.0
# hostfwd accepts on the host before the guest answers; a guest not yet
# listening resets, and the host sees its connection end with nothing back.
CONNECT_TRIES = 5
CONNECT_RETRY_SECONDS = 1.0
HOLD_SPACING_SECONDS = 0.5  # between held silent connections (HttpSpec.hold)
CHUNK = 16384
SHA256_RE = re.compile(r"[0-9a-f]{64}")


class TcpSpecError(Exception):
    pass


@dataclass
class StreamSpec:
    forward: str
    after: re.Pattern
    payload: str = ""
    random: int = 0
    rate: int = 0  # bytes per second; 0: as fast as the guest takes them
    expect: str = "echo"


@dataclass
class SinkSpec:
    port: str
    random: int = 0
    expect: str = ""
    guest_received: str = ""  # optional: a sha256 the guest logged, to be that of what we sent


@dataclass
class HttpSpec:
    forward: str
    after: re.Pattern
    path: str
    contains: tuple[str, ...] = ()
    method: str = "GET"
    status: int = 200
    request: str | None = None  # raw request bytes (latin-1), instead of method and path
    silent: int = 0  # connections opened first that send nothing: the guest must close each
    hold: bool = False  # ... or, held open, serve the request beside them


def _regex(where: str, text) -> re.Pattern:
    if not isinstance(text, str):
        raise TcpSpecError(f"{where}: after must be a regex string")
    try:
        return re.compile(text)
    except re.error as err:
        raise TcpSpecError(f"{where}: bad regex: {err}") from err


def _random(where: str, n) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_RANDOM:
        raise TcpSpecError(f"{where}: random must be 0..{MAX_RANDOM} bytes")
    return n


def _expect(where: str, e, allow_echo: bool) -> str:
    ok = isinstance(e, str) and ((allow_echo and e == "echo") or SHA256_RE.fullmatch(e)
                                 or re.fullmatch(r"\{capture:[A-Za-z_]\w*\}", e))
    if not ok:
        raise TcpSpecError(f"{where}: expect must be " + ('"echo", ' if allow_echo else "")
                           + "a sha256 in hex or {capture:NAME}")
    return e


def parse(data: dict, forwards: dict[str, int]) -> tuple[list[StreamSpec], list[SinkSpec], list[HttpSpec]]:
    """The tcp_stream, tcp_sink and http_get arrays of a [network] table;
    `forwards` is its tcp_forward table (checked by the caller)."""
    streams, sinks, gets = [], [], []
    for i, s in enumerate(data.get("tcp_stream", [])):
        where = f"[[network.tcp_stream]] #{i + 1}"
        if not isinstance(s, dict) or set(s) - STREAM_KEYS or not {"forward", "after", "expect"} <= set(s):
            raise TcpSpecError(f"{where}: keys {sorted(STREAM_KEYS)} (forward, after and expect required)")
        if s["forward"] not in forwards:
            raise TcpSpecError(f"{where}: forward {s['forward']!r} is not in tcp_forward")
        payload = s.get("payload", "")
        if not isinstance(payload, str):
            raise TcpSpecError(f"{where}: payload must be a string")
        rate = s.get("rate", 0)
        if not isinstance(rate, int) or isinstance(rate, bool) or rate < 0:
            raise TcpSpecError(f"{where}: rate must be bytes per second (0: unpaced)")
        n = _random(where, s.get("random", 0))
        if not payload and not n:
            raise TcpSpecError(f"{where}: nothing to send (a payload and/or random bytes)")
        streams.append(StreamSpec(s["forward"], _regex(where, s["after"]), payload, n, rate,
                                  _expect(where, s["expect"], True)))
    for i, s in enumerate(data.get("tcp_sink", [])):
        where = f"[[network.tcp_sink]] #{i + 1}"
        if not isinstance(s, dict) or set(s) - SINK_KEYS or not {"port", "expect"} <= set(s):
            raise TcpSpecError(f"{where}: keys {sorted(SINK_KEYS)} (port and expect required)")
        if not isinstance(s["port"], str) or not re.fullmatch(r"[A-Za-z_]\w*", s["port"]) or s["port"] in forwards:
            raise TcpSpecError(f"{where}: port must be a name of its own")
        guest_received = _expect(where, s["guest_received"], False) if "guest_received" in s else ""
        sinks.append(SinkSpec(s["port"], _random(where, s.get("random", 0)), _expect(where, s["expect"], False),
                              guest_received))
    for i, g in enumerate(data.get("http_get", [])):
        where = f"[[network.http_get]] #{i + 1}"
        if not isinstance(g, dict) or set(g) - HTTP_KEYS or not {"forward", "after", "path"} <= set(g):
            raise TcpSpecError(f"{where}: keys {sorted(HTTP_KEYS)} (forward, after and path required)")
        if g["forward"] not in forwards:
            raise TcpSpecError(f"{where}: forward {g['forward']!r} is not in tcp_forward")
        contains = g.get("contains", [])
        if (not isinstance(g["path"], str) or not g["path"].startswith("/") or not isinstance(contains, list)
                or not all(isinstance(c, str) and c for c in contains)):
            raise TcpSpecError(f"{where}: path must start with / and contains be a list of strings")
        method, status, request, silent = (g.get("method", "GET"), g.get("status", 200), g.get("request"),
                                           g.get("silent", 0))
        if method not in ("GET", "HEAD") or (request is not None and "method" in g):
            raise TcpSpecError(f"{where}: method must be GET or HEAD, and not given with request")
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise TcpSpecError(f"{where}: status must be an HTTP status code (100..599)")
        if request is not None and (not isinstance(request, str) or not request):
            raise TcpSpecError(f"{where}: request must be the bytes to send, not empty")
        if not isinstance(silent, int) or isinstance(silent, bool) or not 0 <= silent <= MAX_SILENT:
            raise TcpSpecError(f"{where}: silent must be 0..{MAX_SILENT} connections")
        hold = g.get("hold", False)
        if not isinstance(hold, bool) or (hold and not silent):
            raise TcpSpecError(f"{where}: hold is true or false, and needs silent connections")
        gets.append(HttpSpec(g["forward"], _regex(where, g["after"]), g["path"], tuple(contains), method, status,
                             request, silent, hold))
    return streams, sinks, gets


def captures_used(streams: list[StreamSpec], sinks: list[SinkSpec]) -> set[str]:
    found = set()
    for e in [s.expect for s in streams] + [s.expect for s in sinks] + [s.guest_received for s in sinks]:
        found |= set(re.findall(r"\{capture:([A-Za-z_]\w*)\}", e))
    return found


class Peer:
    """One peer's thread and what it saw; `error` or `result` once done."""

    def __init__(self, name: str):
        self.name = name
        self.thread: threading.Thread | None = None
        self.sent = hashlib.sha256()
        self.sent_bytes = 0
        self.received = hashlib.sha256()
        self.received_bytes = 0
        self.error: str | None = None
        self.finished = False
        self.seconds = 0.0
        self.tries = 0
        self.body = b""  # http_get only

    def start(self, fn) -> None:
        def run():
            t0 = time.monotonic()
            try:
                fn()
            except (OSError, ValueError) as e:
                self.error = f"{type(e).__name__}: {e}"
            self.seconds = time.monotonic() - t0
            self.finished = True
        self.thread = threading.Thread(target=run, name=self.name, daemon=True)
        self.thread.start()

    @property
    def started(self) -> bool:
        return self.thread is not None

    def progress(self) -> str:
        return f"{self.sent_bytes} bytes sent, {self.received_bytes} received"


def _pump(sock: socket.socket, peer: Peer, data: bytes, rate: int) -> None:
    """Sends `data` (paced to `rate` bytes/s when nonzero) while reading
    what comes back, then half-closes and reads until the other side closes.
    Reading while sending keeps an echoing guest from filling both windows."""
    sock.settimeout(0.05)
    t0 = time.monotonic()
    at = 0
    half_closed = False
    last_io = time.monotonic()
    while True:
        if not half_closed:
            allowed = len(data) if rate == 0 else min(len(data), int((time.monotonic() - t0) * rate) + CHUNK)
            if at < allowed:
                try:
                    n = sock.send(data[at:min(allowed, at + 4 * CHUNK)])
                    peer.sent.update(data[at:at + n])
                    at += n
                    peer.sent_bytes = at
                    last_io = time.monotonic()
                except (BlockingIOError, socket.timeout):
                    pass
            if at == len(data):
                sock.shutdown(socket.SHUT_WR)
                half_closed = True
        try:
            chunk = sock.recv(4 * CHUNK)
        except (BlockingIOError, socket.timeout):
            if time.monotonic() - last_io > IO_TIMEOUT_SECONDS:
                raise TimeoutError(f"nothing moved for {IO_TIMEOUT_SECONDS:g} s ({peer.progress()})")
            continue
        if not chunk:
            if at < len(data):
                raise ConnectionError(f"the guest closed after taking {at} of {len(data)} bytes")
            return
        peer.received.update(chunk)
        peer.received_bytes += len(chunk)
        last_io = time.monotonic()


def _silent(address: tuple[str, int], count: int, peer: Peer) -> None:
    """Opens `count` connections that send nothing and waits until the
    guest has closed every one (an end or a reset); TimeoutError when one
    is still open after IO_TIMEOUT_SECONDS."""
    socks = [socket.create_connection(address, timeout=IO_TIMEOUT_SECONDS) for _ in range(count)]
    t0 = time.monotonic()
    try:
        for i, sock in enumerate(socks):
            sock.settimeout(max(0.1, IO_TIMEOUT_SECONDS - (time.monotonic() - t0)))
            try:
                if sock.recv(1):
                    raise ValueError(f"silent connection {i + 1}: the guest sent bytes unasked")
            except ConnectionResetError:
                pass
            except socket.timeout as e:
                raise TimeoutError(f"silent connection {i + 1} of {count} still open after "
                                   f"{IO_TIMEOUT_SECONDS:g} s") from e
        peer.silent_seconds = time.monotonic() - t0
    finally:
        for sock in socks:
            sock.close()


def _parse_response(raw: bytes, peer: Peer) -> None:
    """Status, Content-Type, Content-Length and body of one response read
    until the guest closed."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.fullmatch(r"HTTP/1\.[01] (\d{3}) [^\r\n]*", lines[0]) if sep else None
    if m is None:
        raise ValueError(f"not an HTTP response head: {raw[:120]!r}")
    fields = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"a malformed header field {line!r}")
        fields[name.strip().lower()] = value.strip()
    peer.status = int(m.group(1))
    peer.content_type = fields.get("content-type", "")
    peer.content_length = int(fields["content-length"]) if fields.get("content-length", "").isdigit() else None
    peer.body = body


class TcpPeers:
    """The host side of a run's TCP peers."""

    def __init__(self, streams: list[StreamSpec], sinks: list[SinkSpec], gets: list[HttpSpec],
                 ports: dict[str, int], substitute):
        self.streams, self.sinks, self.gets = streams, sinks, gets
        self.ports = ports
        self.substitute = substitute
        self.stream_peers = [Peer(f"tcp stream #{i + 1}") for i in range(len(streams))]
        self.get_peers = [Peer(f"http get #{i + 1}") for i in range(len(gets))]
        self.sink_peers = [Peer(f"tcp sink {s.port}") for s in sinks]
        self.listeners: list[socket.socket] = []
        for s, peer in zip(sinks, self.sink_peers):
            lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(4)
            self.listeners.append(lsock)
            ports[s.port] = lsock.getsockname()[1]
            peer.start(lambda s=s, peer=peer, lsock=lsock: self._serve(s, peer, lsock))
        self.reported: set[str] = set()

    # --- the peers' threads ----------------------------------------------

    def _stream(self, spec: StreamSpec, peer: Peer) -> None:
        data = self.substitute(spec.payload).encode() + os.urandom(spec.random)
        peer.expected_echo = data if spec.expect == "echo" else None
        while True:
            peer.tries += 1
            peer.sent, peer.received = hashlib.sha256(), hashlib.sha256()
            peer.sent_bytes = peer.received_bytes = 0
            try:
                with socket.create_connection(("127.0.0.1", self.ports[spec.forward]), timeout=10) as sock:
                    _pump(sock, peer, data, spec.rate)
                if peer.received_bytes or peer.tries >= CONNECT_TRIES or spec.expect != "echo":
                    break
            except (ConnectionError, TimeoutError):
                if peer.received_bytes or peer.tries >= CONNECT_TRIES:
                    raise
            time.sleep(CONNECT_RETRY_SECONDS)
        peer.echo_ok = spec.expect != "echo" or hashlib.sha256(data).digest() == peer.received.digest()

    def _serve(self, spec: SinkSpec, peer: Peer, lsock: socket.socket) -> None:
        lsock.settimeout(None)
        try:
            sock, _ = lsock.accept()
        except OSError as e:
            if self._closing:
                raise ConnectionError("the guest never connected") from e
            raise
        peer.accepted = True
        with sock:
            _pump(sock, peer, os.urandom(spec.random), 0)

    def _get(self, spec: HttpSpec, peer: Peer) -> None:
        address = ("127.0.0.1", self.ports[spec.forward])
        held: list[socket.socket] = []
        if spec.silent and spec.hold:
            # One at a time, a pause apart: a burst of SYNs past the
            # listener's backlog is dropped by the guest (lwIP counts
            # half-open connections against it) and retried by QEMU's slirp
            # seconds later, which would make the order the guest sees them
            # in a matter of luck.
            for _ in range(spec.silent):
                held.append(socket.create_connection(address, timeout=IO_TIMEOUT_SECONDS))
                time.sleep(HOLD_SPACING_SECONDS)
        elif spec.silent:
            _silent(address, spec.silent, peer)
        try:
            self._request(spec, peer, address)
        finally:
            for sock in held:
                sock.close()

    def _request(self, spec: HttpSpec, peer: Peer, address: tuple[str, int]) -> None:
        request = (spec.request if spec.request is not None else
                   f"{spec.method} {spec.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        for attempt in range(CONNECT_TRIES):
            peer.tries = attempt + 1
            try:
                with socket.create_connection(address, timeout=IO_TIMEOUT_SECONDS) as sock:
                    sock.sendall(request.encode("latin-1"))
                    raw = b""
                    while chunk := sock.recv(CHUNK):
                        raw += chunk
                        peer.received_bytes = len(raw)
                if raw:
                    _parse_response(raw, peer)
                    return
                if attempt + 1 == CONNECT_TRIES:
                    raise ConnectionError("the guest closed without a response")
            except ConnectionError:
                if attempt + 1 == CONNECT_TRIES or peer.received_bytes:
                    raise
            time.sleep(CONNECT_RETRY_SECONDS)

    _closing = False

    # --- the watch loop's side --------------------------------------------

    def poll(self, serial_text: str) -> list[str]:
        lines = []
        for spec, peer in zip(self.streams, self.stream_peers):
            if not peer.started and spec.after.search(serial_text):
                peer.start(lambda spec=spec, peer=peer: self._stream(spec, peer))
                lines.append(f"[harness {peer.name}: connecting to tcp 127.0.0.1:{self.ports[spec.forward]}, "
                             f"{len(spec.payload) + spec.random} bytes to send]")
        for spec, peer in zip(self.gets, self.get_peers):
            if not peer.started and spec.after.search(serial_text):
                peer.start(lambda spec=spec, peer=peer: self._get(spec, peer))
                what = spec.method if spec.request is None else "raw request"
                lines.append(f"[harness {peer.name}: {what} {spec.path} from 127.0.0.1:{self.ports[spec.forward]}"
                             + (f" after {spec.silent} silent connections" if spec.silent else "") + "]")
        for peer in self.stream_peers + self.sink_peers + self.get_peers:
            if peer.finished and peer.name not in self.reported:
                self.reported.add(peer.name)
                lines.append(f"[harness {peer.name}: " + (peer.error or f"done, {peer.progress()}")
                             + f" in {peer.seconds:.1f} s]")
        return lines

    @property
    def done(self) -> bool:
        return all(p.finished for p in self.stream_peers + self.sink_peers + self.get_peers)

    def waiting_for(self) -> str | None:
        for spec, peer in zip(self.streams, self.stream_peers):
            if not peer.started:
                return f"{peer.name}: its trigger /{spec.after.pattern}/"
            if not peer.finished:
                return f"{peer.name}: the transfer ({peer.progress()}, try {peer.tries})"
        for spec, peer in zip(self.gets, self.get_peers):
            if not peer.started:
                return f"{peer.name}: its trigger /{spec.after.pattern}/"
            if not peer.finished:
                return f"{peer.name}: the response"
        for peer in self.sink_peers:
            if not peer.finished:
                return f"{peer.name}: " + ("the guest's connection" if not getattr(peer, "accepted", False)
                                           else f"the transfer ({peer.progress()})")
        return None

    def finish(self, captures: dict[str, str], notes: list[str]) -> list[str]:
        failures = []

        def want(e: str) -> str:
            return re.sub(r"\{capture:([A-Za-z_]\w*)\}", lambda m: captures.get(m.group(1), "<uncaptured>"), e)

        for spec, peer in zip(self.streams, self.stream_peers):
            if not peer.started:
                failures.append(f"{peer.name}: never started (its trigger /{spec.after.pattern}/ did not appear)")
            elif not peer.finished:
                failures.append(f"{peer.name}: unfinished ({peer.progress()})")
            elif peer.error:
                failures.append(f"{peer.name}: {peer.error} ({peer.progress()}, try {peer.tries})")
            elif spec.expect == "echo":
                if peer.echo_ok:
                    notes.append(f"{peer.name}: {peer.sent_bytes} bytes echoed, sha256 "
                                 f"{peer.received.hexdigest()} both ways ({peer.seconds:.1f} s)")
                else:
                    failures.append(f"{peer.name}: sent {peer.sent_bytes} bytes (sha256 {peer.sent.hexdigest()}), "
                                    f"got back {peer.received_bytes} (sha256 {peer.received.hexdigest()})")
            elif peer.received.hexdigest() != want(spec.expect).lower():
                failures.append(f"{peer.name}: received {peer.received_bytes} bytes with sha256 "
                                f"{peer.received.hexdigest()}, expected {want(spec.expect)}")
            else:
                notes.append(f"{peer.name}: sent {peer.sent_bytes} bytes, received {peer.received_bytes} with "
                             f"the expected sha256 ({peer.seconds:.1f} s)")
        for spec, peer in zip(self.sinks, self.sink_peers):
            if not peer.finished:
                failures.append(f"{peer.name} (port {self.ports[spec.port]}): "
                                + ("the guest never connected" if not getattr(peer, "accepted", False)
                                   else f"unfinished ({peer.progress()})"))
            elif peer.error:
                failures.append(f"{peer.name}: {peer.error} ({peer.progress()})")
            elif peer.received.hexdigest() != want(spec.expect).lower():
                failures.append(f"{peer.name}: received {peer.received_bytes} bytes with sha256 "
                                f"{peer.received.hexdigest()}, expected {want(spec.expect)}")
            elif spec.guest_received and peer.sent.hexdigest() != want(spec.guest_received).lower():
                failures.append(f"{peer.name}: sent the guest {peer.sent_bytes} bytes with sha256 "
                                f"{peer.sent.hexdigest()}, the guest reports {want(spec.guest_received)}")
            else:
                notes.append(f"{peer.name}: sent the guest {peer.sent_bytes} bytes (sha256 {peer.sent.hexdigest()}), "
                             f"received {peer.received_bytes} with the expected sha256")
        for spec, peer in zip(self.gets, self.get_peers):
            if not peer.started:
                failures.append(f"{peer.name}: never sent (its trigger /{spec.after.pattern}/ did not appear)")
                continue
            if not peer.finished:
                failures.append(f"{peer.name}: no response")
                continue
            if peer.error:
                failures.append(f"{peer.name}: {peer.error}")
                continue
            problems = []
            status = getattr(peer, "status", None)
            if status != spec.status:
                problems.append(f"status {status}, expected {spec.status}")
            length = getattr(peer, "content_length", None)
            if spec.method == "HEAD" and spec.request is None:
                # RFC 9110 §9.3.2: the GET's head, and not one byte of body.
                if peer.body:
                    problems.append(f"{len(peer.body)} bytes of body after a HEAD's head")
                if not length:
                    problems.append(f"Content-Length {length} (the GET's body length expected)")
            elif length != len(peer.body):
                problems.append(f"Content-Length {length} but {len(peer.body)} bytes of body")
            if spec.status == 200 and spec.method == "GET" and spec.request is None:
                if "application/json" not in getattr(peer, "content_type", ""):
                    problems.append(f"Content-Type {getattr(peer, 'content_type', '')!r}")
                try:
                    doc = json.loads(peer.body)
                    if not isinstance(doc, dict):
                        problems.append("the body is JSON but not an object")
                except ValueError as e:
                    problems.append(f"the body is not JSON ({e})")
            text = peer.body.decode("utf-8", "replace")
            problems += [f"no {c!r} in the body" for c in spec.contains if c not in text]
            what = spec.method if spec.request is None else "request"
            if problems:
                failures.append(f"{peer.name} {what} {spec.path}: " + "; ".join(problems)
                                + f"; body {peer.body[:300]!r}")
            else:
                silent = (f" beside {spec.silent} silent connections held open" if spec.hold else
                          f" after {spec.silent} silent connections closed by the guest in "
                          f"{getattr(peer, 'silent_seconds', 0):.1f} s" if spec.silent else "")
                notes.append(f"{peer.name} {what} {spec.path}: {status}, {len(peer.body)} bytes of body naming "
                             + (", ".join(spec.contains) or "nothing asked") + silent)
        return failures

    def close(self) -> None:
        self._closing = True
        for lsock in self.listeners:
            try:
                lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            lsock.close()
