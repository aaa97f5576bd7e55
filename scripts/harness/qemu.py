"""The one place that knows Sluice's QEMU machine, and the QEMU process.

Machine: q35, -nodefaults (so the PCI topology is exactly what we ask for:
host bridge, ICH9 LPC/AHCI/SMBus, plus our devices), 1 GiB, one vCPU,
isa-debug-exit at 0xf4 (the kernel's panic path writes 1 there -> QEMU exits
with status 3), SeaBIOS or OVMF, TCG unless KVM is asked for. The same
builder boots the Linux baseline (kernel/initrd/append instead of an image),
so the two guests' machines differ only in how they boot.

Default device set ("default"): one NVMe, one virtio-blk, one virtio-net on
user networking, each backed by a raw image created on demand.

Qemu is one running QEMU, started in its own session so that it and
anything it spawned can be killed as a group.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import REPO, images, trace

QEMU_BINARY = "qemu-system-x86_64"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
DEBUG_EXIT_ARGS = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
# isa-debug-exit turns a guest write of v into exit status (v << 1) | 1.
PANIC_EXIT_STATUS = 3
DEFAULT_DISKS = ("nvme0", "vblk0")
GDB_PORT = 1234


class QemuError(Exception):
    """A configuration problem that makes it pointless to start QEMU."""


@dataclass
class QemuConfig:
    image: Path | None = None            # boot image (ISO or raw GPT disk)
    image_format: str = "auto"           # iso | uefi | auto (by extension)
    firmware: str = "auto"               # bios | uefi | auto (uefi image -> uefi)
    kernel: Path | None = None           # direct boot (-kernel/-initrd/-append): the Linux baseline
    initrd: Path | None = None
    append: str = ""
    accel: str = "tcg"                   # tcg | kvm
    accel_opts: str = ""                 # e.g. thread=single -> -accel tcg,thread=single
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
    trace_events: list[str] = field(default_factory=list)  # QEMU trace events, logged to trace_log
    trace_log: Path | None = None
    # default devices: forward this host TCP port (on 127.0.0.1) to the
    # guest's port 80, where httpd serves /status (`make run`)
    http_port: int | None = None
    # QEMU's VT-d unit in front of every device (the scenarios' vtd lane):
    # -device intel-iommu first, and every virtio device made to go through
    # it (iommu_platform=on; disable-legacy=on, which QEMU needs for that)
    iommu: bool = False


def default_device_args(disk_dir: Path, http_port: int | None = None) -> list[str]:
    """The default device set. Raw images are created (sparse) if missing."""
    paths = {name: images.ensure_raw(disk_dir / f"{name}.img") for name in DEFAULT_DISKS}
    netdev = "user,id=net0" + (f",hostfwd=tcp:127.0.0.1:{http_port}-:80" if http_port else "")
    return [
        "-drive", f"file={paths['nvme0']},if=none,id=nvme0,format=raw",
        "-device", "nvme,serial=sluice-nvme0,drive=nvme0",
        "-drive", f"file={paths['vblk0']},if=none,id=vblk0,format=raw",
        "-device", "virtio-blk-pci,drive=vblk0",
        "-netdev", netdev,
        "-device", "virtio-net-pci,netdev=net0",
    ]


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
    if cfg.image is not None and cfg.kernel is not None:
        raise QemuError("give a boot image or a kernel to boot directly, not both")
    firmware = cfg.firmware
    fmt = detect_image_format(cfg.image, cfg.image_format) if cfg.image else "iso"
    if firmware == "auto":
        firmware = "uefi" if fmt == "uefi" else "bios"
    check_host(cfg.accel, firmware)

    cpu = cfg.cpu or ("host" if cfg.accel == "kvm" else "max")
    cmd = [
        QEMU_BINARY,
        "-machine", "q35",
        "-accel", cfg.accel + (f",{cfg.accel_opts}" if cfg.accel_opts else ""),
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
    if cfg.kernel is not None:
        cmd += ["-kernel", str(cfg.kernel)]
        if cfg.initrd is not None:
            cmd += ["-initrd", str(cfg.initrd)]
        if cfg.append:
            cmd += ["-append", cfg.append]

    cmd += serial_args(cfg.serial)

    if cfg.qmp_socket is not None:
        cmd += ["-qmp", f"unix:{cfg.qmp_socket},server=on,wait=off"]
    if cfg.gdb:
        cmd += ["-s", "-S"]

    if cfg.devices == "default":
        cmd += default_device_args(cfg.disk_dir, cfg.http_port)
    elif cfg.devices != "none":
        raise QemuError(f"unknown device set {cfg.devices!r} (default or none)")
    cmd += list(cfg.extra_args)
    if cfg.iommu:
        cmd = with_iommu(cmd)
    if cfg.trace_events:
        if cfg.trace_log is None:
            raise QemuError("trace events need a trace log file")
        cmd += trace.qemu_args(cfg.trace_events, cfg.trace_log)
    return cmd


VIRTIO_PCI_RE = re.compile(r"^virtio-[a-z0-9-]+-pci(,|$)")


def with_iommu(cmd: list[str]) -> list[str]:
    """cmd with QEMU's intel-iommu added and its virtio devices behind it.

    A virtio device that does not offer ACCESS_PLATFORM bypasses QEMU's
    IOMMU altogether (QEMU models a device that uses physical addresses),
    so each gets iommu_platform=on, and disable-legacy=on (a transitional
    device cannot have it)."""
    if any(a.startswith("intel-iommu") for a in cmd):
        raise QemuError("the vtd lane adds intel-iommu itself; the scenario must not")
    out: list[str] = []
    for i, a in enumerate(cmd):
        if i > 0 and cmd[i - 1] == "-device" and VIRTIO_PCI_RE.match(a):
            opts = a.split(",")
            for key, value in (("iommu_platform", "on"), ("disable-legacy", "on")):
                if any(o.startswith(f"{key}=") for o in opts):
                    raise QemuError(f"{a}: the vtd lane sets {key} itself")
                opts.append(f"{key}={value}")
            a = ",".join(opts)
        out.append(a)
    at = out.index("-nodefaults") + 1
    return out[:at] + ["-device", "intel-iommu"] + out[at:]


def describe_exit(rc: int | None) -> str:
    """What a QEMU exit status means for a Sluice guest."""
    if rc is None:
        return "killed by the harness"
    return {0: "guest powered off or quit",
            PANIC_EXIT_STATUS: "the kernel panicked (isa-debug-exit)"}.get(rc, "QEMU error")


def format_command(cmd: list[str]) -> str:
    return shlex.join(cmd)


def announce(cfg: QemuConfig, cmd: list[str], stream=sys.stderr) -> None:
    print(f"qemu: accelerator {cfg.accel}", file=stream)
    print(f"qemu: {format_command(cmd)}", file=stream)
    stream.flush()


def kill_group(proc: subprocess.Popen) -> None:
    """Kills a process started with start_new_session=True, with its whole group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class Qemu:
    """One running QEMU, in its own session, its output (stdout and stderr)
    in `out_path`. Used as a context manager it never outlives the block."""

    def __init__(self, cmd: list[str], out_path: Path):
        self.cmd = cmd
        self.out_path = Path(out_path)
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def wait(self, seconds: float) -> bool:
        """True once QEMU has exited, False if it still runs after `seconds`."""
        try:
            self.proc.wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill(self) -> None:
        """SIGKILL to the group: nothing QEMU has buffered is written (a crash
        or power loss, as far as the disk images are concerned)."""
        kill_group(self.proc)

    def stop(self, grace: float = 20) -> int | None:
        """SIGTERM (QEMU shuts down cleanly and flushes its trace log), then
        SIGKILL after `grace` seconds. The exit status, or None if killed."""
        if not self.alive:
            return self.proc.returncode
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if self.wait(grace):
            return self.proc.returncode
        self.kill()
        return None

    def output(self, chars: int | None = None) -> str:
        try:
            text = self.out_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-chars:] if chars else text

    def __enter__(self) -> "Qemu":
        return self

    def __exit__(self, *exc) -> None:
        if self.alive:
            self.kill()
