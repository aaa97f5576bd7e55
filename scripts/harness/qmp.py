"""Minimal QMP client (stdlib only) for the scenario harness.

QMP is line-delimited JSON over a unix socket: a greeting, then
`qmp_capabilities`, then commands; asynchronous events may arrive between a
command and its reply and are collected in `events`.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path


class QmpError(Exception):
    pass


class Qmp:
    def __init__(self, path: Path, connect_timeout: float = 10.0, io_timeout: float = 30.0,
                 alive=None):
        """alive: optional callable; connecting gives up as soon as it returns False
        (QEMU exited before creating the socket)."""
        self.path = Path(path)
        self.events: list[dict] = []
        self._buf = b""
        deadline = time.monotonic() + connect_timeout
        last_error: Exception | None = None
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(self.path))
                break
            except OSError as e:  # socket not created yet
                s.close()
                last_error = e
                if alive is not None and not alive():
                    raise QmpError(f"QEMU exited before its QMP socket {self.path} accepted")
                if time.monotonic() > deadline:
                    raise QmpError(f"cannot connect to QMP socket {self.path}: {last_error}")
                time.sleep(0.05)
        s.settimeout(io_timeout)
        self._sock = s
        try:
            greeting = self._read_message()
        except QmpError:
            s.close()
            raise
        if "QMP" not in greeting:
            raise QmpError(f"unexpected QMP greeting: {greeting}")
        self.command("qmp_capabilities")

    def _read_message(self) -> dict:
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                raise QmpError("timed out waiting for QMP")
            except OSError as e:
                raise QmpError(f"QMP connection lost: {e}")
            if not chunk:
                raise QmpError("QMP connection closed by QEMU")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name: str, /, **arguments):
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(msg).encode() + b"\n")
        except OSError as e:
            raise QmpError(f"QMP connection lost: {e}")
        while True:
            reply = self._read_message()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise QmpError(f"{name}: {reply['error'].get('class')}: {reply['error'].get('desc')}")
            return reply.get("return")

    def hmp(self, command_line: str) -> str:
        """Run a human-monitor command and return its text output."""
        return self.command("human-monitor-command", **{"command-line": command_line})

    def drain_events(self, seconds: float) -> list[dict]:
        """Collect events still buffered (e.g. SHUTDOWN after QEMU exited)."""
        self._sock.settimeout(seconds)
        try:
            while True:
                msg = self._read_message()
                if "event" in msg:
                    self.events.append(msg)
        except (QmpError, OSError, ValueError):
            pass
        return self.events

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
