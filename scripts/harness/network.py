"""Networking for scenarios: QEMU's user-mode network with a NIC, peers the
harness runs on the host, and the packet capture QEMU takes, parsed here.

A scenario's [network] table (docs/testing.md "Network") says:

    [network]
    device = "virtio-net-pci,mac=52:54:00:12:34:56"   # the NIC (netdev n0)
    pcap = true                  # -object filter-dump on n0; checked after the run
    pcap_min = { arp = 2, udp = 3 }   # at least these frames of each kind
    pcap_never = ["SECRET"]      # bytes no captured frame may carry (ASCII)
    pcap_seen = ["MINE"]         # bytes some captured frame must carry (ASCII)
    udp_forward = { fwd = 7 }    # host UDP port {port:fwd} -> guest port 7 (hostfwd)

    [[network.udp_echo]]         # a host client: once `after` appears in the
    forward = "fwd"              # serial log, send `payload` ({port:NAME}
    after = 'net_probe: ready'   # substituted) and `random` random bytes to
    payload = "sink={port:sink};"  # the forwarded port; the guest must send
    random = 64                  # the same bytes back (checked byte for byte);
    count = 1                    # `count` such datagrams, each its own bytes

    [[network.udp_sink]]         # a host server on {port:NAME}: the guest
    port = "sink"                # reaches it as 10.0.2.2:PORT; a datagram
    expect_hex = "{capture:sent}"  # whose bytes are this hex must arrive

    [[network.link]]             # once `after` appears (and the link changes
    after = 'echo 600'           # before it were made), QMP set_link n0 up/down:
    up = false                   # the cable pulled (or put back) from outside

    tcp_forward = { echo = 7 }   # and TCP peers: harness.tcp_peers

    resolve = { name = "deb.debian.org", answer = "{capture:addr}" }
                                 # the host resolves `name` (IPv4) after the
                                 # run: the guest's answer (a marker's capture,
                                 # a.b.c.d) must be among the host's addresses,
                                 # and the pcap must hold the guest's A query
                                 # for it to slirp's 10.0.2.3:53 and an answer
                                 # carrying that address. A host that cannot
                                 # resolve the name fails the scenario.

Ports are the host's, picked free at run time (so parallel runs do not
collide); the guest learns them through the data (the echo payload above).
All truth is the host's: what its sockets received and what QEMU captured.
"""

from __future__ import annotations

import os
import re
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path

from . import tcp_peers

NETWORK_KEYS = {"device", "pcap", "pcap_min", "pcap_never", "pcap_seen", "udp_forward", "udp_echo", "udp_sink",
                "link", "tcp_forward", "tcp_stream", "tcp_sink", "http_get", "resolve"}
RESOLVE_KEYS = {"name", "answer"}
SLIRP_DNS = bytes([10, 0, 2, 3])
LINK_KEYS = {"after", "up"}
ECHO_KEYS = {"forward", "after", "payload", "random", "count"}
SINK_KEYS = {"port", "expect_hex"}
PCAP_KINDS = {"arp", "ipv4", "ipv6", "udp", "tcp", "icmp", "icmpv6"}
PORT_RE = re.compile(r"\{port:([A-Za-z_][A-Za-z0-9_]*)\}")
CAPTURE_RE = re.compile(r"\{capture:([A-Za-z_][A-Za-z0-9_]*)\}")
ECHO_RESEND_SECONDS = 3.0
ECHO_SENDS = 5
# Datagrams one echo sends per pass of the watch loop (~20 passes a second):
# a burst sent all at once overflows the receive buffer of QEMU's hostfwd
# socket on the host, and the loss would be the host's, not the guest's.
ECHO_PER_PASS = 32


class NetworkSpecError(Exception):
    pass


@dataclass
class Echo:
    forward: str
    after: re.Pattern
    payload: str
    random: int
    count: int = 1  # datagrams, each with random bytes of its own; every one must come back


@dataclass
class Sink:
    port: str
    expect_hex: str


@dataclass
class NetworkSpec:
    device: str = "virtio-net-pci"
    pcap: bool = False
    pcap_min: dict[str, int] = field(default_factory=dict)
    pcap_never: list[str] = field(default_factory=list)  # no captured frame may carry these bytes
    pcap_seen: list[str] = field(default_factory=list)   # some captured frame must carry each
    forwards: dict[str, int] = field(default_factory=dict)   # host port name -> guest UDP port
    echoes: list[Echo] = field(default_factory=list)
    sinks: list[Sink] = field(default_factory=list)
    links: list[tuple[re.Pattern, bool]] = field(default_factory=list)  # (trigger, up): QMP set_link on n0
    tcp_forwards: dict[str, int] = field(default_factory=dict)  # host port name -> guest TCP port
    tcp_streams: list[tcp_peers.StreamSpec] = field(default_factory=list)
    tcp_sinks: list[tcp_peers.SinkSpec] = field(default_factory=list)
    http_gets: list[tcp_peers.HttpSpec] = field(default_factory=list)
    resolve: dict[str, str] | None = None  # {"name", "answer"}: checked against the host's resolver

    def port_names(self) -> set[str]:
        return (set(self.forwards) | {s.port for s in self.sinks} | set(self.tcp_forwards)
                | {s.port for s in self.tcp_sinks})


def parse(data) -> NetworkSpec:
    """The [network] table, checked key by key."""
    if not isinstance(data, dict):
        raise NetworkSpecError("[network] must be a table")
    unknown = set(data) - NETWORK_KEYS
    if unknown:
        raise NetworkSpecError(f"[network]: unknown keys {sorted(unknown)}")
    spec = NetworkSpec()
    device = data.get("device", spec.device)
    if not isinstance(device, str) or not device or "netdev=" in device:
        raise NetworkSpecError("[network] device must be a QEMU NIC model with options, without netdev=")
    spec.device = device
    spec.pcap = data.get("pcap", False)
    if not isinstance(spec.pcap, bool):
        raise NetworkSpecError("[network] pcap must be true or false")
    pmin = data.get("pcap_min", {})
    if not isinstance(pmin, dict) or any(k not in PCAP_KINDS or not isinstance(v, int) or v < 0
                                         for k, v in pmin.items()):
        raise NetworkSpecError(f"[network] pcap_min: counts of {sorted(PCAP_KINDS)}")
    if pmin and not spec.pcap:
        raise NetworkSpecError("[network] pcap_min needs pcap = true")
    spec.pcap_min = dict(pmin)
    for key in ("pcap_never", "pcap_seen"):
        v = data.get(key, [])
        if not isinstance(v, list) or any(not isinstance(m, str) or not m or not m.isascii() for m in v):
            raise NetworkSpecError(f"[network] {key}: a list of non-empty ASCII strings")
        if v and not spec.pcap:
            raise NetworkSpecError(f"[network] {key} needs pcap = true")
        setattr(spec, key, list(v))
    fwd = data.get("udp_forward", {})
    if not isinstance(fwd, dict) or any(not re.fullmatch(r"[A-Za-z_]\w*", k) or not isinstance(v, int)
                                        or not 0 < v < 65536 for k, v in fwd.items()):
        raise NetworkSpecError("[network] udp_forward: { name = guest UDP port }")
    spec.forwards = dict(fwd)
    for i, e in enumerate(data.get("udp_echo", [])):
        if not isinstance(e, dict) or set(e) - ECHO_KEYS or not {"forward", "after"} <= set(e):
            raise NetworkSpecError(f"[[network.udp_echo]] #{i + 1}: keys {sorted(ECHO_KEYS)} "
                                   "(forward and after required)")
        if e["forward"] not in spec.forwards:
            raise NetworkSpecError(f"[[network.udp_echo]] #{i + 1}: forward {e['forward']!r} is not in udp_forward")
        try:
            after = re.compile(e["after"])
        except re.error as err:
            raise NetworkSpecError(f"[[network.udp_echo]] #{i + 1}: bad regex: {err}") from err
        n = e.get("random", 0)
        payload = e.get("payload", "")
        if not isinstance(n, int) or not 0 <= n <= 1400 or not isinstance(payload, str) or not (payload or n):
            raise NetworkSpecError(f"[[network.udp_echo]] #{i + 1}: a payload and/or 0..1400 random bytes")
        count = e.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10000 or (count > 1 and n < 8):
            raise NetworkSpecError(f"[[network.udp_echo]] #{i + 1}: count 1..10000 (more than one needs "
                                   "random >= 8, so each datagram differs)")
        spec.echoes.append(Echo(e["forward"], after, payload, n, count))
    for i, s in enumerate(data.get("udp_sink", [])):
        if not isinstance(s, dict) or set(s) != SINK_KEYS:
            raise NetworkSpecError(f"[[network.udp_sink]] #{i + 1}: keys {sorted(SINK_KEYS)}")
        if not re.fullmatch(r"[A-Za-z_]\w*", s["port"]) or s["port"] in spec.forwards:
            raise NetworkSpecError(f"[[network.udp_sink]] #{i + 1}: port must be a name of its own")
        spec.sinks.append(Sink(s["port"], s["expect_hex"]))
    for i, l in enumerate(data.get("link", [])):
        if not isinstance(l, dict) or set(l) != LINK_KEYS or not isinstance(l["up"], bool):
            raise NetworkSpecError(f"[[network.link]] #{i + 1}: keys {sorted(LINK_KEYS)} (up = true or false)")
        try:
            spec.links.append((re.compile(l["after"]), l["up"]))
        except re.error as err:
            raise NetworkSpecError(f"[[network.link]] #{i + 1}: bad regex: {err}") from err
    tfwd = data.get("tcp_forward", {})
    if not isinstance(tfwd, dict) or any(not re.fullmatch(r"[A-Za-z_]\w*", k) or not isinstance(v, int)
                                         or not 0 < v < 65536 or k in spec.forwards for k, v in tfwd.items()):
        raise NetworkSpecError("[network] tcp_forward: { name = guest TCP port } (names apart from udp_forward's)")
    spec.tcp_forwards = dict(tfwd)
    try:
        spec.tcp_streams, spec.tcp_sinks, spec.http_gets = tcp_peers.parse(data, spec.tcp_forwards)
    except tcp_peers.TcpSpecError as err:
        raise NetworkSpecError(str(err)) from err
    r = data.get("resolve")
    if r is not None:
        if (not isinstance(r, dict) or set(r) != RESOLVE_KEYS or not all(isinstance(v, str) for v in r.values())
                or not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", r["name"])
                or not CAPTURE_RE.fullmatch(r["answer"])):
            raise NetworkSpecError('[network] resolve = { name = "host.name", answer = "{capture:NAME}" }')
        if not spec.pcap:
            raise NetworkSpecError("[network] resolve needs pcap = true")
        spec.resolve = dict(r)
    if len(spec.port_names()) != (len(spec.forwards) + len(spec.sinks) + len(spec.tcp_forwards)
                                  + len(spec.tcp_sinks)):
        raise NetworkSpecError("[network]: a port name is used twice")
    names = spec.port_names()
    for e in [t.payload for t in spec.tcp_streams]:
        for ref in PORT_RE.findall(e):
            if ref not in names:
                raise NetworkSpecError(f"[[network.tcp_stream]]: payload names port {ref!r}, which nothing defines")
    for e in spec.echoes:
        for ref in PORT_RE.findall(e.payload):
            if ref not in names:
                raise NetworkSpecError(f"[[network.udp_echo]]: payload names port {ref!r}, which nothing defines")
    return spec


def captures_used(spec: NetworkSpec) -> set[str]:
    return ({c for s in spec.sinks for c in CAPTURE_RE.findall(s.expect_hex)}
            | tcp_peers.captures_used(spec.tcp_streams, spec.tcp_sinks)
            | (set(CAPTURE_RE.findall(spec.resolve["answer"])) if spec.resolve else set()))


def _free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_tcp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Network:
    """The host side of one run: sockets, QEMU arguments, results."""

    def __init__(self, spec: NetworkSpec, run_dir: Path):
        self.spec = spec
        self.pcap_path = run_dir / "net.pcap"
        self.ports: dict[str, int] = {}
        self.sink_sockets: dict[str, socket.socket] = {}
        for s in spec.sinks:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            self.sink_sockets[s.port] = sock
            self.ports[s.port] = sock.getsockname()[1]
        for name in spec.forwards:
            # Free now; QEMU binds it a moment later (a race another process
            # would have to win on purpose).
            self.ports[name] = _free_udp_port()
        self.client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.client.bind(("127.0.0.1", 0))
        self.client.setblocking(False)
        self.sent: list[list[bytes] | None] = [None] * len(spec.echoes)
        self.sends: list[int] = [0] * len(spec.echoes)
        self.last_send: list[float] = [0.0] * len(spec.echoes)
        self.replies: list[bytes] = []
        self.reply_set: set[bytes] = set()
        self.pending: list[list[bytes]] = [[] for _ in spec.echoes]  # still to send this round
        self.links_done = 0
        self.received: dict[str, list[bytes]] = {s.port: [] for s in spec.sinks}
        self.notes: list[str] = []
        for name in spec.tcp_forwards:
            self.ports[name] = free_tcp_port()
        self.tcp = tcp_peers.TcpPeers(spec.tcp_streams, spec.tcp_sinks, spec.http_gets, self.ports,
                                      self.substitute_ports)

    def qemu_args(self) -> list[str]:
        fwd = "".join(f",hostfwd=udp:127.0.0.1:{self.ports[n]}-:{g}" for n, g in self.spec.forwards.items())
        fwd += "".join(f",hostfwd=tcp:127.0.0.1:{self.ports[n]}-:{g}" for n, g in self.spec.tcp_forwards.items())
        args = ["-netdev", f"user,id=n0{fwd}", "-device", f"{self.spec.device},netdev=n0"]
        if self.spec.pcap:
            args += ["-object", f"filter-dump,id=f0,netdev=n0,file={self.pcap_path}"]
        return args

    def substitute_ports(self, text: str) -> str:
        return PORT_RE.sub(lambda m: str(self.ports[m.group(1)]), text)

    def poll(self, serial_text: str, now: float) -> list[str]:
        """One pass of the watch loop: sends what is due, reads what came.
        Returns lines for the verbose log."""
        lines = self.tcp.poll(serial_text)
        for i, e in enumerate(self.spec.echoes):
            if self.sent[i] is None and e.after.search(serial_text):
                prefix = self.substitute_ports(e.payload).encode()
                self.sent[i] = [prefix + os.urandom(e.random) for _ in range(e.count)]
                self.pending[i] = list(self.sent[i])
                self.sends[i] = 1
            elif (self.sent[i] is not None and not self.pending[i] and not self._echoed(i)
                  and self.sends[i] < ECHO_SENDS and now - self.last_send[i] >= ECHO_RESEND_SECONDS):
                self.pending[i] = [d for d in self.sent[i] if d not in self.reply_set]
                self.sends[i] += 1
            if self.pending[i]:
                batch, self.pending[i] = self.pending[i][:ECHO_PER_PASS], self.pending[i][ECHO_PER_PASS:]
                for d in batch:
                    self.client.sendto(d, ("127.0.0.1", self.ports[e.forward]))
                self.last_send[i] = now
                if not self.pending[i]:
                    lines.append(f"[harness sent {len(self.sent[i])} datagram(s) of {len(self.sent[i][0])} bytes "
                                 f"to udp 127.0.0.1:{self.ports[e.forward]} (round {self.sends[i]})]")
        for sock, box, what in [(self.client, self.replies, "echo")] + [
                (s, self.received[n], f"sink {n}") for n, s in self.sink_sockets.items()]:
            while True:
                try:
                    data, addr = sock.recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    break
                box.append(data)
                if box is self.replies:
                    self.reply_set.add(data)
                if len(box) <= 4 or len(box) % 100 == 0:
                    lines.append(f"[harness received {len(data)} bytes ({what}, #{len(box)}) from {addr[0]}:{addr[1]}]")
        return lines

    def due_link_change(self, serial_text: str) -> bool | None:
        """The next [[network.link]] whose trigger has appeared (in order): its
        `up`, to be applied with QMP set_link; None when none is due."""
        if self.links_done < len(self.spec.links):
            after, up = self.spec.links[self.links_done]
            if after.search(serial_text):
                self.links_done += 1
                return up
        return None

    def _echoed(self, i: int) -> bool:
        return self.sent[i] is not None and all(d in self.reply_set for d in self.sent[i])

    @property
    def done(self) -> bool:
        return (self.links_done == len(self.spec.links) and all(self._echoed(i) for i in range(len(self.spec.echoes)))
                and all(self.received[s.port] for s in self.spec.sinks) and self.tcp.done)

    def waiting_for(self) -> str:
        if self.links_done < len(self.spec.links):
            return f"link change #{self.links_done + 1}: its trigger /{self.spec.links[self.links_done][0].pattern}/"
        for i, e in enumerate(self.spec.echoes):
            if self.sent[i] is None:
                return f"udp echo #{i + 1}: its trigger /{e.after.pattern}/"
            if not self._echoed(i):
                back = sum(d in self.reply_set for d in self.sent[i])
                return (f"udp echo #{i + 1}: the guest's echoes ({back} of {len(self.sent[i])} back after "
                        f"{self.sends[i]} sends)")
        for s in self.spec.sinks:
            if not self.received[s.port]:
                return f"udp sink {s.port}: a datagram from the guest"
        return self.tcp.waiting_for() or "nothing"

    def finish(self, captures: dict[str, str]) -> list[str]:
        """Failures; notes go to self.notes."""
        failures = []
        for i, e in enumerate(self.spec.echoes):
            if self.sent[i] is None:
                failures.append(f"udp echo #{i + 1}: never sent (its trigger /{e.after.pattern}/ did not appear)")
            elif not self._echoed(i):
                back = sum(d in self.reply_set for d in self.sent[i])
                first = next(d for d in self.sent[i] if d not in self.reply_set)
                got = ", ".join(f"{len(r)} bytes {r[:16].hex()}..." for r in self.replies[-3:]) or "nothing"
                failures.append(f"udp echo #{i + 1}: {back} of {len(self.sent[i])} datagrams came back after "
                                f"{self.sends[i]} sends; first missing {len(first)} bytes {first[:16].hex()}...; "
                                f"the guest's last replies: {got}")
            else:
                n = len(self.sent[i])
                self.notes.append(f"udp echo #{i + 1}: " + (f"{len(self.sent[i][0])} bytes echoed byte for byte"
                                  if n == 1 else f"{n} datagrams of {len(self.sent[i][0])} bytes, each echoed "
                                  "byte for byte"))
        for s in self.spec.sinks:
            want = CAPTURE_RE.sub(lambda m: captures.get(m.group(1), "<uncaptured>"), s.expect_hex)
            got = self.received[s.port]
            try:
                want_bytes = bytes.fromhex(want)
            except ValueError:
                failures.append(f"udp sink {s.port}: expected bytes {want!r} are not hex")
                continue
            if want_bytes in got:
                self.notes.append(f"udp sink {s.port} (port {self.ports[s.port]}): received the guest's "
                                  f"{len(want_bytes)} bytes")
            else:
                failures.append(f"udp sink {s.port} (port {self.ports[s.port]}): expected {want[:32]}... "
                                f"({len(want_bytes)} bytes); received "
                                + (", ".join(f"{len(g)} bytes {g[:16].hex()}" for g in got) or "nothing"))
        failures += self.tcp.finish(captures, self.notes)
        if self.spec.pcap:
            failures += self.check_pcap()
        if self.spec.resolve:
            failures += self.check_resolve(captures)
        return failures

    def check_resolve(self, captures: dict[str, str]) -> list[str]:
        name = self.spec.resolve["name"]
        answer = CAPTURE_RE.sub(lambda m: captures.get(m.group(1), "<uncaptured>"), self.spec.resolve["answer"])
        try:
            host = sorted({a[4][0] for a in socket.getaddrinfo(name, None, socket.AF_INET)})
        except OSError as e:
            return [f"resolve {name}: the HOST cannot resolve it ({e}): this scenario needs the host's DNS "
                    "(slirp forwards the guest's queries to it), so it cannot judge the guest's answer"]
        if answer not in host:
            return [f"resolve {name}: the guest printed {answer}, the host's addresses are {host}"]
        try:
            data = self.pcap_path.read_bytes()
        except OSError as e:
            return [f"resolve {name}: pcap unreadable: {e}"]
        problems = check_dns_exchange(data, name, socket.inet_aton(answer))
        if problems:
            return [f"resolve {name}: {p}" for p in problems]
        self.notes.append(f"resolve {name}: the guest's {answer} is among the host's {host}; the pcap holds "
                          "the query to 10.0.2.3:53 and the answer carrying it")
        return []

    def check_pcap(self) -> list[str]:
        try:
            data = self.pcap_path.read_bytes()
        except OSError as e:
            return [f"pcap {self.pcap_path}: unreadable: {e}"]
        problems, counts = check_pcap_bytes(data)
        problems += check_pcap_markers(data, self.spec.pcap_never, self.spec.pcap_seen)
        for kind, n in self.spec.pcap_min.items():
            if counts.get(kind, 0) < n:
                problems.append(f"pcap: {counts.get(kind, 0)} {kind} frames, expected at least {n}")
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        if problems:
            return [f"pcap {self.pcap_path} ({summary}): " + p for p in problems[:20]]
        self.notes.append(f"pcap: every frame well formed, every checksum right ({summary})"
                          + (f"; never {self.spec.pcap_never}" if self.spec.pcap_never else "")
                          + (f"; seen {self.spec.pcap_seen}" if self.spec.pcap_seen else ""))
        return []

    def close(self) -> None:
        self.tcp.close()
        self.client.close()
        for s in self.sink_sockets.values():
            s.close()


# ---------------------------------------------------------------------------
# pcap (libpcap's format, as QEMU's filter-dump writes it): every frame
# parsed down to its transport, lengths consistent, checksums right.

def _ones_sum(data: bytes, start: int = 0) -> int:
    if len(data) % 2:
        data += b"\0"
    s = start + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _l4_ok(proto: int, seg: bytes, pseudo: int) -> str | None:
    """None when the transport header and checksum are right, else why."""
    if proto == 17:
        if len(seg) < 8:
            return "UDP header truncated"
        ulen, csum = struct.unpack("!HH", seg[4:8])
        if ulen != len(seg):
            return f"UDP length {ulen} != {len(seg)} bytes carried"
        if csum == 0:
            return None  # IPv4: no checksum (IPv6 forbids it: caught by the caller)
        return None if _ones_sum(seg, pseudo) == 0xFFFF else f"UDP checksum {csum:#06x} wrong"
    if proto == 6:
        if len(seg) < 20 or (seg[12] >> 4) * 4 < 20 or (seg[12] >> 4) * 4 > len(seg):
            return "TCP header truncated or data offset impossible"
        return None if _ones_sum(seg, pseudo) == 0xFFFF else "TCP checksum wrong"
    if proto in (1, 58):
        if len(seg) < 4:
            return "ICMP header truncated"
        return None if _ones_sum(seg, pseudo if proto == 58 else 0) == 0xFFFF else "ICMP checksum wrong"
    return None


L4_NAMES = {17: "udp", 6: "tcp", 1: "icmp", 58: "icmpv6"}


def check_frame(frame: bytes) -> tuple[str | None, list[str]]:
    """(why it is bad or None, the kinds it counts as)."""
    if len(frame) < 14:
        return f"{len(frame)} bytes: no Ethernet header", []
    etype = struct.unpack("!H", frame[12:14])[0]
    body = frame[14:]
    if etype == 0x0806:
        if len(body) < 28:
            return "ARP truncated", ["arp"]
        htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", body[:8])
        if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4) or op not in (1, 2):
            return f"ARP not Ethernet/IPv4 request/reply (htype {htype} ptype {ptype:#x} op {op})", ["arp"]
        return None, ["arp"]
    if etype == 0x0800:
        if len(body) < 20 or body[0] >> 4 != 4 or (body[0] & 15) < 5:
            return "IPv4 header truncated or not version 4", ["ipv4"]
        ihl = (body[0] & 15) * 4
        total = struct.unpack("!H", body[2:4])[0]
        if total < ihl or total > len(body) or ihl > len(body):
            return f"IPv4 total length {total} against {len(body)} bytes carried", ["ipv4"]
        if _ones_sum(body[:ihl]) != 0xFFFF:
            return "IPv4 header checksum wrong", ["ipv4"]
        proto = body[9]
        kinds = ["ipv4"] + ([L4_NAMES[proto]] if proto in L4_NAMES else [])
        flags_frag = struct.unpack("!H", body[6:8])[0]
        if flags_frag & 0x3FFF:  # a fragment: the transport checksum spans the whole datagram
            return None, kinds
        seg = body[ihl:total]
        pseudo = _ones_sum(body[12:20] + struct.pack("!HH", proto, len(seg)))
        return _l4_ok(proto, seg, pseudo), kinds
    if etype == 0x86DD:
        if len(body) < 40 or body[0] >> 4 != 6:
            return "IPv6 header truncated or not version 6", ["ipv6"]
        plen, nxt = struct.unpack("!HB", body[4:7])
        if 40 + plen > len(body):
            return f"IPv6 payload length {plen} against {len(body) - 40} bytes carried", ["ipv6"]
        kinds = ["ipv6"] + ([L4_NAMES[nxt]] if nxt in L4_NAMES else [])
        seg = body[40:40 + plen]
        pseudo = _ones_sum(body[8:40] + struct.pack("!IxxxB", plen, nxt))
        if nxt == 17 and len(seg) >= 8 and seg[6:8] == b"\0\0":
            return "UDP over IPv6 without a checksum", kinds
        return _l4_ok(nxt, seg, pseudo), kinds
    return f"EtherType {etype:#06x} is none of ARP, IPv4, IPv6", []


def pcap_frames(data: bytes) -> list[bytes]:
    """Every whole frame of a pcap file (nothing if it is not one)."""
    if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"):
        return []
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    frames, at = [], 24
    while at + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[at + 8:at + 12])[0]
        frame = data[at + 16:at + 16 + caplen]
        if len(frame) < caplen:
            break
        frames.append(frame)
        at += 16 + caplen
    return frames


def check_pcap_markers(data: bytes, never: list[str], seen: list[str]) -> list[str]:
    """Problems: a frame carrying a `never` marker, or a `seen` marker no
    frame carries (each an ASCII string, searched for anywhere in a frame)."""
    frames = pcap_frames(data)
    problems = []
    for m in never:
        hits = [i for i, f in enumerate(frames) if m.encode() in f]
        if hits:
            problems.append(f"frames {hits[:8]} carry {m!r}, which must never be on the wire")
    for m in seen:
        if not any(m.encode() in f for f in frames):
            problems.append(f"no frame carries {m!r}")
    return problems


def _udp4(frame: bytes):
    """(src ip, dst ip, sport, dport, payload) of an IPv4 UDP frame, else None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    ihl = (frame[14] & 15) * 4
    udp = frame[14 + ihl:]
    if len(udp) < 8:
        return None
    sport, dport, length = struct.unpack("!HHH", udp[:6])
    return frame[26:30], frame[30:34], sport, dport, udp[8:length]


def dns_qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode().lower() for p in name.split(".")) + b"\0"


def check_dns_exchange(data: bytes, name: str, address: bytes) -> list[str]:
    """Problems: no A query for `name` to slirp's resolver (10.0.2.3:53),
    or no answer from it, with the query's ID, carrying `address` (4 bytes)
    as an A record's data."""
    qname = dns_qname(name)
    queries, answered = set(), False
    for f in pcap_frames(data):
        u = _udp4(f)
        if u is None:
            continue
        src, dst, sport, dport, msg = u
        if len(msg) < 12 + len(qname) + 4 or msg[12:12 + len(qname)].lower() != qname:
            continue
        qtype = msg[12 + len(qname):14 + len(qname)]
        if dst == SLIRP_DNS and dport == 53 and not msg[2] & 0x80 and qtype == b"\0\1":
            queries.add(msg[:2])
        elif (src == SLIRP_DNS and sport == 53 and msg[2] & 0x80 and msg[:2] in queries
              and b"\0\1\0\1" in msg and b"\0\4" + address in msg[12 + len(qname) + 4:]):
            answered = True
    if not queries:
        return [f"no A query for {name} to 10.0.2.3:53 in the capture"]
    if not answered:
        return [f"no answer from 10.0.2.3:53 to the guest's query carrying {socket.inet_ntoa(address)}"]
    return []


def check_pcap_bytes(data: bytes) -> tuple[list[str], dict[str, int]]:
    """Problems (empty: all good) and how many frames of each kind."""
    if len(data) < 24:
        return ["shorter than a pcap header (did QEMU write it?)"], {}
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        return [f"not a pcap file (magic {magic.hex()})"], {}
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        return [f"link type {linktype}, not Ethernet"], {}
    problems, counts = [], {"frames": 0}
    at, index = 24, 0
    while at < len(data):
        if at + 16 > len(data):
            problems.append(f"record {index}: header cut short")
            break
        _, _, caplen, origlen = struct.unpack(endian + "IIII", data[at:at + 16])
        frame = data[at + 16:at + 16 + caplen]
        at += 16 + caplen
        if len(frame) < caplen:
            problems.append(f"record {index}: {caplen} bytes announced, {len(frame)} present")
            break
        counts["frames"] += 1
        if caplen != origlen:
            problems.append(f"frame {index}: captured {caplen} of {origlen} bytes")
        why, kinds = check_frame(frame)
        for k in kinds:
            counts[k] = counts.get(k, 0) + 1
        if why:
            problems.append(f"frame {index}: {why} ({frame[:34].hex()})")
        index += 1
    if not counts["frames"]:
        problems.append("no frames captured")
    return problems, counts

