#!/usr/bin/env python3
"""Boot a Sluice image in QEMU: the CLI `make run` and `make debug` use.

The machine itself (command line, default devices, firmware, accelerator
checks) is harness.qemu (scripts/harness/qemu.py), which the scenario
runner and the benchmarks use too, so an interactive run and a test run
boot the same machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO  # noqa: E402
from harness import qemu  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Boot a Sluice image in QEMU (q35). Extra QEMU arguments go after '--'.")
    p.add_argument("--image", type=Path, help="boot image (.iso -> CD-ROM, else GPT raw disk)")
    p.add_argument("--format", choices=["auto", "iso", "uefi"], default="auto")
    p.add_argument("--firmware", choices=["auto", "bios", "uefi"], default="auto",
                   help="auto: OVMF for a uefi image, SeaBIOS otherwise")
    p.add_argument("--accel", choices=["tcg", "kvm"], default=os.environ.get("ACCEL", "tcg"))
    p.add_argument("--cpu", default=None)
    p.add_argument("--memory", "-m", default="1G")
    p.add_argument("--smp", type=int, default=1)
    p.add_argument("--devices", choices=["default", "none"], default="default")
    p.add_argument("--disk-dir", type=Path, default=REPO / "build",
                   help="directory of the default raw disk images (default: build/)")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="per-run files such as the OVMF variable store (default: disk dir)")
    p.add_argument("--serial", default="stdio",
                   help="stdio | file:PATH | socket:PATH (connect COM1 both ways to a listening "
                        "unix socket, e.g. socat UNIX-LISTEN:PATH -) | none")
    p.add_argument("--qmp", type=Path, default=None, help="QMP unix socket path")
    p.add_argument("--gdb", action="store_true", help=f"-s -S: gdb stub on :{qemu.GDB_PORT}, start paused")
    p.add_argument("--print", dest="print_only", action="store_true",
                   help="print the command line and exit")
    p.add_argument("--http-port", default="8080",
                   help="host TCP port forwarded to the guest's port 80 (httpd's /status) with the default "
                        "devices; a free one when taken; 0: none")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="-- extra QEMU arguments")
    a = p.parse_args(argv)
    extra = a.extra[1:] if a.extra[:1] == ["--"] else a.extra

    http_port = pick_http_port(a.http_port) if a.devices == "default" else None
    cfg = qemu.QemuConfig(image=a.image, image_format=a.format, firmware=a.firmware, accel=a.accel,
                          cpu=a.cpu, memory=a.memory, smp=a.smp, devices=a.devices,
                          disk_dir=a.disk_dir, run_dir=a.run_dir, serial=a.serial, qmp_socket=a.qmp,
                          gdb=a.gdb, extra_args=extra, http_port=http_port)
    if a.image is not None and not a.image.is_file():
        print(f"qemu: boot image {a.image} not found (make image)", file=sys.stderr)
        return 2
    try:
        cmd = qemu.build_command(cfg)
    except qemu.QemuError as e:
        print(f"qemu: error: {e}", file=sys.stderr)
        return 2
    if a.print_only:
        print(qemu.format_command(cmd))
        return 0
    qemu.announce(cfg, cmd)
    if a.serial == "stdio":
        print("qemu: serial console on this terminal; quit with Ctrl-A X "
              "(Ctrl-A C toggles the QEMU monitor)", file=sys.stderr)
    if a.gdb:
        print(f"qemu: paused, gdb stub on localhost:{qemu.GDB_PORT}; in another terminal: "
              "gdb -x .gdbinit", file=sys.stderr)
    curl = f"qemu: httpd's health endpoint: curl http://127.0.0.1:{http_port}/status" if http_port else ""
    if curl:
        print(curl, file=sys.stderr)
    if curl and not a.gdb:  # a guest paused for gdb is not up in 20 s
        # GRUB clears the screen: say it again once the guest is up (its
        # netstack has a lease and httpd listens within seconds of boot).
        reminder = threading.Timer(CURL_REMINDER_SECONDS, lambda: print(f"\r\n{curl}\r", file=sys.stderr,
                                                                         flush=True))
        reminder.daemon = True
        reminder.start()
    sys.stderr.flush()
    rc = subprocess.call(cmd)
    # Firmware and GRUB clear the screen, so say it again at the end.
    print(f"\nqemu: exit status {rc}: {qemu.describe_exit(rc)} (accelerator {cfg.accel})",
          file=sys.stderr)
    return rc


CURL_REMINDER_SECONDS = 20.0


def pick_http_port(wanted: str) -> int | None:
    """The host port to forward to the guest's port 80: `wanted` when it is
    free on 127.0.0.1, else one the kernel picks; None for 0."""
    try:
        port = int(wanted)
    except ValueError:
        raise SystemExit(f"qemu: --http-port must be a port number, not {wanted!r}") from None
    if port == 0:
        return None
    if not 0 < port < 65536:
        raise SystemExit(f"qemu: --http-port {port} is not a TCP port")
    for candidate in (port, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As QEMU's slirp binds its hostfwd: a port whose last
            # connections linger in TIME_WAIT is free to it, and to us.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return s.getsockname()[1]
    raise SystemExit("qemu: no free host port for the /status forward")


if __name__ == "__main__":
    sys.exit(main())
