#!/usr/bin/env python3
"""The one place that knows Sluice's QEMU command line.

Used as a CLI by the Makefile (`make run`, `make debug`) and as a module by
the scenario harness (tests/scenarios/run_scenario.py), so an interactive run
and a test run boot the same machine.

Machine: q35, -nodefaults (so the PCI topology is exactly what we ask for:
host bridge, ICH9 LPC/AHCI/SMBus, plus our devices), 1 GiB, one vCPU,
isa-debug-exit at 0xf4 (the kernel's panic path writes 1 there -> QEMU exits
with status 3), SeaBIOS or OVMF, TCG unless KVM is asked for.

Default device set ("default"): one NVMe, one virtio-blk, one virtio-net on
user networking, each backed by a raw image created on demand.

Stdlib only; works with any python3 >= 3.8 (the harness needs 3.11).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QEMU_BINARY = "qemu-system-x86_64"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
DEBUG_EXIT_ARGS = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
# isa-debug-exit turns a guest write of v into exit status (v << 1) | 1.
PANIC_EXIT_STATUS = 3
DISK_IMAGE_BYTES = 64 * 1024 * 1024
DEFAULT_DISKS = ("nvme0", "vblk0")
GDB_PORT = 1234


class QemuError(Exception):
    """A configuration problem that makes it pointless to start QEMU."""


@dataclass
class QemuConfig:
    image: Path | None = None            # boot image (ISO or raw GPT disk)
    image_format: str = "auto"           # iso | uefi | auto (by extension)
    firmware: str = "auto"               # bios | uefi | auto (uefi image -> uefi)
    accel: str = "tcg"                   # tcg | kvm
    cpu: str | None = None               # default: max (tcg), host (kvm)
    memory: str = "1G"
    smp: int = 1
    devices: str = "default"             # default | none
    disk_dir: Path = REPO / "build"      # where nvme0.img / vblk0.img live
    run_dir: Path | None = None          # per-run files (OVMF vars copy)
    serial: str = "stdio"                # stdio (with monitor mux) | file:PATH | socket:PATH | none
    qmp_socket: Path | None = None
    gdb: bool = False                    # -s -S: gdb stub on :1234, start paused
    extra_args: list[str] = field(default_factory=list)


def default_device_args(disk_dir: Path) -> list[str]:
    """The default device set. Raw images are created (sparse) if missing."""
    paths = {name: ensure_disk_image(disk_dir / f"{name}.img") for name in DEFAULT_DISKS}
    return [
        "-drive", f"file={paths['nvme0']},if=none,id=nvme0,format=raw",
        "-device", "nvme,serial=sluice-nvme0,drive=nvme0",
        "-drive", f"file={paths['vblk0']},if=none,id=vblk0,format=raw",
        "-device", "virtio-blk-pci,drive=vblk0",
        "-netdev", "user,id=net0",
        "-device", "virtio-net-pci,netdev=net0",
    ]


def ensure_disk_image(path: Path, size: int = DISK_IMAGE_BYTES) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.truncate(size)
    return path


def detect_image_format(image: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    return "iso" if image.suffix.lower() == ".iso" else "uefi"


def check_host(accel: str, firmware: str) -> None:
    """Fail with a clear message rather than skipping when something is missing."""
    if shutil.which(QEMU_BINARY) is None:
        raise QemuError(f"{QEMU_BINARY} not found: run scripts/deps.sh "
                        "(Debian package qemu-system-x86)")
    if firmware == "uefi":
        for f in (OVMF_CODE, OVMF_VARS):
            if not f.is_file():
                raise QemuError(f"OVMF firmware {f} not found: run scripts/deps.sh "
                                "(Debian package ovmf)")
    if accel == "kvm":
        if not os.path.exists("/dev/kvm"):
            raise QemuError("ACCEL=kvm asked for but /dev/kvm does not exist on this host; "
                            "use ACCEL=tcg (the default)")
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            raise QemuError("ACCEL=kvm asked for but /dev/kvm is not accessible "
                            "(add yourself to group kvm)")
    elif accel != "tcg":
        raise QemuError(f"unknown accelerator {accel!r} (tcg or kvm)")


def serial_args(serial: str) -> list[str]:
    """COM1's QEMU arguments for a serial mode:

    stdio        the terminal, multiplexed with the monitor (make run: Ctrl-A X
                 quits, Ctrl-A C toggles the monitor);
    file:PATH    output only, appended to PATH;
    socket:PATH  both ways over a unix stream socket that someone (the scenario
                 harness) is already listening on: QEMU connects while it
                 starts, before the guest runs, so no output is lost, and
                 bytes written to the socket arrive on COM1's receiver;
    none         no serial port.
    """
    if serial == "stdio":
        return ["-serial", "mon:stdio"]
    if serial.startswith("file:"):
        return ["-serial", serial, "-monitor", "none"]
    if serial.startswith("socket:") and len(serial) > len("socket:"):
        path = serial[len("socket:"):].replace(",", ",,")  # QEMU option escaping
        return ["-chardev", f"socket,id=ser0,path={path},server=off",
                "-serial", "chardev:ser0", "-monitor", "none"]
    if serial == "none":
        return ["-serial", "none", "-monitor", "none"]
    raise QemuError(f"unknown serial mode {serial!r} (stdio, file:PATH, socket:PATH or none)")


def build_command(cfg: QemuConfig) -> list[str]:
    """The full QEMU argv for cfg. Creates default disk images and, for UEFI,
    the per-run copy of the OVMF variable store."""
    firmware = cfg.firmware
    fmt = detect_image_format(cfg.image, cfg.image_format) if cfg.image else "iso"
    if firmware == "auto":
        firmware = "uefi" if fmt == "uefi" else "bios"
    check_host(cfg.accel, firmware)

    cpu = cfg.cpu or ("host" if cfg.accel == "kvm" else "max")
    cmd = [
        QEMU_BINARY,
        "-machine", "q35",
        "-accel", cfg.accel,
        "-cpu", cpu,
        "-m", cfg.memory,
        "-smp", str(cfg.smp),
        "-nodefaults",
        "-display", "none",
        "-no-reboot",          # a triple fault ends the run instead of looping
    ]
    cmd += DEBUG_EXIT_ARGS

    if firmware == "uefi":
        run_dir = cfg.run_dir or (cfg.disk_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        vars_copy = run_dir / "OVMF_VARS.fd"
        shutil.copyfile(OVMF_VARS, vars_copy)
        cmd += [
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}",
        ]

    if cfg.image is not None:
        if fmt == "iso":
            cmd += ["-drive", f"file={cfg.image},if=none,id=boot,media=cdrom,format=raw,readonly=on",
                    "-device", "ide-cd,drive=boot,bus=ide.0"]
        else:
            # snapshot=on: the image is never written, so it can be shared.
            cmd += ["-drive", f"file={cfg.image},if=none,id=boot,format=raw,snapshot=on",
                    "-device", "ide-hd,drive=boot,bus=ide.0,bootindex=0"]

    cmd += serial_args(cfg.serial)

    if cfg.qmp_socket is not None:
        cmd += ["-qmp", f"unix:{cfg.qmp_socket},server=on,wait=off"]
    if cfg.gdb:
        cmd += ["-s", "-S"]

    if cfg.devices == "default":
        cmd += default_device_args(cfg.disk_dir)
    elif cfg.devices != "none":
        raise QemuError(f"unknown device set {cfg.devices!r} (default or none)")
    cmd += list(cfg.extra_args)
    return cmd


def kill_group(proc: subprocess.Popen) -> None:
    """Kills a QEMU started with start_new_session=True, with its whole group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def format_command(cmd: list[str]) -> str:
    return shlex.join(cmd)


def announce(cfg: QemuConfig, cmd: list[str], stream=sys.stderr) -> None:
    print(f"qemu: accelerator {cfg.accel}", file=stream)
    print(f"qemu: {format_command(cmd)}", file=stream)
    stream.flush()


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
    p.add_argument("--gdb", action="store_true", help=f"-s -S: gdb stub on :{GDB_PORT}, start paused")
    p.add_argument("--print", dest="print_only", action="store_true",
                   help="print the command line and exit")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="-- extra QEMU arguments")
    a = p.parse_args(argv)
    extra = a.extra[1:] if a.extra[:1] == ["--"] else a.extra

    cfg = QemuConfig(image=a.image, image_format=a.format, firmware=a.firmware, accel=a.accel,
                     cpu=a.cpu, memory=a.memory, smp=a.smp, devices=a.devices,
                     disk_dir=a.disk_dir, run_dir=a.run_dir, serial=a.serial, qmp_socket=a.qmp,
                     gdb=a.gdb, extra_args=extra)
    if a.image is not None and not a.image.is_file():
        print(f"qemu: boot image {a.image} not found (make image)", file=sys.stderr)
        return 2
    try:
        cmd = build_command(cfg)
    except QemuError as e:
        print(f"qemu: error: {e}", file=sys.stderr)
        return 2
    if a.print_only:
        print(format_command(cmd))
        return 0
    announce(cfg, cmd)
    if a.serial == "stdio":
        print("qemu: serial console on this terminal; quit with Ctrl-A X "
              "(Ctrl-A C toggles the QEMU monitor)", file=sys.stderr)
    if a.gdb:
        print(f"qemu: paused, gdb stub on localhost:{GDB_PORT}; in another terminal: "
              "gdb -x .gdbinit", file=sys.stderr)
    sys.stderr.flush()
    rc = subprocess.call(cmd)
    # Firmware and GRUB clear the screen, so say it again at the end.
    what = {0: "guest powered off or quit", PANIC_EXIT_STATUS: "the kernel panicked (isa-debug-exit)"}
    print(f"\nqemu: exit status {rc}: {what.get(rc, 'QEMU error')} (accelerator {cfg.accel})",
          file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
