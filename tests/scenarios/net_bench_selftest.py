#!/usr/bin/env python3
"""Self-test of the network benchmark's host side (bench/net_host.py) and
its trace counting (harness.trace.virtio_net_counts); needs no QEMU.

A fake guest on the loopback speaks the protocol (bench/README.md,
"Network benchmark protocol") the way a good guest does, and then in each of the ways a broken one could:
silent, answering `error`, claiming round trips it never made, miscounting
TCP bytes. The host side must report figures for the first and raise
ProtocolError -- never a figure, never a zero -- for every other.

    python3 tests/scenarios/net_bench_selftest.py [-v]
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "bench"))

from harness import trace  # noqa: E402
import net_host  # noqa: E402
import run_net_bench  # noqa: E402
from net_host import Host, Job, ProtocolError  # noqa: E402

SECONDS = 1


class FakeGuest(threading.Thread):
    """The guest side on 127.0.0.1, one control connection. `lie` picks a
    misbehaviour: None (correct), "silent" (accept and close, as QEMU's
    hostfwd does while the guest does not listen yet), "error", "no-udp"
    (reports round trips / datagrams without sending any), "rx-count"
    (acknowledges one byte too many), "tx-count" (reports one byte more
    than it sent), "undercount" (udp-tx: reports one datagram sent after
    sending many), "bad-hello"."""

    def __init__(self, lie: str | None = None):
        super().__init__(daemon=True)
        self.lie = lie
        self.ctrl = socket.create_server(("127.0.0.1", 0))
        self.data = socket.create_server(("127.0.0.1", 0))
        self.ctrl_port = self.ctrl.getsockname()[1]
        self.data_port = self.data.getsockname()[1]
        self.ctrl.settimeout(10)
        self.data.settimeout(10)

    def host(self) -> Host:
        return Host(self.ctrl_port, self.data_port, guest_sees_host="127.0.0.1")

    def run(self) -> None:
        try:
            self._serve()
        except OSError:
            pass
        finally:
            self.ctrl.close()
            self.data.close()

    def _serve(self) -> None:
        if self.lie == "silent":
            for _ in range(20):
                c, _ = self.ctrl.accept()
                c.close()
        c, _ = self.ctrl.accept()
        f = c.makefile("rwb", buffering=0)
        f.write(b"netbench-hello 2 fake\n" if self.lie == "bad-hello" else b"netbench-hello 1 fake\n")
        for raw in f:
            w = raw.decode().split()
            if w[0] == "quit":
                f.write(b"bye\n")
                break
            if self.lie == "error":
                f.write(b"error " + w[0].encode() + b" refused\n")
                continue
            f.write(getattr(self, "_" + w[0].replace("-", "_"))(*w[1:]).encode() + b"\n")
        c.close()

    def _send_udp(self, addr: str, port: str, size: str, secs: str, echo: bool) -> int:
        """Datagrams to the host for `secs` (waiting for each echo, or
        paced so the host thread keeps up: its loss is not the test's
        point); how many. None at all for the "no-udp" lie, which claims 100."""
        if self.lie == "no-udp":
            return 100
        n = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((addr, int(port)))
            end = time.monotonic() + int(secs)
            while time.monotonic() < end:
                s.send(n.to_bytes(8, "little") + bytes(int(size) - 8 + (self.lie == "wrong-size" and n == 3)))
                if echo and self.lie != "no-echo":
                    s.recv(65536)
                else:
                    time.sleep(0.0005)
                n += 1
        return n

    def _udp_rtt(self, addr: str, port: str, size: str, secs: str, window: str) -> str:
        n = self._send_udp(addr, port, size, secs, echo=True)
        recv = 0 if self.lie == "no-echo" else n  # "no-echo": its receive path lost every echo
        return f"result udp-rtt sent={n} recv={recv} lost={n - recv} secs={secs} rtt_mean_us=10 rtt_p50_us=10 rtt_p99_us=20"

    def _udp_tx(self, addr: str, port: str, size: str, secs: str, batch: str) -> str:
        n = self._send_udp(addr, port, size, secs, echo=False)
        return f"result udp-tx sent={1 if self.lie == 'undercount' else n} errors=0 secs={secs}"

    def _tcp(self) -> str:
        d, _ = self.data.accept()
        f = d.makefile("rb")
        hdr = f.readline().decode().split()
        n = 0
        if hdr[0] == "rx":
            while True:
                b = f.read1(1 << 16)
                if not b:
                    break
                n += len(b)
            d.sendall(f"got {n + (self.lie == 'rx-count')}\n".encode())
            f.close()
            d.close()
            return f"result tcp-rx bytes={n} secs=1"
        end = time.monotonic() + int(hdr[1])
        chunk = bytes(1 << 16)
        while time.monotonic() < end:
            d.sendall(chunk)
            n += len(chunk)
        d.shutdown(socket.SHUT_WR)
        d.recv(1)
        f.close()
        d.close()
        return f"result tcp-tx bytes={n + (self.lie == 'tx-count')} secs={hdr[1]}"


def start(lie: str | None = None) -> tuple[FakeGuest, Host]:
    g = FakeGuest(lie)
    g.start()
    h = g.host()
    h.connect(10)
    return g, h


class GoodGuest(unittest.TestCase):
    def test_every_job_gives_a_host_figure(self):
        g, h = start()
        jobs = [Job("udp-rtt", SECONDS, 64, 1), Job("udp-tx", SECONDS, 64, 8), Job("tcp-rx", SECONDS),
                Job("tcp-tx", SECONDS)]
        results = [h.run(j) for j in jobs]
        h.quit()
        g.join(10)
        for j, r in zip(jobs, results):
            self.assertGreater(r["figure"], 0, j.name)
            self.assertLess(r["window_t0"], r["window_t1"])
        rtt, tx, rx, txx = results
        self.assertEqual(rtt["unit"], "round trips/s")
        self.assertLessEqual(rtt["guest"]["recv"], rtt["host_count"])
        self.assertGreater(tx["delivered"], 0.5)
        self.assertEqual(rx["guest"]["bytes"], rx["host_bytes"])
        self.assertEqual(txx["guest"]["bytes"], txx["host_bytes"])


class BrokenGuest(unittest.TestCase):
    def expect(self, lie: str, job: Job, pattern: str) -> None:
        g, h = start(lie)
        try:
            with self.assertRaisesRegex(ProtocolError, pattern):
                h.run(job)
        finally:
            h.close()

    def test_echoes_the_guest_never_received_are_no_round_trips(self):
        self.expect("no-echo", Job("udp-rtt", 1, 64, 1), "the guest received only 0")

    def test_a_datagram_of_the_wrong_size_fails_the_job(self):
        self.expect("wrong-size", Job("udp-tx", 1, 64, 32), "wrong size")

    def test_silent_guest_is_an_error_not_a_zero(self):
        g = FakeGuest("silent")
        g.start()
        t0 = time.monotonic()
        with self.assertRaisesRegex(ProtocolError, "no netbench hello"):
            g.host().connect(3)
        self.assertLess(time.monotonic() - t0, 8)

    def test_guest_that_stopped(self):
        g = FakeGuest("silent")  # never started: nobody behind the port
        try:
            with self.assertRaisesRegex(ProtocolError, "stopped before it answered"):
                g.host().connect(3, alive=lambda: False)
        finally:
            g.ctrl.close()
            g.data.close()

    def test_wrong_protocol_version(self):
        g = FakeGuest("bad-hello")
        g.start()
        with self.assertRaisesRegex(ProtocolError, "protocol 2"):
            g.host().connect(3)

    def test_error_answer(self):
        self.expect("error", Job("udp-rtt", SECONDS, 64, 1), "answered 'error udp-rtt refused'")

    def test_round_trips_the_host_never_echoed(self):
        self.expect("no-udp", Job("udp-rtt", SECONDS, 64, 1), "guest counts 100 round trips, the host echoed only 0")

    def test_datagrams_that_never_arrived(self):
        self.expect("no-udp", Job("udp-tx", SECONDS, 64, 8), "host counted 0 datagram")

    def test_more_datagrams_than_the_guest_sent(self):
        self.expect("undercount", Job("udp-tx", SECONDS, 64, 8), "the guest says it sent 1")

    def test_tcp_rx_wrong_acknowledgement(self):
        self.expect("rx-count", Job("tcp-rx", SECONDS), "the guest acknowledged")

    def test_tcp_tx_count_disagrees(self):
        self.expect("tx-count", Job("tcp-tx", SECONDS), "the guest counts")


class Parsing(unittest.TestCase):
    def test_result_lines(self):
        self.assertEqual(net_host.parse_result("result tcp-rx bytes=10 secs=1.5", "tcp-rx"),
                         {"bytes": 10.0, "secs": 1.5})
        for bad in ["result tcp-tx bytes=10", "result tcp-rx bytes=ten", "resultat", "error tcp no data connection"]:
            with self.assertRaises(ProtocolError, msg=bad):
                net_host.parse_result(bad, "tcp-rx")

    def test_jobs(self):
        self.assertEqual(Job("udp-rtt", 5, 64, 4).name, "udp-rtt-64B-w4")
        for bad in [("udp-rtt", 5, 4, 1), ("udp-tx", 5, 64, 0), ("tcp-rx", 0), ("icmp", 5)]:
            with self.assertRaises(ValueError, msg=str(bad)):
                Job(*bad)


class SluiceNotMeasured(unittest.TestCase):
    """Without Sluice's netbench program the runner says so, and neither a
    Sluice figure nor a Sluice/Linux ratio appears."""

    def test_missing_program_is_said_plainly(self):
        with tempfile.TemporaryDirectory() as d:
            a = type("A", (), {"build_dir": d})()
            with self.assertRaisesRegex(run_net_bench.NotMeasured, "netbench program .* does not exist"):
                run_net_bench.sluice_config(a, Path(d), 1, 2)

    def test_summary_has_no_sluice_figure(self):
        jobs = [Job("udp-rtt", 1, 64, 1)]
        boots = [{"guest": "linux", "jobs": [{"job": "udp-rtt-64B-w1", "figure": 1234.5, "unit": "round trips/s"}]}]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            run_net_bench.summary(["sluice", "linux"], boots, {"sluice": "no netbench"}, jobs)
        text = out.getvalue()
        self.assertIn("sluice: NOT MEASURED: no netbench", text)
        self.assertIn("linux udp-rtt-64B-w1: 1,234.5 round trips/s", text)
        self.assertNotIn("Sluice/Linux", text)
        self.assertEqual(sum("sluice" in ln for ln in text.splitlines()), 1)

    def test_ratio_uses_linux_at_its_best(self):
        jobs = [Job("udp-rtt", 1, 64, 1)]
        r = lambda v: {"job": "udp-rtt-64B-w1", "figure": v, "unit": "round trips/s"}  # noqa: E731
        boots = [{"guest": "sluice", "jobs": [r(2400.0)]}, {"guest": "linux", "jobs": [r(1000.0)]},
                 {"guest": "linux-nr1", "jobs": [r(2000.0)]}]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            run_net_bench.summary(["sluice", "linux", "linux-nr1"], boots, {}, jobs)
        self.assertIn("Sluice/Linux udp-rtt-64B-w1 (best runs): 1.20x (target >= 1.3x: NOT met)", out.getvalue())


class TraceCounts(unittest.TestCase):
    LOG = """\
100@1000.000000:virtio_queue_notify vdev 0xd n 0 vq 0xa0
100@1000.100000:virtio_queue_notify vdev 0xd n 2 vq 0xc0
100@1001.000000:virtqueue_pop vq 0xa1 elem 0x1 in_num 0 out_num 1
100@1001.000001:virtio_queue_notify vdev 0xd n 1 vq 0xa1
100@1001.000002:virtqueue_pop vq 0xa0 elem 0x2 in_num 1 out_num 0
100@1001.000003:virtio_notify vdev 0xd vq 0xa0
100@1001.000004:virtqueue_pop vq 0xc0 elem 0x3 in_num 1 out_num 1
100@1002.500000:virtqueue_pop vq 0xa1 elem 0x4 in_num 0 out_num 1
100@1002.500001:virtio_notify_irqfd vdev 0xd vq 0xa1
"""

    def counts(self, text: str, windows):
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.write(text)
        try:
            return trace.virtio_net_counts(Path(f.name), windows)
        finally:
            Path(f.name).unlink()

    def test_queues_and_windows(self):
        c = self.counts(self.LOG, [(1001.0, 1002.0), (1002.0, 1003.0)])
        self.assertEqual(c["total"], {"rx_notify": 1, "tx_notify": 1, "rx_irq": 1, "tx_irq": 1,
                                      "rx_frames": 1, "tx_frames": 2})
        self.assertEqual(c["windows"][0], {"rx_notify": 0, "tx_notify": 1, "rx_irq": 1, "tx_irq": 0,
                                           "rx_frames": 1, "tx_frames": 1})  # control queue not counted
        self.assertEqual(c["windows"][1]["tx_irq"], 1)
        p = trace.per_frame(c["windows"][0])
        self.assertEqual((p["frames"], p["notify_per_frame"], p["irq_per_frame"]), (2, 0.5, 0.5))
        self.assertIsNone(trace.per_frame(c["windows"][1])["rx_irq_per_rx_frame"])

    def test_untimestamped_log_is_refused(self):
        with self.assertRaisesRegex(ValueError, "no timestamp"):
            self.counts("virtio_notify vdev 0xd vq 0xa0\n", [(0.0, 1.0)])


if __name__ == "__main__":
    unittest.main()
