"""Run one QEMU scenario (harness.scenario) against a kernel.

Builds the scenario's boot image (its own command line and modules), boots
it in QEMU (harness.qemu) with COM1 on a unix socket the runner listens on
(harness.serial.SerialLink) and a QMP socket, watches the serial log for the
expected markers in order and for forbidden patterns, types the scenario's
[[input]] lines into COM1 when their trigger appears, runs the scenario's
host-side checks (harness.checks) at the moment they become possible, ends
the run the way the scenario says (guest poweroff, QMP quit, kernel panic
or a hard kill) and enforces the timeout; after QEMU exits, the trace
markers and the disk image checks.

tests/scenarios/run_scenario.py is the CLI (main() below).
Exit status 0 = pass, 1 = fail, 2 = bad scenario/usage.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import REPO, checks, images, network, qemu, records, trace
from .qmp import Qmp, QmpError
from .scenario import Scenario, ScenarioError, load, on_lane
from .serial import (SERIAL_DRAIN_SECONDS, SOCKET_PATH_MAX, InputFeeder, Markers, SerialError, SerialLink,
                     SerialLog, dead_end, read_all, tail)

SERIAL_TAIL_LINES = 300
QUIT_GRACE_SECONDS = 10
PANIC_DRAIN_SECONDS = 3
SERIAL_CONNECT_SECONDS = 10   # QEMU connects to the serial socket while it starts
POLL_SECONDS = 0.05           # the watch loop's pass interval when the guest is quiet ...
MIN_PASS_SECONDS = 0.01       # ... and, woken by output, at most one pass per this


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
    disk_sizes: dict[str, int] = field(default_factory=dict)   # disk -> image bytes before the guest ran
    kernel: Path | None = None  # the kernel ELF this run boots

    def fail(self, msg: str) -> None:
        self.failures.append(msg)


def prepare_modules(sc: Scenario, run_dir: Path) -> list[tuple[str, Path]]:
    out = []
    for m in sc.modules:
        if m.generate is not None:
            size, seed = m.generate
            p = run_dir / "modules" / m.name
            p.parent.mkdir(exist_ok=True)
            p.write_bytes(images.random_bytes(size, seed))
            out.append((m.name, p))
        else:
            if not m.path.is_file():
                raise ScenarioError(f"module {m.name}: {m.path} does not exist (not built?)")
            out.append((m.name, m.path))
    return out


def check_images(sc: Scenario, run: Run) -> None:
    # A disk the scenario checks is the size it was made: a write past the
    # end of the device (which QEMU must refuse) would have grown the file.
    for disk in dict.fromkeys(c.disk for c in sc.image_checks):
        size = (run.run_dir / f"{disk}.img").stat().st_size
        if size != run.disk_sizes.get(disk):
            run.fail(f"image check: {disk}.img is {size} bytes, made with {run.disk_sizes.get(disk)}")
    for c in sc.image_checks:
        path = run.run_dir / f"{c.disk}.img"
        with open(path, "rb") as f:
            f.seek(c.offset)
            got = f.read(c.length)
        if c.pattern_seed is not None:
            want = images.pattern_bytes(c.pattern_seed, c.offset, c.length)
        elif c.zeros:
            want = bytes(c.length)
        else:
            base = sc.disk_fill.get(c.disk, b"")[c.offset:c.offset + c.length]
            want = base + bytes(c.length - len(base))
        if len(got) != len(want):
            run.fail(f"image check: {c.describe()}: the image ends {len(got)} bytes into the range")
            continue
        diff = images.first_difference(got, want)
        if diff is None:
            run.notes.append(f"image check: {c.describe()}")
            continue
        first, bad = diff
        run.fail(f"image check: {c.describe()}: {bad} bytes differ, first at byte {c.offset + first} "
                 f"(image {got[first:first + 8].hex()}, expected {want[first:first + 8].hex()})")


def check_records(sc: Scenario, run: Run, log: str) -> None:
    """[[record_checks]]: every record acknowledged to a seqwriter is in the
    image, nothing torn (scripts/harness/records.py)."""
    for rc in sc.record_checks:
        path = run.run_dir / f"{rc.disk}.img"
        fill = sc.disk_fill.get(rc.disk, b"")
        with open(path, "rb") as f:
            def read(offset: int, length: int) -> bytes:
                f.seek(offset)
                return f.read(length)

            def original(offset: int, length: int) -> bytes:
                base = fill[offset:offset + length]
                return base + bytes(length - len(base))

            claims = records.parse_claims(log, rc.device)
            problems = records.check(claims, rc.consumers, read, original, rc.scan)
        for p in problems:
            run.fail(f"record check {rc.disk}.img ({rc.device}): {p}")
        if not problems:
            run.notes.append(f"record check {rc.disk}.img: " + "; ".join(
                f"{c.describe()}: all there ({c.reattached} reattached)" for c in claims)
                + (f"; nothing torn in bytes {rc.scan[0]}..{rc.scan[0] + rc.scan[1]}" if rc.scan else ""))


def read_trace(run: Run) -> str | None:
    """QEMU's trace log of this run, or None (the failure recorded)."""
    path = run.run_dir / "qemu-trace.log"
    try:
        return path.read_text(errors="replace")
    except OSError as e:
        run.fail(f"QEMU trace log {path} unreadable: {e} (is this QEMU built with the log trace backend?)")
        return None


def check_trace(sc: Scenario, run: Run) -> None:
    """The [trace] markers, in order, over QEMU's own trace log."""
    path = run.run_dir / "qemu-trace.log"
    text = read_trace(run)
    if text is None:
        return
    failure, note = trace.check_markers(text, sc.trace_markers, sc.trace_forbidden)
    if failure:
        run.fail(f"{failure} ({path})")
    else:
        run.notes.append(f"trace: {note}")
    failure, note = trace.check_counts(text, sc.trace_counts, sc.trace_delimiter)
    if failure:
        run.fail(f"{failure} ({path})")
    elif note:
        run.notes.append(f"trace: {note}")


GRANTED_IN_DOMAIN_RE = re.compile(r"dma: (?P<bdf>[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) granted DMA \(session \d+, "
                                  r"[^)]*vtd unit \d+ domain \d+")
TRANSLATED_RE = re.compile(r"vtd_dmar_translate dev (?P<bus>[0-9a-f]{2}):(?P<dev>[0-9a-f]{2})\.(?P<fn>[0-9a-f]{2}) ")


def check_lane_translation(run: Run, log: str, every: bool = True) -> None:
    """The vtd lane: every function the guest says it granted DMA in a
    domain had its accesses translated by QEMU's unit (its trace), so none
    went around it (where not every grant is used, `every` false, those
    that made no access are only noted)."""
    granted = sorted({m["bdf"] for m in GRANTED_IN_DOMAIN_RE.finditer(log)})
    if not granted:
        run.fail("vtd lane: no function was granted DMA in a remapping domain")
        return
    text = read_trace(run)
    if text is None:
        return
    seen = {f"{m['bus']}:{m['dev']}.{int(m['fn'], 16)}" for m in TRANSLATED_RE.finditer(text)}
    missing = [b for b in granted if b not in seen]
    if not every:
        if missing:
            run.notes.append(f"vtd lane: {', '.join(missing)} granted DMA but made no access")
        missing = []
    if missing:
        run.fail(f"vtd lane: QEMU's unit translated nothing for {', '.join(missing)} (granted DMA in a domain): "
                 f"its accesses went around the IOMMU")
    else:
        run.notes.append(f"vtd lane: QEMU's unit translated the accesses of {', '.join(granted)}")


def run_live_check(name: str, run: Run, qmp: Qmp | None, log: str) -> None:
    if name == "pci_matches_qmp":
        if qmp is None:
            run.fail("pci_matches_qmp: no QMP connection")
            return
        diffs = pci_check(qmp, log)
    elif name == "dma_target_is_kernel_code":
        if qmp is None:
            run.fail(f"{name}: no QMP connection")
            return
        diffs = kernel_code_check(qmp, log, run.kernel)
    elif name in ("dma_canary_intact", "dma_canary_overwritten"):
        if qmp is None:
            run.fail(f"{name}: no QMP connection")
            return
        trace_path = run.run_dir / "qemu-trace.log"
        trace_text = trace_path.read_text(errors="replace") if trace_path.exists() else None
        diffs = canary_check(qmp, log, intact=name == "dma_canary_intact", trace_text=trace_text)
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


def kernel_code_check(qmp: Qmp, log: str, kernel: Path | None) -> list[str]:
    m = checks.AIMED_RE.search(log)
    if m is None:
        return ["no 'aiming identify at IOVA' line"]
    addr = int(m["addr"], 16)
    try:
        want = checks.elf_bytes_at(kernel.read_bytes(), addr, 4096) if kernel else None
    except OSError as e:
        return [f"cannot read the kernel {kernel}: {e}"]
    if want is None:
        return [f"0x{addr:x} is not in a read-only segment of the kernel: nothing to compare it with"]
    got = checks.parse_xp_words(qmp.hmp(f"xp /1024wx {addr:#x}"))
    if got != want:
        changed = sum(1 for a, b in zip(got, want) if a != b) if len(got) == len(want) else len(want)
        return [f"{changed} of 4096 bytes at 0x{addr:x} differ from the kernel's code: the device wrote there"]
    return []


def canary_check(qmp: Qmp, log: str, intact: bool, trace_text: str | None = None) -> list[str]:
    m = checks.CANARY_RE.search(log)
    if m is None:
        return ["no canary line"]
    addr, size, value = int(m["addr"], 16), int(m["bytes"]), int(m["value"], 16)
    if size == 0 or size % 4:
        return [f"canary of {size} bytes: not whole words"]
    memory = checks.parse_xp_words(qmp.hmp(f"xp /{size // 4}wx {addr:#x}"))
    if len(memory) != size:
        return [f"read {len(memory)} bytes of the canary, expected {size}"]
    diffs = checks.canary_diffs(memory, value, intact)
    # The address is the guest's word: QEMU's own trace must show the
    # unit refusing a write to that very page.
    if intact and trace_text is not None and not re.search(rf"vtd_dmar_fault .*addr {addr:#x} write 1", trace_text):
        diffs.append(f"QEMU's trace shows no refused write to the canary page {addr:#x}")
    return diffs


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
    run.kernel = kernel
    modules = prepare_modules(sc, run.run_dir)
    run.expected_modules = [(n, p.stat().st_size) for n, p in modules]
    image = run.run_dir / ("boot.iso" if sc.format == "iso" else "boot.img")
    t0 = time.monotonic()
    images.build_image(sc.format, kernel, sc.full_cmdline(), modules, image,
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
        images.ensure_raw(run.run_dir / f"{d}.img")
    if isinstance(sc.devices, list):
        devices, extra = "none", list(sc.devices) + sc.qemu_args
    else:
        devices, extra = sc.devices, list(sc.qemu_args)
    extra = [a.format(run_dir=run.run_dir, repo=REPO) for a in extra]
    net = network.Network(sc.network, run.run_dir) if sc.network is not None else None
    if net is not None:
        extra += net.qemu_args()
    cfg = qemu.QemuConfig(image=image, image_format=sc.format, firmware=sc.firmware,
                          accel=run.accel, memory=sc.memory, smp=sc.smp, devices=devices,
                          disk_dir=run.run_dir, run_dir=run.run_dir,
                          serial=f"socket:{link.sock_path}", qmp_socket=qmp_sock,
                          extra_args=extra, trace_events=sc.trace_events, iommu=sc.lane == "vtd",
                          trace_log=run.run_dir / "qemu-trace.log")
    run.cmd = qemu.build_command(cfg)
    for disk, content in sc.disk_fill.items():
        path = run.run_dir / f"{disk}.img"
        if not path.exists():
            raise ScenarioError(f"[disk_fill] {disk}: no disk image {path} in this configuration")
        with open(path, "r+b") as f:
            f.write(content)
    run.disk_sizes = {p.stem: p.stat().st_size for p in run.run_dir.glob("*.img")}
    qemu.announce(cfg, run.cmd, stream=sys.stdout)

    link.listen()  # before QEMU starts: it connects while initialising
    start = time.monotonic()
    qmp: Qmp | None = None
    try:
        with qemu.Qemu(run.cmd, run.qemu_out_path) as proc:
            alive = lambda: proc.alive  # noqa: E731
            connected = False
            try:
                link.accept(SERIAL_CONNECT_SECONDS, alive=alive)
                connected = True
            except SerialError as e:
                if proc.alive:
                    run.fail(str(e))
                # else: QEMU died at once; watch() reports its exit status and output
            if connected:
                try:
                    qmp = Qmp(qmp_sock, connect_timeout=10, alive=alive)
                except QmpError as e:
                    if proc.alive:
                        run.fail(f"cannot talk to QEMU over QMP: {e}")
                    # else: QEMU died at once; reported below with its output
            if connected or not proc.alive:
                watch(sc, run, proc, qmp, link, start + sc.timeout, verbose, start, net)
    finally:
        if net is not None:
            net.close()
        if qmp is not None:
            qmp.close()
        link.close()
        if sock_dir != run.run_dir:
            shutil.rmtree(sock_dir, ignore_errors=True)
    run.notes.append(f"QEMU ran {time.monotonic() - start:.1f} s")


def watch(sc: Scenario, run: Run, proc: qemu.Qemu, qmp: Qmp | None, link: SerialLink,
          deadline: float, verbose: bool, start: float, net: network.Network | None = None) -> None:
    pending_checks = list(sc.checks)
    captures: dict[str, str] = {}
    markers = Markers(sc.markers, captures)
    # the lane's own markers: ordered among themselves, anywhere in the log
    lane_markers = Markers(sc.lane_markers, captures)
    feeder = InputFeeder(sc.inputs, captures)
    quit_sent = False
    timed_out = False
    with SerialLog(run.serial_path) as log:

        def read_serial() -> str:
            new = log.read()
            if verbose and new:
                sys.stdout.write(new)
                sys.stdout.flush()
            return log.text

        first = True
        text = ""
        while True:
            pass_start = time.monotonic()
            exited = not proc.alive
            if exited:
                link.wait_closed(SERIAL_DRAIN_SECONDS)  # the last output reaches the log
            link.activity.clear()  # before reading: output arriving after this wakes the wait below
            before = len(log.raw)
            text = read_serial()
            if len(log.raw) != before or exited or first:
                first = False
                markers.advance(text)
                lane_markers.advance(text)
                # forbidden patterns and boot dead ends fail at once
                hit = next((f for f in sc.forbidden if f.search(text)), None)
                if hit is not None:
                    run.fail(f"forbidden pattern /{hit.pattern}/ appeared in the serial log")
                    if "PANIC" in hit.pattern:
                        if proc.wait(PANIC_DRAIN_SECONDS):  # let the report finish
                            link.wait_closed(SERIAL_DRAIN_SECONDS)
                        text = read_serial()
                    break
                why = dead_end(text)
                if why is not None:
                    run.fail(f"boot failed before the kernel ran: {why}")
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
                for i, inp, data in feeder.poll(text, now):
                    link.send(data)
                    typed = data.decode("utf-8")
                    run.notes.append(f"input #{i + 1}: typed {typed!r} at "
                                     f"{now - start:.1f} s (after /{inp.after.pattern}/)")
                    if verbose:
                        sys.stdout.write(f"[harness typed {typed!r}]\n")
                        sys.stdout.flush()
            except OSError as e:
                run.fail(f"typing input #{feeder.next + 1} into the serial port failed: {e}")
                break
            # the host's network peers: what is due goes out, what came is kept
            if net is not None:
                try:
                    for line in net.poll(text, now):
                        if verbose:
                            sys.stdout.write(line + "\n")
                            sys.stdout.flush()
                    up = net.due_link_change(text)
                    if up is not None:
                        qmp.command("set_link", **{"name": "n0", "up": up})
                        run.notes.append(f"link #{net.links_done}: set_link n0 {'up' if up else 'down'} at "
                                         f"{now - start:.1f} s")
                        if verbose:
                            sys.stdout.write(f"[harness set_link n0 {'up' if up else 'down'}]\n")
                except (OSError, QmpError, AttributeError) as e:
                    run.fail(f"network peer: {e}")
                    break
            everything = markers.done and lane_markers.done and not pending_checks and feeder.done and (net is None or net.done)
            if sc.end == "kill" and not quit_sent and everything:
                quit_sent = True
                proc.kill()  # SIGKILL: nothing QEMU has buffered is written
                continue
            if sc.end == "quit" and not quit_sent and everything:
                quit_sent = True
                try:
                    qmp.command("quit")
                except (QmpError, OSError, AttributeError) as e:
                    run.fail(f"QMP quit failed: {e}")
                    break
                if not proc.wait(QUIT_GRACE_SECONDS):
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

    killed = proc.alive
    if killed:
        proc.kill()
    link.wait_closed(SERIAL_DRAIN_SECONDS)
    if link.error:
        run.fail(link.error)
    text = read_all(run.serial_path)
    events = qmp.drain_events(0.5) if qmp is not None else []
    rc = proc.returncode

    if timed_out:
        waiting = []
        if not markers.done:
            waiting.append(markers.describe_next())
        if not lane_markers.done:
            waiting.append(f"lane {sc.lane} {lane_markers.describe_next()}")
        if not feeder.done:
            waiting.append(feeder.waiting_for())
        if pending_checks and not waiting:
            waiting.append(f"checks {pending_checks}")
        if net is not None and not net.done and not waiting:
            waiting.append(net.waiting_for())
        run.fail(f"timeout after {sc.timeout:g} s (QEMU killed): "
                 + (f"still waiting for {' and '.join(waiting)}" if waiting else
                    "all markers seen; QEMU did not exit as the scenario's end expects"))
    # markers
    if not markers.done and not timed_out:
        run.fail(f"{markers.describe_next()} never appeared"
                 + (f" (after marker #{markers.next} matched)" if markers.next else ""))
    for weak in markers.satisfied_by_boot_log(text):
        run.fail(weak)
    if not lane_markers.done and not timed_out:
        run.fail(f"lane {sc.lane} {lane_markers.describe_next()} never appeared")
    # typed input
    if not feeder.done and not timed_out:
        run.fail(f"input #{feeder.next + 1} was never typed: "
                 + ("QEMU exited during its delay_ms" if feeder.triggered else
                    f"its trigger /{sc.inputs[feeder.next].after.pattern}/ never appeared"
                    if not feeder.missing() else f"it waits for {feeder.waiting_for()}")
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
    if sc.lane == "vtd" and not timed_out:
        check_lane_translation(run, text, sc.lanes["vtd"].all_translated)
    if sc.image_checks and not timed_out:
        check_images(sc, run)
    if sc.record_checks and not timed_out:
        check_records(sc, run, text)
    if net is not None:
        for f in net.finish(captures):
            run.fail(f)
        run.notes += net.notes
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


def run_scenario(path: Path, build_dir: Path, kernel: Path, accel: str, keep: bool, verbose: bool,
                 lane: str | None = None) -> int:
    """Runs one scenario (on `lane`, one of its [lanes], if given) and prints
    its result; the exit status."""
    build_dir = build_dir.resolve()
    try:
        sc = load(path, build_dir)
        if lane is not None:
            sc = on_lane(sc, lane)
    except ScenarioError as e:
        print(f"scenario error: {e}")
        return 2
    print(f"scenario {sc.name}: {' '.join(sc.description.split())}")
    print(f"scenario {sc.name}: accelerator {accel}, {sc.format} image, {sc.firmware} firmware, "
          f"end {sc.end}, timeout {sc.timeout:g} s")
    runs_root = build_dir / "scenario-runs"
    runs_root.mkdir(parents=True, exist_ok=True)
    run = Run(sc, accel, Path(tempfile.mkdtemp(prefix=f"{sc.name}.", dir=runs_root)))
    t0 = time.monotonic()
    try:
        execute(sc, run, kernel.resolve(), build_dir, verbose)
    except (ScenarioError, SerialError, images.ImageError, qemu.QemuError) as e:
        run.fail(str(e))
    elapsed = time.monotonic() - t0

    for n in run.notes:
        print(f"  {n}")
    if not run.failures:
        print(f"PASS {sc.name} in {elapsed:.1f} s (accelerator {accel})")
        if not keep:
            shutil.rmtree(run.run_dir, ignore_errors=True)
        return 0

    print(f"FAIL {sc.name} after {elapsed:.1f} s (accelerator {accel})")
    for f in run.failures:
        print(f"  * {f}")
    if run.cmd:
        print("QEMU command line:")
        print("  " + qemu.format_command(run.cmd))
    print(f"kernel command line: {sc.full_cmdline()}")
    print(f"run directory (kept): {run.run_dir}")
    if run.serial_path is not None:
        text = read_all(run.serial_path)
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
