"""Boot once and watch: the benchmarks' run of QEMU.

boot() starts QEMU with COM1 written to <run_dir>/serial.log, reads the
log as it grows, and ends the run at the first of: QEMU exits by itself;
`until` appears in the log or the caller sets `stop` (a threading.Event:
the network benchmark's host side, driving the guest from another thread,
is done or has given up) -- then, after `settle` seconds, QEMU is stopped
with SIGTERM so it flushes its trace log; the timeout (QEMU killed). The
scenario runner (harness.runner) has its own, richer loop over the same
pieces (harness.qemu.Qemu, harness.serial).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import host
from .qemu import Qemu, QemuConfig, build_command
from .serial import SerialLog

POLL_SECONDS = 0.5


def new_run_root(build: Path, tag: str = "") -> Path:
    """A fresh directory for one benchmark invocation: <build>/bench-runs/<stamp>.<tag>XXXX."""
    root = build / "bench-runs"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S.") + (f"{tag}." if tag else ""), dir=root))


def remove_unless(keep: bool, run_root: Path) -> None:
    """A successful run's directory goes, unless asked to keep it."""
    if not keep:
        shutil.rmtree(run_root, ignore_errors=True)


def write_result(path: Path, data: dict) -> None:
    """A --json result file (keys: docs/benchmarks.md, "Result files")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


@dataclass
class Boot:
    cmd: list[str]
    run_dir: Path
    rc: int | None = None          # QEMU's exit status (0 too when stopped after `until`)
    stopped: bool = False          # the harness stopped QEMU once `until` appeared
    timed_out: bool = False        # killed at the timeout
    text: str = ""                 # the cleaned serial log
    noise: dict = field(default_factory=dict)   # host.Meter: wall_s, loadavg, qemu_cpu_s, other_cpu_seconds
    qemu_output: str = ""          # QEMU's own stdout/stderr (the end of it)

    @property
    def serial_path(self) -> Path:
        return self.run_dir / "serial.log"


def boot(cfg: QemuConfig, run_dir: Path, timeout: float, until: re.Pattern | None = None,
         settle: float = 0.5, verbose: bool = False, stop: threading.Event | None = None) -> Boot:
    """Raises harness.qemu.QemuError for a configuration QEMU cannot start with."""
    run_dir.mkdir(parents=True, exist_ok=True)
    serial = run_dir / "serial.log"
    serial.unlink(missing_ok=True)
    cfg.serial = f"file:{serial}"
    b = Boot(build_command(cfg), run_dir)
    meter = host.Meter().start()
    deadline = time.monotonic() + timeout
    with Qemu(b.cmd, run_dir / "qemu.out") as q, SerialLog(serial) as log:
        while True:
            exited = q.wait(POLL_SECONDS)
            new = log.read()
            if verbose and new:
                sys.stdout.write(new)
                sys.stdout.flush()
            if exited:
                b.rc = q.returncode
                break
            if (until is not None and until.search(log.text)) or (stop is not None and stop.is_set()):
                time.sleep(settle)
                rc = q.stop()
                # QEMU reports SIGTERM as its exit status or dies of it.
                b.rc = 0 if rc in (0, -signal.SIGTERM, 128 + signal.SIGTERM) else rc
                b.stopped = True
                break
            if time.monotonic() > deadline:
                q.kill()
                b.timed_out = True
                break
        log.read()
        b.text = log.text
        b.noise = meter.stop()
        b.qemu_output = q.output(2000)
    return b
