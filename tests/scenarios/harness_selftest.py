#!/usr/bin/env python3
"""Self-test of the scenario harness logic; needs no QEMU, GRUB or kernel.

Exercises the host-side checks on canned data (they must pass on a match and
fail on each kind of difference), validates every scenario file in this
directory, drives the serial-input logic ([[input]] parsing, when each input
is due, the COM1 socket link against a fake QEMU) and checks the image
builder's GPT writer and grub.cfg.

    python3 tests/scenarios/harness_selftest.py [-v]
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import socket
import struct
import sys
import tempfile
import threading
import time
import unittest
import zlib
from unittest import mock
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "scripts"))

from harness import boot as boot_mod  # noqa: E402
from harness import checks, host, images, network, qemu, records, runner, scenario, serial, tcp_peers, trace  # noqa: E402


# --------------------------------------------------------------------------
# Canned QEMU side: config spaces built from fields, and a query-pci reply
# shaped like QEMU 7.2's (root bus + one bridge with a device behind it).

def config_space(vendor, device, cls, sub, progif, rev, bars=(), msix=None, msi=None,
                 header_type=0):
    c = bytearray(256)
    struct.pack_into("<HH", c, 0, vendor, device)
    c[8], c[9], c[10], c[11] = rev, progif, sub, cls
    c[14] = header_type
    for index, raw in bars:              # raw register values, low dword first
        for i, dword in enumerate(raw):
            struct.pack_into("<I", c, 0x10 + 4 * (index + i), dword)
    ptr = 0x40
    caps = []
    if msix:
        vectors, tbir, toff, pbir, poff = msix
        caps.append((0x11, struct.pack("<HII", vectors - 1, toff | tbir, poff | pbir)))
    if msi:
        vectors, is64, maskable = msi
        ctrl = ((vectors.bit_length() - 1) << 1) | (0x80 if is64 else 0) | (0x100 if maskable else 0)
        caps.append((0x05, struct.pack("<H", ctrl) + bytes(12)))
    if caps:
        struct.pack_into("<H", c, 6, 0x10)   # status: capability list
        c[0x34] = ptr
        for i, (cid, body) in enumerate(caps):
            nxt = ptr + 0x20 if i + 1 < len(caps) else 0
            c[ptr], c[ptr + 1] = cid, nxt
            c[ptr + 2:ptr + 2 + len(body)] = body
            ptr = nxt
    return bytes(c)


def region(bar, kind, address, size, mem64=False, prefetch=False):
    if kind == "io":
        return {"bar": bar, "type": "io", "address": address, "size": size}
    return {"bar": bar, "type": "memory", "address": address, "size": size,
            "mem_type_64": mem64, "prefetch": prefetch}


def device(bus, slot, fn, vendor, dev, cls16, regions, bridge=None):
    d = {"bus": bus, "slot": slot, "function": fn, "class_info": {"class": cls16},
         "id": {"vendor": vendor, "device": dev}, "regions": regions, "qdev_id": "",
         "irq_pin": 1}
    if bridge is not None:
        d["pci_bridge"] = {"bus": {"number": bus, "secondary": bridge[0], "subordinate": bridge[0]},
                           "devices": bridge[1]}
    return d


BEHIND_BRIDGE = device(1, 0, 0, 0x1AF4, 0x1041, 0x0200, [
    region(1, "memory", 0xFE240000, 0x1000),
    region(4, "memory", 0xFE800000, 0x4000, mem64=True, prefetch=True),
    region(6, "memory", -1, 0x40000),    # expansion ROM: ignored
])

QUERY_PCI = [{"bus": 0, "devices": [
    device(0, 0, 0, 0x8086, 0x29C0, 0x0600, []),
    device(0, 1, 0, 0x1B36, 0x0010, 0x0108, [
        region(0, "memory", 0xFEBC0000, 0x4000, mem64=True)]),
    device(0, 2, 0, 0x1AF4, 0x1001, 0x0100, [
        region(0, "io", 0xC000, 0x80),
        region(1, "memory", -1, 0x1000),   # decoding off: value read from the register
        region(4, "memory", 0xFEBF8000, 0x4000, mem64=True, prefetch=True)]),
    device(0, 4, 0, 0x1B36, 0x000C, 0x0604, [region(0, "memory", 0xFE446000, 0x1000)],
           bridge=(1, [BEHIND_BRIDGE])),
    device(0, 0x1F, 2, 0x8086, 0x2922, 0x0106, [
        region(4, "io", 0xC0E0, 0x20), region(5, "memory", 0xFEBC6000, 0x1000)]),
]}]

CONFIG = {
    "00:00.0": config_space(0x8086, 0x29C0, 0x06, 0x00, 0x00, 0x00),
    "00:01.0": config_space(0x1B36, 0x0010, 0x01, 0x08, 0x02, 0x02,
                            bars=[(0, [0xFEBC0004, 0])], msix=(65, 0, 0x2000, 0, 0x3000)),
    "00:02.0": config_space(0x1AF4, 0x1001, 0x01, 0x00, 0x00, 0x00,
                            bars=[(0, [0xC001]), (1, [0xFEBC4000]), (4, [0xFEBF800C, 0])],
                            msix=(2, 1, 0, 1, 0x800)),
    "00:04.0": config_space(0x1B36, 0x000C, 0x06, 0x04, 0x00, 0x00,
                            bars=[(0, [0xFE446000])], msix=(1, 0, 0, 0, 0x800), header_type=1),
    "01:00.0": config_space(0x1AF4, 0x1041, 0x02, 0x00, 0x00, 0x01,
                            bars=[(1, [0xFE240000]), (4, [0xFE80000C, 0])],
                            msix=(4, 1, 0, 1, 0x800)),
    "00:1f.2": config_space(0x8086, 0x2922, 0x01, 0x06, 0x01, 0x02,
                            bars=[(4, [0xC0E1]), (5, [0xFEBC6000])], msi=(1, True, False)),
}

KERNEL_LOG = """\
[    0.100000] I Sluice 0.1.0 (abc123)
[    0.200000] I pci 00:00.0 8086:29c0 class 06.00.00 rev 00
[    0.200001] I pci 00:01.0 1b36:0010 class 01.08.02 rev 02
[    0.200002] I pci   bar0 mem64 addr 0x00000000febc0000 size 0x4000
[    0.200003] I pci   msix vectors 65 table bar0+0x2000 pba bar0+0x3000
[    0.200004] I pci 00:02.0 1af4:1001 class 01.00.00 rev 00
[    0.200005] I pci   bar0 io addr 0xc000 size 0x80
[    0.200006] I pci   bar1 mem32 addr 0x00000000febc4000 size 0x1000
[    0.200007] I pci   bar4 mem64 pref addr 0x00000000febf8000 size 0x4000
[    0.200008] I pci   msix vectors 2 table bar1+0x0 pba bar1+0x800
[    0.200009] I pci 00:04.0 1b36:000c class 06.04.00 rev 00
[    0.200010] I pci   bar0 mem32 addr 0x00000000fe446000 size 0x1000
[    0.200011] I pci   msix vectors 1 table bar0+0x0 pba bar0+0x800
[    0.200012] I pci 00:1f.2 8086:2922 class 01.06.01 rev 02
[    0.200013] I pci   bar4 io addr 0xc0e0 size 0x20
[    0.200014] I pci   bar5 mem32 addr 0x00000000febc6000 size 0x1000
[    0.200015] I pci   msi vectors 1 64bit
[    0.200016] I pci 01:00.0 1af4:1041 class 02.00.00 rev 01
[    0.200017] I pci   bar1 mem32 addr 0x00000000fe240000 size 0x1000
[    0.200018] I pci   bar4 mem64 pref addr 0x00000000fe800000 size 0x4000
[    0.200019] I pci   msix vectors 4 table bar1+0x0 pba bar1+0x800
[    0.200020] I pci: 6 functions on 2 buses
[    0.300000] I boot: complete
"""


def compare(log: str = KERNEL_LOG, query=None, config=None) -> list[str]:
    query = QUERY_PCI if query is None else query
    config = CONFIG if config is None else config
    kernel, summary, problems = checks.parse_kernel_pci(log)
    qemu_view = {}
    for dev in checks.flatten_query_pci(query):
        bdf = f"{dev['bus']:02x}:{dev['slot']:02x}.{dev['function']:x}"
        f = checks.qemu_function(dev, config.get(bdf))
        qemu_view[f.bdf] = f
    return problems + checks.compare_pci(kernel, qemu_view, summary,
                                         checks.count_reached_buses(query))


class PciComparison(unittest.TestCase):
    def assertDiff(self, diffs: list[str], pattern: str) -> None:
        self.assertTrue(diffs, "comparison passed but must fail")
        self.assertTrue(any(re.search(pattern, d) for d in diffs),
                        f"no difference matching {pattern!r} in {diffs}")

    def test_match(self):
        self.assertEqual(compare(), [])

    def test_recurses_into_bridges(self):
        self.assertEqual(len(checks.flatten_query_pci(QUERY_PCI)), 6)

    def test_missing_function(self):
        log = re.sub(r".*pci 01:00\.0.*\n(.*pci   .*\n)*", "", KERNEL_LOG)
        log = log.replace("6 functions", "5 functions")
        self.assertDiff(compare(log), r"01:00\.0 1af4:1041 exists in QEMU but the kernel did not")

    def test_extra_function(self):
        log = KERNEL_LOG.replace("[    0.200020] I pci: 6",
                                 "[    0.200019] I pci 00:1f.3 8086:2930 class 0c.05.00 rev 02\n"
                                 "[    0.200020] I pci: 6")
        self.assertDiff(compare(log), r"00:1f\.3 .* absent in QEMU")

    def test_wrong_ids_class_progif_revision(self):
        for old, new, what in [("1b36:0010 class", "1b36:0011 class", "device"),
                               ("class 01.08.02", "class 01.80.02", "subclass"),
                               ("class 01.08.02", "class 02.08.02", "cls"),
                               ("class 01.08.02", "class 01.08.03", "prog_if"),
                               ("class 01.08.02 rev 02", "class 01.08.02 rev 03", "revision")]:
            with self.subTest(what=what):
                self.assertDiff(compare(KERNEL_LOG.replace(old, new, 1)), rf"00:01\.0 {what}:")

    def test_bar_differences(self):
        cases = [
            ("bar0 mem64 addr 0x00000000febc0000 size 0x4000",
             "bar0 mem64 addr 0x00000000febc0000 size 0x2000", "size"),
            ("bar0 mem64 addr 0x00000000febc0000", "bar0 mem64 addr 0x00000000febc1000", "address"),
            ("bar0 mem64 addr 0x00000000febc0000", "bar0 mem32 addr 0x00000000febc0000", "64-bit"),
            ("bar4 mem64 pref addr 0x00000000febf8000", "bar4 mem64 addr 0x00000000febf8000", "pref"),
            ("bar0 io addr 0xc000", "bar0 mem32 addr 0xc000", "type"),
            ("bar1 mem32 addr 0x00000000febc4000", "bar1 mem32 addr 0x00000000febc5000",
             "register value when decoding is off"),
        ]
        for old, new, what in cases:
            with self.subTest(what=what):
                log = KERNEL_LOG.replace(old, new, 1)
                self.assertNotEqual(log, KERNEL_LOG)
                self.assertDiff(compare(log), r"bar\d: kernel .*; QEMU ")

    def test_missing_and_extra_bar(self):
        log = KERNEL_LOG.replace("[    0.200014] I pci   bar5 mem32 addr 0x00000000febc6000 size 0x1000\n", "")
        self.assertDiff(compare(log), r"00:1f\.2 bar5: missing in kernel output")
        log = KERNEL_LOG.replace("[    0.200001] I pci 00:01.0 1b36:0010 class 01.08.02 rev 02\n",
                                 "[    0.200001] I pci 00:01.0 1b36:0010 class 01.08.02 rev 02\n"
                                 "[    0.200001] I pci   bar2 mem32 addr 0x00000000fe000000 size 0x1000\n")
        self.assertDiff(compare(log), r"00:01\.0 bar2: kernel reports .* QEMU has no such BAR")

    def test_msix_and_msi(self):
        self.assertDiff(compare(KERNEL_LOG.replace("msix vectors 65", "msix vectors 64")),
                        r"00:01\.0: kernel msix vectors 64")
        self.assertDiff(compare(KERNEL_LOG.replace("pba bar0+0x3000", "pba bar0+0x3800")),
                        r"00:01\.0: kernel msix")
        self.assertDiff(compare(KERNEL_LOG.replace("msi vectors 1 64bit", "msi vectors 1")),
                        r"00:1f\.2: kernel msi vectors 1;")
        log = KERNEL_LOG.replace("[    0.200008] I pci   msix vectors 2 table bar1+0x0 pba bar1+0x800\n", "")
        self.assertDiff(compare(log), r"00:02\.0: missing msix line")

    def test_summary(self):
        self.assertDiff(compare(KERNEL_LOG.replace("6 functions", "7 functions")),
                        r"summary says 7 functions")
        self.assertDiff(compare(KERNEL_LOG.replace("on 2 buses", "on 5 buses")), r"summary says 5 buses")
        log = re.sub(r".*pci: 6 functions.*\n", "", KERNEL_LOG)
        self.assertDiff(compare(log), r"no 'pci: <N> functions")

    def test_qemu_side_change_is_caught(self):
        q = copy.deepcopy(QUERY_PCI)
        q[0]["devices"][3]["pci_bridge"]["devices"][0]["regions"][1]["size"] = 0x8000
        self.assertDiff(compare(query=q), r"01:00\.0 bar4")

    def test_ecam_helpers(self):
        mtree = "    00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio\n"
        self.assertEqual(checks.ecam_base_from_mtree(mtree), 0xB0000000)
        self.assertIsNone(checks.ecam_base_from_mtree("nothing here"))
        xp = ("00000000b0000000: 0x29c08086 0x00000103 0x06000000 0x00000000\n"
              "00000000b0000010: 0x00000001 0x00000002 0x00000003 0x00000004\n")
        data = checks.parse_xp_words(xp)
        self.assertEqual(len(data), 32)
        self.assertEqual(checks.config_dword(data, 0), 0x29C08086)


class Modules(unittest.TestCase):
    LOG = ("[    0.1] I module blob-a size 4099\n[    0.1] I module blob-b size 300007\n"
           "[    0.1] I modules: 2\n")
    EXPECTED = [("blob-a", 4099), ("blob-b", 300007)]

    def test_match(self):
        self.assertEqual(checks.compare_modules(self.EXPECTED, self.LOG), [])

    def test_mismatches(self):
        for log, pattern in [
            (self.LOG.replace("4099", "4096"), r"blob-a: kernel says 4096 bytes"),
            (self.LOG.replace("blob-b", "blob-c"), r"blob-b .* not reported"),
            (self.LOG.replace("modules: 2", "modules: 3"), r"modules: 3, expected 2"),
            (self.LOG.replace("I modules: 2\n", ""), r"no 'modules: <N>' line"),
            ("[    0.1] I module blob-b size 300007\n[    0.1] I module blob-a size 4099\n"
             "[    0.1] I modules: 2\n", r"order"),
        ]:
            with self.subTest(pattern=pattern):
                diffs = checks.compare_modules(self.EXPECTED, log)
                self.assertTrue(any(re.search(pattern, d) for d in diffs), diffs)


class Scenarios(unittest.TestCase):
    def test_every_scenario_file_is_valid(self):
        files = sorted(HERE.glob("*.toml"))
        self.assertTrue(files)
        for f in files:
            with self.subTest(scenario=f.name):
                sc = scenario.load(f, Path("/nonexistent-build"))
                if sc.end != "panic":
                    self.assertTrue(any(p.pattern == "PANIC:" for p in sc.forbidden))

    def test_schema_errors(self):
        good = {"description": "d", "end": "poweroff", "markers": ["x"]}
        scenario.validate("t", good, Path("/b"))
        for bad, pattern in [
            ({**good, "colour": 1}, "unknown keys"),
            ({**good, "end": "reboot"}, "end must be"),
            ({**good, "markers": []}, "at least one"),
            ({**good, "markers": ["("]}, "bad regex"),
            ({**good, "checks": ["nope"]}, "unknown check"),
            ({**good, "checks": ["pci_matches_qmp"]}, "needs end = 'quit'"),
            ({**good, "end": "panic"}, "PANIC"),
            ({**good, "format": "uefi", "firmware": "bios"}, "SeaBIOS"),
            ({**good, "modules": [{"name": "a", "generate": {"size": 1}}]}, "generate"),
            ({**good, "modules": [{"name": "a b", "path": "x"}]}, "name must match"),
            ({**good, "qemu_args": ["{disk}"]}, "run_dir"),
            ({**good, "input": {"after": "x", "send": "y"}}, r"array of tables \(\[\[input\]\]"),
            ({**good, "input": ["ps"]}, r"array of tables"),
            ({**good, "input": [{"after": "x", "send": "y", "echo": True}]}, r"input\[0\]: unknown keys"),
            ({**good, "input": [{"send": "y"}]}, r"input\[0\]: after .* is required"),
            ({**good, "input": [{"after": "x", "send": "y"}, {"after": "(", "send": "y"}]},
             r"input\[1\]: bad regex"),
            ({**good, "input": [{"after": "x"}]}, r"send .* is required"),
            ({**good, "input": [{"after": "x", "send": ""}]}, r"send .* is required"),
            ({**good, "input": [{"after": "x", "send": "y", "delay_ms": -1}]}, "delay_ms"),
            ({**good, "input": [{"after": "x", "send": "y", "delay_ms": 0.5}]}, "delay_ms"),
            ({**good, "input": [{"after": "x", "send": "y", "delay_ms": True}]}, "delay_ms"),
            # a typo anywhere is refused, never ignored
            ({**good, "marker": ["x"]}, r"unknown keys \['marker'\]"),
            ({**good, "modules": [{"name": "a", "path": "x", "sha": 1}]}, r"modules\[0\]: unknown keys"),
            ({**good, "modules": [{"name": "a", "generate": {"size": 1, "seed": 1, "fill": 0}}]}, "generate"),
            ({**good, "disk_fill": {"d0": {"size": 8, "seed": 1, "offset": 0}}}, r"\[disk_fill\] d0"),
            ({**good, "timeout": True}, "timeout"),
            ({**good, "smp": True}, "smp"),
            ({**good, "memory": ["1G"]}, "memory"),
            # modules: sets and programs
            ({**good, "modules": ["nvmee"]}, r"'nvmee' is neither a module set .* nor a program the build makes"),
            ({**good, "modules": ["system", "init"]}, "init named twice"),
            ({**good, "modules": [3]}, r"modules\[0\]: a module set name"),
            ({**good, "modules": "system"}, "modules must be a list"),
            ({**good, "manifest": "tests/scenarios/data/no-such.manifest"}, "no-such.manifest does not exist"),
            ({**good, "modules": [{"name": "m", "source": "nope/x"}]}, "nope/x does not exist"),
            # captures
            ({**good, "markers": ["pid {capture:p}"]}, r"uses \{capture:p\}, which no marker"),
            ({**good, "markers": ["{capture:p} (?P<p>\\d+)"]}, r"marker #1 uses \{capture:p\}, defined only by marker #1"),
            ({**good, "markers": ["a {capture:p}", "(?P<p>\\d+)"]}, r"defined only by marker #2"),
            ({**good, "markers": ["(?P<p>\\d+)", "(?P<p>\\w+)"]}, "capture 'p' defined twice"),
            ({**good, "markers": ["{capture:1p}"]}, "a capture name is a Python identifier"),
            ({**good, "forbidden": ["pid {capture:p}"]}, "captures are for markers"),
            ({**good, "input": [{"after": "x", "send": "kill {capture:p}\r"}]}, r"input #1's send uses"),
            ({**good, "input": [{"after": "{capture:p}", "send": "y"},
                                {"after": "(?P<p>\\d+)", "send": "y"}]}, r"input #1's trigger uses .* input #2"),
        ]:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(scenario.ScenarioError, pattern):
                    scenario.validate("t", bad, Path("/b"))

    def test_trace_markers_and_forbidden(self):
        from types import SimpleNamespace
        log = ("pci_nvme_create_sq sqid=1, qsize=127\n"
               "pci_nvme_mmio_doorbell_sq sqid 1 new_tail 5\n")
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "qemu-trace.log").write_text(log)

            def check(markers, forbidden):
                failures = []
                sc = SimpleNamespace(trace_markers=[re.compile(m) for m in markers],
                                     trace_forbidden=[re.compile(f) for f in forbidden],
                                     trace_counts=[], trace_delimiter=None)
                run = SimpleNamespace(run_dir=Path(d), fail=failures.append, notes=[])
                runner.check_trace(sc, run)
                return failures

            self.assertEqual(check(["create_sq", "doorbell_sq"], ["dbbuf_config"]), [])
            self.assertRegex(check(["doorbell_sq", "create_sq"], [])[0], "trace marker #2")
            self.assertRegex(check(["create_sq"], ["new_tail \\d"])[0],
                             "forbidden trace pattern .*'pci_nvme_mmio_doorbell_sq sqid 1 new_tail 5'")
        good = {"description": "d", "end": "quit", "markers": ["x"]}
        for trace, pattern in [
            ({"events": ["a"], "markers": ["b"], "colour": 1}, r"\[trace\] takes"),
            ({"events": ["a"], "markers": ["b"], "forbidden": ["("]}, "bad regex"),
            ({"events": ["a"], "forbidden": ["b"]}, "both events and markers"),
        ]:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(scenario.ScenarioError, pattern):
                    scenario.validate("t", {**good, "trace": trace}, Path("/b"))

    def test_image_check_schema(self):
        good = {"description": "d", "end": "kill", "markers": ["x"], "disks": ["d0"]}
        ok = scenario.validate("t", {**good, "image_checks": [
            {"disk": "d0", "offset": 8, "length": 16, "pattern_seed": 3},
            {"disk": "d0", "offset": 0, "length": 1, "zeros": True},
            {"disk": "d0", "offset": 0, "length": 1, "original": True}]}, Path("/b"))
        self.assertEqual([(c.pattern_seed, c.zeros, c.original) for c in ok.image_checks],
                         [(3, False, False), (None, True, False), (None, False, True)])
        for checks_, pattern in [
            ([{"disk": "nope", "offset": 0, "length": 8, "zeros": True}], "not one of this scenario"),
            ([{"disk": "d0", "offset": 0, "length": 0, "zeros": True}], "length > 0"),
            ([{"disk": "d0", "offset": 0, "length": 8}], "exactly one"),
            ([{"disk": "d0", "offset": 0, "length": 8, "zeros": True, "original": True}], "exactly one"),
            ([{"disk": "d0", "offset": 4, "length": 8, "pattern_seed": 1}], "8-byte aligned"),
            ([{"disk": "d0", "offset": 0, "length": 8, "colour": 1}], "keys are"),
        ]:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(scenario.ScenarioError, pattern):
                    scenario.validate("t", {**good, "image_checks": checks_}, Path("/b"))

    def test_pattern_bytes_match_lib_util_pattern(self):
        # util::pattern_word(seed 0, offset 0) and (seed 7, offset 8), worked
        # out by hand from SplitMix64 (lib/util/pattern.h).
        mask = (1 << 64) - 1

        def splitmix(x):
            z = (x + 0x9E3779B97F4A7C15) & mask
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
            return z ^ (z >> 31)
        self.assertEqual(images.pattern_bytes(0, 0, 8), splitmix(0).to_bytes(8, "little"))
        self.assertEqual(images.pattern_bytes(7, 8, 8),
                         splitmix((7 * 0x9E3779B97F4A7C15 + 1) & mask).to_bytes(8, "little"))
        # SplitMix64's first output for state 0 is a published constant.
        self.assertEqual(splitmix(0), 0xE220A8397B1DCDAF)
        self.assertEqual(len(images.pattern_bytes(5, 4096, 4096)), 4096)

    def test_disk_sha256_expansion(self):
        import hashlib
        fill = {"d0": bytes(range(256)) * 4}
        got = scenario.expand_disk_hex("sha256 {disk_sha256:d0:16:32} hex {disk_hex:d0:0:2}", fill)
        self.assertEqual(got, f"sha256 {hashlib.sha256(fill['d0'][16:48]).hexdigest()} hex 0001")
        with self.assertRaisesRegex(scenario.ScenarioError, "not inside"):
            scenario.expand_disk_hex("{disk_sha256:d0:1000:100}", fill)

    def test_input_parsing(self):
        import tomllib
        data = tomllib.loads('''
description = "d"
end = "quit"
markers = ["x"]
[[input]]
after = 'boot: complete'
send = "hello sluice\\r"
[[input]]
after = "console: line 'hello sluice'"
send = "ps\\n"
delay_ms = 250
''')
        sc = scenario.validate("t", data, Path("/b"))
        self.assertEqual([(i.after.pattern, i.send, i.delay_ms) for i in sc.inputs],
                         [("boot: complete", "hello sluice\r", 0),
                          ("console: line 'hello sluice'", "ps\n", 250)])
        self.assertEqual(scenario.validate("t", {"description": "d", "end": "quit",
                                                     "markers": ["x"]}, Path("/b")).inputs, [])

    def test_cmdline_gets_exit_poweroff(self):
        sc = scenario.validate("t", {"description": "d", "end": "poweroff", "markers": ["x"],
                                         "cmdline": "a=b"}, Path("/b"))
        self.assertEqual(sc.full_cmdline(), "console=com1 loglevel=info a=b exit=poweroff")
        sc.end = "quit"
        self.assertNotIn("exit=poweroff", sc.full_cmdline())

    def test_clean_text(self):
        raw = b"\x1b[2J\x1b[01;01H\x1b[=3hBooting\r\n[    1.0] I boot: complete\r\n"
        self.assertEqual(serial.clean_text(raw), "Booting\n[    1.0] I boot: complete\n")


def inputs(*specs):
    return [serial.Input(serial.Pattern(a), t, d) for a, t, d in specs]


class Records(unittest.TestCase):
    """[[record_checks]] (scripts/harness/records.py): the host's side of
    the zero-lost-writes test, on canned images."""

    BS = 512

    def image(self, passes=(3, 3), size=1 << 16):
        img = bytearray(size)
        for consumer, (base, p) in enumerate(zip((4096, 20480), passes), 1):
            for i in range(8):
                at = base + i * self.BS
                img[at:at + self.BS] = records.record_bytes(consumer, i, p, at, self.BS)
        return img

    def run_check(self, img, log=None, scan=(0, 1 << 16)):
        log = log or ("[seqwriter:7] seqwriter: consumer 1 on vblk0n1: 3 passes over 8 records of 512 B at byte 4096 "
                      "acknowledged, 0 errors, 4 reattached\n"
                      "[seqwriter:8] seqwriter: consumer 2 on vblk0n1: 3 passes over 8 records of 512 B at byte "
                      "20480 acknowledged, 0 errors, 5 reattached\n")
        claims = records.parse_claims(log, "vblk0n1")
        return records.check(claims, 2, lambda o, n: bytes(img[o:o + n]), lambda o, n: bytes(n), scan)

    def test_all_there(self):
        self.assertEqual(self.run_check(self.image()), [])

    def test_record_layout_matches_record_h(self):
        r = records.record_bytes(2, 5, 9, 4096, 64)
        words = [int.from_bytes(r[i:i + 8], "little") for i in range(0, 64, 8)]
        self.assertEqual(words[:4], [0x4554495257514553, 2, 5, 9])
        self.assertEqual(r[32:56], images.pattern_bytes(2 << 32 | 9, 4096 + 32, 24))
        self.assertEqual(words[7], records.checksum(words[:7]))
        self.assertEqual(records.read_record(r, 4096), (2, 5, 9))
        self.assertIsNone(records.read_record(r, 4096 + 64))  # made for another place

    def test_an_acknowledged_record_never_written_fails(self):
        img = self.image()
        img[4096 + 3 * self.BS:4096 + 4 * self.BS] = bytes(self.BS)
        [p] = self.run_check(img)
        self.assertIn("consumer 1 on vblk0n1: 3 passes", p)
        self.assertIn("1 acknowledged records lost, first: record 3 at byte 5632: holds what was there before", p)

    def test_an_older_pass_fails(self):
        [p] = self.run_check(self.image(passes=(3, 2)))
        self.assertIn("8 acknowledged records lost, first: record 0 at byte 20480: holds pass 2 of consumer 2", p)

    def test_torn_slot_anywhere_fails(self):
        img = self.image()
        # half of a record outside both claimed ranges, the rest zeros
        whole = records.record_bytes(1, 0, 1, 40960, self.BS)
        img[40960:40960 + 256] = whole[:256]
        [p] = self.run_check(img)
        self.assertIn("1 torn 512-byte slots in bytes 0..65536, first at 40960", p)
        img[40960:40960 + self.BS] = whole  # a whole record is not torn
        self.assertEqual(self.run_check(img), [])
        # torn inside a claimed range: lost, and torn
        img[4096 + 100] ^= 1
        problems = self.run_check(img)
        self.assertIn("record 0 at byte 4096: torn or foreign bytes", problems[0])
        self.assertIn("1 torn 512-byte slots", problems[1])

    def test_missing_consumer_or_errors_fail(self):
        log = ("seqwriter: consumer 1 on vblk0n1: 3 passes over 8 records of 512 B at byte 4096 acknowledged, "
               "2 errors, 1 reattached\nseqwriter: consumer 2 on nvme0n1: 3 passes over 8 records of 512 B at "
               "byte 20480 acknowledged, 0 errors, 1 reattached\n")
        problems = self.run_check(self.image(), log=log)
        self.assertIn("1 consumers said what was acknowledged to them, expected 2", problems[0])
        self.assertIn("the consumer saw 2 errors", problems[1])

    def test_schema(self):
        good = {"description": "d", "end": "kill", "markers": ["x"], "disks": ["d0"]}
        ok = scenario.validate("t", {**good, "record_checks": [
            {"disk": "d0", "device": "vblk0n1", "consumers": 2, "offset": 0, "length": 4096}]}, Path("/b"))
        self.assertEqual(ok.record_checks, [scenario.RecordCheck("d0", "vblk0n1", 2, (0, 4096))])
        for checks_, pattern in [
            ([{"disk": "nope", "device": "x", "consumers": 1}], "not one of this scenario"),
            ([{"disk": "d0", "device": "x"}], "keys are"),
            ([{"disk": "d0", "device": "x", "consumers": 0}], "consumers >= 1"),
            ([{"disk": "d0", "device": "x", "consumers": 1, "offset": 0}], "both or neither"),
        ]:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(scenario.ScenarioError, pattern):
                    scenario.validate("t", {**good, "record_checks": checks_}, Path("/b"))


class InputTiming(unittest.TestCase):
    def test_in_order_each_after_the_previous_match(self):
        f = serial.InputFeeder(inputs(("ready", "a\r", 0), ("ready", "b\r", 0)))
        log = "boot\n"
        self.assertEqual(f.poll(log, 0), [])
        log += "ready\n"
        self.assertEqual([i for i, _, _ in f.poll(log, 1)], [0])   # the same `ready` serves only #1
        self.assertFalse(f.done)
        self.assertEqual(f.poll(log, 2), [])
        self.assertRegex(f.waiting_for(), r"input #2's trigger /ready/")
        log += "got a\nready\n"
        self.assertEqual([(i, data) for i, _, data in f.poll(log, 3)], [(1, b"b\r")])
        self.assertTrue(f.done)
        self.assertEqual(f.poll(log + "ready\n", 4), [])

    def test_several_due_at_once(self):
        f = serial.InputFeeder(inputs(("one", "1", 0), ("two", "2", 0)))
        self.assertEqual([i for i, _, _ in f.poll("one two\n", 0)], [0, 1])

    def test_earlier_text_does_not_count(self):
        # #2's trigger appeared before #1's: it must appear again after it.
        f = serial.InputFeeder(inputs(("B", "1", 0), ("A", "2", 0)))
        self.assertEqual([i for i, _, _ in f.poll("A B\n", 0)], [0])
        self.assertEqual(f.poll("A B\n", 1), [])
        self.assertEqual([i for i, _, _ in f.poll("A B\nA\n", 2)], [1])

    def test_delay(self):
        f = serial.InputFeeder(inputs(("go", "x", 500)))
        self.assertEqual(f.poll("go\n", 10.0), [])
        self.assertTrue(f.triggered)
        self.assertRegex(f.waiting_for(), r"delay_ms 500")
        self.assertEqual(f.poll("go\n", 10.4), [])
        self.assertEqual([i for i, _, _ in f.poll("go\n", 10.5)], [0])
        self.assertTrue(f.done)


class SerialTransport(unittest.TestCase):
    """SerialLink against a fake QEMU: a client on the unix socket."""

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sluice-selftest-"))
        self.link = serial.SerialLink(self.dir / "serial.sock", self.dir / "serial.log")
        self.link.listen()
        self.qemu = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.qemu.settimeout(5)

    def tearDown(self):
        self.qemu.close()
        self.link.close()
        for f in self.dir.iterdir():
            f.unlink()
        self.dir.rmdir()

    def test_both_ways_and_nothing_lost(self):
        # QEMU connects and the guest prints before the harness accepts.
        self.qemu.connect(str(self.dir / "serial.sock"))
        self.qemu.sendall(b"\x1b[2JBooting\r\n")
        self.link.accept(5)
        self.qemu.sendall(b"boot: complete\r\n")
        self.link.send(b"ps\r")
        self.assertEqual(self.qemu.recv(16), b"ps\r")
        self.qemu.sendall(b"console: line 'ps'\r\n")
        self.qemu.close()                       # QEMU exits
        self.assertTrue(self.link.wait_closed(5))
        self.assertTrue(self.link.activity.is_set())
        log = (self.dir / "serial.log").read_bytes()
        self.assertEqual(log, b"\x1b[2JBooting\r\nboot: complete\r\nconsole: line 'ps'\r\n")
        self.assertNotIn(b"ps\r", log.replace(b"'ps'", b""))   # typed text is never logged
        self.assertIsNone(self.link.error)

    def test_qemu_never_connects(self):
        t0 = time.monotonic()
        with self.assertRaisesRegex(serial.SerialError, "exited before connecting"):
            self.link.accept(5, alive=lambda: False)
        self.assertLess(time.monotonic() - t0, 1)
        with self.assertRaisesRegex(serial.SerialError, "did not connect"):
            self.link.accept(0.1)

    def test_qemu_arguments(self):
        self.assertEqual(qemu.serial_args("stdio"), ["-serial", "mon:stdio"])   # make run: unchanged
        self.assertEqual(qemu.serial_args("socket:/r/serial.sock"),
                         ["-chardev", "socket,id=ser0,path=/r/serial.sock,server=off",
                          "-serial", "chardev:ser0", "-monitor", "none"])
        self.assertEqual(qemu.serial_args("socket:/a,b")[1], "socket,id=ser0,path=/a,,b,server=off")
        with self.assertRaises(qemu.QemuError):
            qemu.serial_args("socket:")


class ModuleSets(unittest.TestCase):
    GOOD = {"description": "d", "end": "poweroff", "markers": ["x"]}

    def test_sets_and_programs_expand_in_order(self):
        sc = scenario.validate("t", {**self.GOOD, "modules": ["system", "nvme", {"name": "blob", "generate":
                                     {"size": 3, "seed": 1}}], "manifest": "manifests/default.manifest"},
                               Path("/b"))
        self.assertEqual([m.name for m in sc.modules], ["init", "shell", "devmgr", "nvme", "blob", "manifest"])
        self.assertEqual(sc.modules[3].path, Path("/b/user/nvme"))
        self.assertEqual(sc.modules[-1].path, scenario.REPO / "manifests/default.manifest")

    def test_programs_are_what_the_build_makes(self):
        progs = scenario.programs()
        for name in ("init", "shell", "devmgr", "nvme", "dma_adversary", "microbench"):
            self.assertIn(name, progs)
        self.assertNotIn("sluice-kernel", progs)

    def test_the_sets_file_is_checked(self):
        sets = scenario.load_module_sets()
        self.assertEqual(sets["system"], ["init", "shell", "devmgr"])
        progs = frozenset({"init", "devmgr"})
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "sets.toml"
            for text, pattern in [
                ('[sets]\nbase = ["init", "devmgrr"]\n', r"names \['devmgrr'\], which the build does not make"),
                ('[sets]\ninit = ["devmgr"]\n', "has the name of a program"),
                ('[sets]\nbase = []\n', "non-empty list"),
                ('[sets]\nbase = ["init", "init"]\n', "twice"),
                ('[set]\nbase = ["init"]\n', "one table"),
            ]:
                with self.subTest(pattern=pattern):
                    f.write_text(text)
                    with self.assertRaisesRegex(scenario.ScenarioError, pattern):
                        scenario.load_module_sets(f, progs)

    def test_a_missing_program_file_fails_the_run_clearly(self):
        sc = scenario.validate("t", {**self.GOOD, "modules": ["hello"]}, Path("/nonexistent-build"))
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(scenario.ScenarioError,
                                        r"module hello: /nonexistent-build/user/hello does not exist"):
                runner.prepare_modules(sc, Path(d))


class Captures(unittest.TestCase):
    def test_markers_match_any_pid_but_the_same_process(self):
        caps = {}
        m = serial.Markers([serial.Pattern(r"\[nvme:(?P<nvme>\d+)\] nvme: up"),
                            serial.Pattern(r"devmgr: nvme0 \(pid {capture:nvme}\) was killed")], caps)
        m.advance("[nvme:7] nvme: up\ndevmgr: nvme0 (pid 8) was killed\n")
        self.assertEqual((m.next, caps), (1, {"nvme": "7"}))          # another process: no match
        self.assertRegex(m.describe_next(), r"marker #2 /devmgr: nvme0 \\\(pid \{capture:nvme\}")
        m.advance("[nvme:7] nvme: up\ndevmgr: nvme0 (pid 8) was killed\ndevmgr: nvme0 (pid 7) was killed\n")
        self.assertTrue(m.done)

    def test_a_capture_is_escaped_and_never_partial(self):
        caps = {"p": "1"}
        self.assertIsNone(serial.Pattern(r"pid {capture:p}\b").search("pid 12", 0, caps))
        caps = {"n": "a.b"}
        self.assertIsNone(serial.Pattern(r"x {capture:n}").search("x axb", 0, caps))
        self.assertIsNotNone(serial.Pattern(r"x {capture:n}").search("x a.b", 0, caps))

    def test_an_any_order_marker_is_tried_at_its_start_only(self):
        # (?=.*A)(?=.*B) holds at pos or nowhere later: tried once (linear),
        # not at every position (quadratic: 11 s on a 137 KB soak log).
        p = serial.Pattern(r"(?s)(?=.*killer: done: 3 kills)(?=.*consumer 1 .* 0 errors)")
        self.assertTrue(p.lookaheads_only)
        self.assertFalse(serial.Pattern(r"(?=.*A)B").lookaheads_only)
        self.assertFalse(serial.Pattern(r"(?m)^x(?=y)").lookaheads_only)
        log = "consumer 1 wrote, 0 errors\n" + "noise\n" * 20000
        self.assertIsNone(p.search(log, 0, {}))
        self.assertIsNotNone(p.search(log + "killer: done: 3 kills\n", 0, {}))
        self.assertIsNone(p.search(log + "killer: done: 3 kills\n", 5, {}))  # the consumer line is before pos
        big = "x" * 200_000
        start = time.monotonic()
        self.assertIsNone(p.search(big, 0, {}))
        self.assertLess(time.monotonic() - start, 1.0)

    def test_a_marker_the_boot_log_satisfies_proves_nothing(self):
        log = ("Sluice 0.1.0 x86_64\ncmdline: init=init test.addr_audit\n"
               "[    0.1] I audit: address audit on\n[    0.2] I proc: started pid 1 'init'\n"
               "[init:1] init: up\n[    0.3] I audit: address audit on\n"
               "audit: after teardown: 5 results checked\n")
        self.assertEqual(serial.boot_log_end(log), log.index("[    0.2]"))
        self.assertEqual(serial.boot_log_end("no process ran\n"), len("no process ran\n"))
        caps = {}
        m = serial.Markers([serial.Pattern(r"cmdline: "), serial.Pattern(r"init: up"),
                            serial.Pattern(r"audit: "), serial.Pattern(r"audit: after teardown")], caps)
        m.advance(log)
        self.assertTrue(m.done)
        weak = m.satisfied_by_boot_log(log)
        # cmdline: matched inside the boot log (a boot test); init: up is not in it;
        # "audit: " matched the replayed line after it: proves nothing
        self.assertEqual(len(weak), 1)
        self.assertRegex(weak[0], r"marker #3 /audit: / also matches the boot log")

    def test_a_marker_waits_for_its_capture(self):
        caps = {}
        m = serial.Markers([serial.Pattern("killed {capture:p}")], caps)
        m.advance("killed 5\n")
        self.assertFalse(m.done)
        self.assertRegex(m.describe_next(), "its capture p was never captured")
        caps["p"] = "5"
        m.advance("killed 5\n")
        self.assertTrue(m.done)

    def test_input_types_a_captured_pid(self):
        caps = {}
        markers = serial.Markers([serial.Pattern(r"started nvme \(pid (?P<nvme>\d+)\)")], caps)
        f = serial.InputFeeder([serial.Input(serial.Pattern("sh> "), "kill {capture:nvme}\r")], caps)
        log = "sh> \n"
        markers.advance(log)
        self.assertEqual(f.poll(log, 0), [])                    # trigger seen, pid not yet known
        self.assertRegex(f.waiting_for(), "capture nvme")
        log += "started nvme (pid 6)\n"
        markers.advance(log)
        self.assertEqual([d for _, _, d in f.poll(log, 1)], [b"kill 6\r"])

    def test_a_trigger_can_capture_for_its_own_send(self):
        f = serial.InputFeeder([serial.Input(serial.Pattern(r"bound (?P<p>\d+)"), "kill {capture:p}\r")])
        self.assertEqual([d for _, _, d in f.poll("bound 9\n", 0)], [b"kill 9\r"])

    def test_scenario_captures_validate(self):
        sc = scenario.validate("t", {"description": "d", "end": "quit", "markers": [
            r"\[nvme:(?P<nvme>\d+)\] up", r"\(pid {capture:nvme}\) was killed", r"{capture:sh}"],
            "input": [{"after": r"shell \(pid (?P<sh>\d+)\)", "send": "kill {capture:nvme}\r"}]}, Path("/b"))
        self.assertEqual(sc.markers[0].defines, ["nvme"])
        self.assertEqual(sc.inputs[0].uses(), ["nvme"])


class NoLiteralPids(unittest.TestCase):
    """Pids follow the order init starts things: a scenario that names one
    breaks when a module is added, or passes for the wrong process. Markers,
    triggers and forbidden patterns match any pid (\\d+) or a capture; a
    typed `kill N` names a captured pid, unless the scenario shows N does
    not exist (`kill: pid N: not-found`)."""

    PID_RES = [re.compile(r"\\?\[[A-Za-z_][A-Za-z_0-9-]*:\d+\\?\]"),   # [nvme:4]
               re.compile(r"\bpid \d")]                                   # (pid 4), pid 4 'x', started pid 4
    KILL_RE = re.compile(r"\bkill (\d+)")

    def literal_pids(self, data: dict) -> list[str]:
        regexes = list(data.get("markers", [])) + list(data.get("forbidden", []))
        regexes += [i.get("after", "") for i in data.get("input", [])]
        absent = {m.group(1) for r in regexes for m in re.finditer(r"kill: pid (\d+): not-found", r)}

        def strip_absent(r: str) -> str:
            for n in absent:
                r = r.replace(f"kill: pid {n}: not-found", "")
            return r

        found = [repr(r) for r in regexes if any(p.search(strip_absent(r)) for p in self.PID_RES)]
        found += [f"send {i['send']!r}" for i in data.get("input", [])
                  for m in self.KILL_RE.finditer(i.get("send", "")) if m.group(1) not in absent]
        return found

    def test_the_lint_finds_literal_pids(self):
        data = {"markers": [r"\[nvme:4\] up", r"devmgr: nvme0 \(pid 5\) was killed", r"\[nvme:\d+\] ok",
                            "kill: pid 99: not-found"],
                "input": [{"after": "x", "send": "kill 5\r"}, {"after": "y", "send": "kill 99\r"},
                          {"after": "z", "send": "kill {capture:nvme}\r"}]}
        self.assertEqual(self.literal_pids(data), [repr(r"\[nvme:4\] up"),
                                                   repr(r"devmgr: nvme0 \(pid 5\) was killed"),
                                                   "send 'kill 5\\r'"])

    def test_no_scenario_names_a_literal_pid(self):
        import tomllib
        for path in sorted(HERE.glob("*.toml")) + sorted(HERE.glob("soak/*.toml")):
            with self.subTest(scenario=path.name):
                self.assertEqual(self.literal_pids(tomllib.loads(path.read_text())), [])


class Trace(unittest.TestCase):
    LOG = ("pci_nvme_mmio_doorbell_sq sqid 0 new_tail 1\n"
           "pci_nvme_dbbuf_config dbs_addr=0x1000 eis_addr=0x2000\n"
           "pci_cfg_read nvme 00:01.0 @0xfc -> 0x0\n"
           "1234@1700000000.000001:pci_nvme_mmio_doorbell_sq sqid 1 new_tail 5\n"
           "pci_nvme_mmio_doorbell_cq cqid 1 new_head 5\n"
           "pci_nvme_irq_msix raising MSI-X IRQ vector 1\n"
           "pci_nvme_irq_msix raising MSI-X IRQ vector 0\n"
           "pci_cfg_read nvme 00:01.0 @0xfc -> 0x0\n"
           "pci_cfg_read nvme 00:01.0 @0x4 -> 0x7\n"
           "pci_nvme_mmio_doorbell_sq sqid 1 new_tail 6\n")

    def test_nvme_counts(self):
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "trace.log"
            f.write_text(self.LOG)
            c = trace.nvme_counts(f)
        self.assertEqual(c["total"], {"sq": 2, "cq": 1, "sq_admin": 1, "cq_admin": 0, "irq": 1,
                                      "irq_vector0": 1, "dbbuf_config": 1})
        self.assertEqual((c["markers"], c["windows"]), (2, [{"sq": 1, "cq": 1, "irq": 1}]))
        self.assertEqual(trace.per_io(c["total"], 2),
                         {"sq_per_io": 1.0, "cq_per_io": 0.5, "db_per_io": 1.5, "irq_per_io": 0.5})
        self.assertEqual(trace.per_io(c["total"], 0), {})

    def test_virtio_blk_counts(self):
        log = ("virtio_queue_notify vdev 0x1 n 0 vq 0x2\n"          # boot: before any window
               "virtio_blk_req_complete vdev 0x1 req 0x3 status 0\n"
               "pci_cfg_read virtio-blk 00:02.0 @0xfc -> 0x0\n"
               "virtio_queue_notify vdev 0x1 n 1 vq 0x4\n"
               "1234@5.6:virtio_notify vdev 0x1 vq 0x4\n"
               "virtio_notify_irqfd vdev 0x1 vq 0x2\n"
               "virtio_blk_req_complete vdev 0x1 req 0x3 status 0\n"
               "virtio_blk_req_complete vdev 0x1 req 0x5 status 0\n"
               "virtio_blk_rw_complete vdev 0x1 req 0x5 ret 0\n"  # not counted
               "pci_cfg_read virtio-blk 00:02.0 @0xfc -> 0x0\n"
               "virtio_notify vdev 0x1 vq 0x2\n")
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "trace.log"
            f.write_text(log)
            c = trace.virtio_blk_counts(f)
        self.assertEqual(c["total"], {"notify": 2, "irq": 3, "req": 3})
        self.assertEqual((c["markers"], c["windows"]), (2, [{"notify": 1, "irq": 2, "req": 2}]))
        self.assertEqual(trace.per_io(c["windows"][0], 2), {"notify_per_io": 0.5, "irq_per_io": 1.0, "req_per_io": 1.0})

    def test_window_counts(self):
        log = ("pci_cfg_read virtio-blk-pci 00:02.0 @0xfc -> 0x0\n"   # at boot
               "virtio_queue_notify vdev 0x1 n 0 vq 0x2\n"
               "pci_cfg_read virtio-blk-pci 00:02.0 @0xfc -> 0x0\n"
               "virtio_queue_notify vdev 0x1 n 0 vq 0x2\n"
               "1234@5.6:virtio_queue_notify vdev 0x1 n 0 vq 0x2\n"
               "virtio_notify_irqfd vdev 0x1 vq 0x2\n"
               "pci_cfg_read virtio-blk-pci 00:02.0 @0xfc0 -> 0x0\n"  # not a delimiter
               "pci_cfg_read virtio-blk-pci 00:02.0 @0xfc -> 0x0\n"
               "virtio_queue_notify vdev 0x1 n 0 vq 0x2\n")            # after the last: no window
        delim = re.compile(r"pci_cfg_read virtio-blk-pci \S+ @0xfc ")
        names = {"virtio_queue_notify", "virtio_notify_irqfd"}
        self.assertEqual(trace.window_counts(log, names, delim),
                         [{"virtio_queue_notify": 1, "virtio_notify_irqfd": 0},
                          {"virtio_queue_notify": 2, "virtio_notify_irqfd": 1}])
        ok = [trace.Count("virtio_queue_notify", -1, 2, 2), trace.Count("virtio_notify_irqfd", 1, 1, 3)]
        self.assertEqual(trace.check_counts(log, ok, delim),
                         (None, "counts virtio_queue_notify[-1]=2, virtio_notify_irqfd[1]=1"))
        self.assertRegex(trace.check_counts(log, [trace.Count("virtio_queue_notify", -2, 2, 5)], delim)[0],
                         r"virtio_queue_notify in window -2: 2\.\.5: 1")
        self.assertRegex(trace.check_counts(log, [trace.Count("virtio_queue_notify", 2, 0, 5)], delim)[0],
                         "2 windows")
        good = {"description": "d", "end": "quit", "markers": ["x"]}
        base = {"events": ["e"], "markers": ["m"], "delimiter": "d"}
        for spec, pattern in [
            ({**base, "counts": [{"event": "f", "window": 0, "min": 1, "max": 1}]}, "counts: each takes"),
            ({**base, "counts": [{"event": "e", "window": 0, "min": 2, "max": 1}]}, "counts: each takes"),
            ({**base, "counts": [{"event": "e", "window": 0, "min": 1}]}, "counts: each takes"),
            ({"events": ["e"], "markers": ["m"], "counts": [{"event": "e", "window": 0, "min": 1, "max": 1}]},
             "need a delimiter"),
            (base, "delimiter without counts"),
        ]:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(scenario.ScenarioError, pattern):
                    scenario.validate("t", {**good, "trace": spec}, Path("/b"))

    def test_qemu_args(self):
        self.assertEqual(trace.qemu_args(["a", "b"], Path("/r/t.log")), ["-trace", "a", "-trace", "b", "-D", "/r/t.log"])


class HostFacts(unittest.TestCase):
    def test_facts_have_the_shared_keys(self):
        f = host.facts()
        self.assertEqual(tuple(f), host.FACT_KEYS)
        self.assertTrue(all(isinstance(x, float) for x in f["loadavg_before"]))
        self.assertRegex(host.describe(f), r"^date .*; host CPU .* CPUs, Linux ")

    def test_old_result_files_read_with_todays_keys(self):
        files = sorted((HERE.parent.parent / "bench" / "results").glob("*.json"))
        self.assertTrue(files)
        for path in files:
            data = json.loads(path.read_text())
            all_facts = [data["facts"]] + [v["facts"] for v in (data.get("linux") or {}).values() if v]
            for facts in all_facts:
                with self.subTest(file=path.name):
                    n = host.normalize_facts(facts)
                    self.assertIn("qemu", n)
                    self.assertNotIn("qemu_version", n)
                    self.assertTrue(all(isinstance(x, float) for x in n.get("loadavg_before", [])))

    def test_meter(self):
        noise = host.Meter().start().stop()
        self.assertEqual(set(noise), {"wall_s", "loadavg", "qemu_cpu_s", "other_cpu_seconds"})


class QemuCommand(unittest.TestCase):
    def test_direct_kernel_boot_and_trace(self):
        cfg = qemu.QemuConfig(kernel=Path("/g/bzImage"), initrd=Path("/g/initrd"), append="console=ttyS0",
                              accel_opts="thread=single", smp=2, devices="none", serial="file:/r/s.log",
                              extra_args=["-device", "nvme"], trace_events=["pci_cfg_read"],
                              trace_log=Path("/r/t.log"))
        cmd = qemu.build_command(cfg)
        self.assertEqual(cmd[cmd.index("-accel") + 1], "tcg,thread=single")
        for a, b in [("-kernel", "/g/bzImage"), ("-initrd", "/g/initrd"), ("-append", "console=ttyS0"),
                     ("-smp", "2"), ("-D", "/r/t.log")]:
            self.assertEqual(cmd[cmd.index(a) + 1], b)
        self.assertEqual(cmd[-4:], ["-trace", "pci_cfg_read", "-D", "/r/t.log"])
        self.assertIn("isa-debug-exit,iobase=0xf4,iosize=0x04", cmd)   # the same machine as Sluice's
        with self.assertRaisesRegex(qemu.QemuError, "not both"):
            qemu.build_command(qemu.QemuConfig(image=Path("/i.iso"), kernel=Path("/k"), devices="none"))
        with self.assertRaisesRegex(qemu.QemuError, "trace log"):
            qemu.build_command(qemu.QemuConfig(devices="none", trace_events=["x"]))

    def test_exit_meanings(self):
        self.assertEqual(qemu.describe_exit(qemu.PANIC_EXIT_STATUS), "the kernel panicked (isa-debug-exit)")
        self.assertEqual(qemu.describe_exit(1), "QEMU error")


class BootLoop(unittest.TestCase):
    """harness.boot's loop against a stand-in for QEMU (a shell writing the serial log)."""

    def boot(self, script: str, timeout: float, until=None):
        def fake_command(cfg):
            log = cfg.serial[len("file:"):]
            return ["sh", "-c", script.replace("LOG", log)]
        with tempfile.TemporaryDirectory() as d, mock.patch.object(boot_mod, "build_command", fake_command):
            return boot_mod.boot(qemu.QemuConfig(devices="none"), Path(d), timeout, until=until, settle=0)

    def test_exit_by_itself(self):
        b = self.boot("printf 'a\\r\\nb\\n' > LOG; exit 3", 10)
        self.assertEqual((b.rc, b.stopped, b.timed_out, b.text), (3, False, False, "a\nb\n"))
        self.assertEqual(set(b.noise), {"wall_s", "loadavg", "qemu_cpu_s", "other_cpu_seconds"})

    def test_stopped_once_done_appears(self):
        b = self.boot("echo 'bench: done' > LOG; exec sleep 30", 20, until=re.compile("bench: done"))
        self.assertEqual((b.rc, b.stopped, b.timed_out), (0, True, False))
        self.assertLess(b.noise["wall_s"], 10)

    def test_timeout_kills(self):
        b = self.boot("echo starting > LOG; exec sleep 30", 1)
        self.assertEqual((b.rc, b.timed_out, b.text), (None, True, "starting\n"))


class DiskBytes(unittest.TestCase):
    def test_first_difference(self):
        a = bytes(200000)
        self.assertIsNone(images.first_difference(a, a))
        b = bytearray(a)
        b[70000] = 1
        b[150001] = 2
        self.assertEqual(images.first_difference(bytes(b), a, chunk=4096), (70000, 2))

    def test_raw_and_random(self):
        with tempfile.TemporaryDirectory() as d:
            p = images.ensure_raw(Path(d) / "x" / "d.img", 4096)
            self.assertEqual(p.stat().st_size, 4096)
            p.write_bytes(b"kept")
            images.ensure_raw(p, 4096)
            self.assertEqual(p.read_bytes(), b"kept")
        self.assertEqual(images.random_bytes(16, 5), images.random_bytes(16, 5))
        self.assertNotEqual(images.random_bytes(16, 5), images.random_bytes(16, 6))


class SerialLogFile(unittest.TestCase):
    def test_incremental_and_cleaned(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "serial.log"
            with serial.SerialLog(path) as log:
                self.assertEqual(log.read(), "")            # not there yet
                path.write_bytes(b"\x1b[2Jone\r\n")
                self.assertEqual(log.read(), "one\n")
                with open(path, "ab") as f:
                    f.write(b"two\r\n")
                self.assertEqual((log.read(), log.text), ("two\n", "one\ntwo\n"))
            self.assertEqual(serial.read_all(path), "one\ntwo\n")
            self.assertEqual(serial.read_all(Path(d) / "none"), "")


class Image(unittest.TestCase):
    def test_gpt_structures(self):
        total = 20480
        s = images.gpt_structures(total, 2048, total - 2049, "EFI System",
                                   images.guid_from("d"), images.guid_from("p"))
        mbr = s[0]
        self.assertEqual(mbr[510:512], b"\x55\xaa")
        self.assertEqual(mbr[446 + 4], 0xEE)
        for lba in (1, total - 1):
            hdr = s[lba]
            self.assertEqual(hdr[:8], b"EFI PART")
            fields = list(struct.unpack_from("<8sIIIIQQQQ16sQIII", hdr))
            crc = fields[3]
            fields[3] = 0
            self.assertEqual(zlib.crc32(struct.pack("<8sIIIIQQQQ16sQIII", *fields)), crc)
            self.assertEqual(fields[5], lba)
            entries = s[fields[10]]
            self.assertEqual(zlib.crc32(entries), fields[13])
            first, last = struct.unpack_from("<QQ", entries, 32)
            self.assertEqual((first, last), (2048, total - 2049))
            self.assertEqual(entries[:16], images.ESP_TYPE_GUID.bytes_le)

    def test_grub_cfg(self):
        cfg = images.grub_cfg("console=com1 a=b", ["m1", "m2"])
        for line in ["serial --unit=0 --speed=115200", "terminal_input serial console",
                     "terminal_output serial console", "set timeout=0",
                     "multiboot2 /boot/sluice-kernel console=com1 a=b",
                     "module2 /boot/modules/m1 m1", "module2 /boot/modules/m2 m2", "boot"]:
            self.assertIn(line, cfg)
        self.assertLess(cfg.index("m1 m1"), cfg.index("m2 m2"))



# --------------------------------------------------------------------------
# [network]: the schema, and the pcap check (which must fail on each kind of
# damage a frame can have).

def _csum(data: bytes, start: int = 0) -> int:
    if len(data) % 2:
        data += b"\0"
    s = start + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(payload: bytes = b"hello", src=b"\x0a\x00\x02\x0f", dst=b"\x0a\x00\x02\x02",
              sport: int = 40000, dport: int = 7) -> bytearray:
    udp = bytearray(struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0, src, dst))
    struct.pack_into("!H", ip, 10, _csum(bytes(ip)))
    pseudo = sum(struct.unpack("!4H", src + dst)) + 17 + len(udp)
    struct.pack_into("!H", udp, 6, _csum(bytes(udp), pseudo) or 0xFFFF)
    return bytearray(b"\x52\x55\x0a\x00\x02\x02" + b"\x52\x54\x00\x12\x34\x56" + b"\x08\x00") + ip + udp


def arp_frame(op: int = 1) -> bytearray:
    return bytearray(b"\xff" * 6 + b"\x52\x54\x00\x12\x34\x56" + b"\x08\x06"
                     + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + b"\x52\x54\x00\x12\x34\x56"
                     + b"\x0a\x00\x02\x0f" + b"\0" * 6 + b"\x0a\x00\x02\x02")


def pcap(*frames: bytes) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for f in frames:
        out += struct.pack("<IIII", 0, 0, len(f), len(f)) + bytes(f)
    return out


class Network(unittest.TestCase):
    GOOD = {"device": "virtio-net-pci", "pcap": True, "udp_forward": {"fwd": 7},
            "udp_echo": [{"forward": "fwd", "after": "ready", "payload": "sink={port:sink};", "random": 8}],
            "udp_sink": [{"port": "sink", "expect_hex": "{capture:sent}"}]}

    def test_good_capture_passes(self):
        problems, counts = network.check_pcap_bytes(pcap(arp_frame(1), arp_frame(2), udp_frame()))
        self.assertEqual(problems, [])
        self.assertEqual((counts["arp"], counts["udp"], counts["frames"]), (2, 1, 3))

    def test_each_kind_of_damage_fails(self):
        def damaged(offset: int, value: int) -> bytes:
            f = udp_frame()
            f[offset] ^= value
            return bytes(f)
        for name, frame, pattern in [
            ("ip header checksum", damaged(14 + 10, 0x01), "IPv4 header checksum wrong"),
            ("udp payload", damaged(14 + 20 + 8, 0x40), "UDP checksum .* wrong"),
            ("ip total length", damaged(14 + 3, 0x80), "IPv4 (total length|header checksum)"),
            ("runt", b"\x00" * 10, "no Ethernet header"),
            ("ethertype", damaged(12, 0x10), "EtherType"),
            ("arp op", bytes(arp_frame(3)), "ARP not"),
        ]:
            with self.subTest(name=name):
                problems, _ = network.check_pcap_bytes(pcap(arp_frame(), frame))
                self.assertTrue(any(re.search(pattern, p) for p in problems), problems)
        self.assertIn("no frames captured", network.check_pcap_bytes(pcap())[0])
        self.assertTrue(network.check_pcap_bytes(b"junk" * 8)[0])

    def test_markers_never_and_seen(self):
        capture = pcap(arp_frame(), udp_frame(b"xx-MINE-xx"))
        self.assertEqual(network.check_pcap_markers(capture, ["SECRET"], ["MINE"]), [])
        # a frame carrying a forbidden marker fails, naming the frame
        leaked = pcap(arp_frame(), udp_frame(b"..SECRET.."))
        self.assertTrue(any("frames [1] carry 'SECRET'" in p
                            for p in network.check_pcap_markers(leaked, ["SECRET"], [])))
        # a marker that must be seen and is not fails (the capture missed it)
        self.assertTrue(any("no frame carries 'MINE'" in p
                            for p in network.check_pcap_markers(pcap(arp_frame()), [], ["MINE"])))
        self.assertTrue(network.check_pcap_markers(b"junk" * 8, [], ["MINE"]))

    def test_dns_exchange(self):
        guest, dns = b"\x0a\x00\x02\x0f", b"\x0a\x00\x02\x03"
        question = network.dns_qname("deb.debian.org") + b"\0\1\0\1"

        def query(qid=b"\x12\x34", to=dns):
            return udp_frame(qid + b"\x01\x00\0\1\0\0\0\0\0\0" + question, guest, to, 49153, 53)

        def answer(address, qid=b"\x12\x34", src=dns):
            return udp_frame(qid + b"\x81\x80\0\1\0\1\0\0\0\0" + question + b"\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4"
                             + address, src, guest, 53, 49153)

        addr = bytes([151, 101, 2, 132])
        self.assertEqual(network.check_dns_exchange(pcap(arp_frame(), query(), answer(addr)), "deb.debian.org",
                                                    addr), [])
        for frames, pattern in [
            ((answer(addr),), "no A query"),                                  # no query
            ((query(to=b"\x08\x08\x08\x08"), answer(addr)), "no A query"),  # another server asked
            ((query(),), "no answer"),                                         # never answered
            ((query(), answer(bytes([1, 2, 3, 4]))), "no answer"),             # another address
            ((query(), answer(addr, qid=b"\x55\x55")), "no answer"),          # not this query's ID
            ((query(), answer(addr, src=b"\x0a\x00\x02\x02")), "no answer"),  # not from the resolver
        ]:
            with self.subTest(pattern=pattern, n=len(frames)):
                problems = network.check_dns_exchange(pcap(*frames), "deb.debian.org", addr)
                self.assertTrue(any(pattern in p for p in problems), problems)
        self.assertTrue(network.check_dns_exchange(pcap(query(), answer(addr)), "other.debian.org", addr))

    def test_resolve_needs_the_host(self):
        spec = network.parse({"pcap": True, "resolve": {"name": "no-such-host.invalid", "answer": "{capture:a}"}})
        net = network.Network.__new__(network.Network)
        net.spec, net.notes = spec, []
        failures = net.check_resolve({"a": "10.0.0.1"})
        self.assertTrue(failures and "the HOST cannot resolve it" in failures[0], failures)

    def test_schema(self):
        network.parse(self.GOOD)
        network.parse({**self.GOOD, "pcap_never": ["A"], "pcap_seen": ["B"]})
        network.parse({**self.GOOD, "resolve": {"name": "deb.debian.org", "answer": "{capture:addr}"}})
        self.assertIn("addr", network.captures_used(
            network.parse({**self.GOOD, "resolve": {"name": "deb.debian.org", "answer": "{capture:addr}"}})))
        for bad, pattern in [
            ({**self.GOOD, "resolve": {"name": "deb.debian.org"}}, "resolve ="),
            ({**self.GOOD, "resolve": {"name": "deb debian", "answer": "{capture:a}"}}, "resolve ="),
            ({**self.GOOD, "resolve": {"name": "deb.debian.org", "answer": "1.2.3.4"}}, "resolve ="),
            ({**self.GOOD, "pcap": False, "resolve": {"name": "deb.debian.org", "answer": "{capture:a}"}},
             "needs pcap"),
            ({**self.GOOD, "colour": 1}, "unknown keys"),
            ({**self.GOOD, "device": "e1000,netdev=x"}, "without netdev"),
            ({**self.GOOD, "pcap_min": {"arp": 1}, "pcap": False}, "needs pcap"),
            ({**self.GOOD, "pcap_min": {"frogs": 1}}, "pcap_min"),
            ({**self.GOOD, "pcap_never": ["A"], "pcap": False}, "needs pcap"),
            ({**self.GOOD, "pcap_seen": [""]}, "pcap_seen"),
            ({**self.GOOD, "pcap_never": "A"}, "pcap_never"),
            ({**self.GOOD, "udp_forward": {"fwd": 70000}}, "udp_forward"),
            ({**self.GOOD, "udp_echo": [{"forward": "nope", "after": "x", "random": 4}]}, "not in udp_forward"),
            ({**self.GOOD, "udp_echo": [{"forward": "fwd", "after": "(", "random": 4}]}, "bad regex"),
            ({**self.GOOD, "udp_echo": [{"forward": "fwd", "after": "x", "payload": "{port:zz}"}]},
             "names port 'zz'"),
            ({**self.GOOD, "udp_sink": [{"port": "fwd", "expect_hex": "00"}]}, "a name of its own"),
            ({**self.GOOD, "link": [{"after": "x", "up": "no"}]}, r"\[\[network.link\]\] #1"),
            ({**self.GOOD, "link": [{"after": "(", "up": False}]}, "bad regex"),
        ]:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(network.NetworkSpecError, pattern):
                    network.parse(bad)
        good = {"description": "d", "end": "quit", "markers": ["(?P<sent>x)"], "devices": [],
                "network": self.GOOD}
        scenario.validate("t", good, Path("/b"))
        with self.assertRaisesRegex(scenario.ScenarioError, "its own NIC"):
            scenario.validate("t", {**good, "devices": "default"}, Path("/b"))
        with self.assertRaisesRegex(scenario.ScenarioError, r"uses \{capture:sent\}"):
            scenario.validate("t", {**good, "markers": ["x"]}, Path("/b"))

    def test_peers_on_loopback(self):
        # The host side against a fake guest: the echo goes out once its
        # trigger appears, a wrong echo or no sink datagram fails.
        with tempfile.TemporaryDirectory() as d:
            net = network.Network(network.parse({**self.GOOD, "pcap": False}), Path(d))
            guest = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            guest.bind(("127.0.0.1", net.ports["fwd"]))
            try:
                net.poll("booting", 0.0)
                self.assertIsNone(net.sent[0])
                net.poll("ready", 1.0)
                data, addr = guest.recvfrom(2048)
                self.assertTrue(data.startswith(f"sink={net.ports['sink']};".encode()))
                guest.sendto(data[:-1] + bytes([data[-1] ^ 1]), addr)  # a wrong echo
                guest.sendto(b"\x01\x02", ("127.0.0.1", net.ports["sink"]))
                time.sleep(0.1)
                net.poll("ready", 2.0)
                self.assertFalse(net.done)
                failures = net.finish({"sent": "0102ff"})
                self.assertTrue(any("udp echo #1" in f for f in failures), failures)
                self.assertTrue(any("udp sink sink" in f for f in failures), failures)
                guest.sendto(data, addr)
                time.sleep(0.1)
                net.poll("ready", 3.0)
                self.assertTrue(net.done)
                self.assertEqual(net.finish({"sent": "0102"}), [])
            finally:
                guest.close()
                net.close()

    def test_link_changes_in_order(self):
        spec = network.parse({"link": [{"after": "first", "up": False}, {"after": "second", "up": True}]})
        with tempfile.TemporaryDirectory() as d:
            net = network.Network(spec, Path(d))
            try:
                self.assertIsNone(net.due_link_change("second"))  # the first must come first
                self.assertIs(net.due_link_change("first second"), False)
                self.assertFalse(net.done)
                self.assertIs(net.due_link_change("first second"), True)
                self.assertIsNone(net.due_link_change("first second"))
                self.assertTrue(net.done)
            finally:
                net.close()

    def test_echo_burst_needs_every_datagram(self):
        spec = network.parse({"udp_forward": {"fwd": 7}, "udp_echo": [
            {"forward": "fwd", "after": "ready", "payload": "b;", "random": 16, "count": 50}]})
        with tempfile.TemporaryDirectory() as d:
            net = network.Network(spec, Path(d))
            guest = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            guest.bind(("127.0.0.1", net.ports["fwd"]))
            guest.settimeout(2)
            try:
                net.poll("ready", 0.0)
                net.poll("ready", 0.05)  # paced: ECHO_PER_PASS a pass
                self.assertLess(network.ECHO_PER_PASS, 50)
                got = [guest.recvfrom(2048) for _ in range(50)]
                self.assertEqual(len({g[0] for g in got}), 50)  # each its own bytes
                for data, addr in got[:-1]:  # all but one come back
                    guest.sendto(data, addr)
                time.sleep(0.2)
                net.poll("ready", 1.0)
                self.assertFalse(net.done)
                self.assertTrue(any("49 of 50 datagrams" in f for f in net.finish({})))
                net.poll("ready", 1.0 + network.ECHO_RESEND_SECONDS)  # only the missing one goes again
                data, addr = guest.recvfrom(2048)
                self.assertEqual(data, got[-1][0])
                guest.sendto(data, addr)
                time.sleep(0.2)
                net.poll("ready", 9.0)
                self.assertTrue(net.done)
                self.assertEqual(net.finish({}), [])
            finally:
                guest.close()
                net.close()
        with self.assertRaisesRegex(network.NetworkSpecError, "count"):
            network.parse({"udp_forward": {"fwd": 7}, "udp_echo": [
                {"forward": "fwd", "after": "x", "payload": "same", "count": 3}]})

class TcpPeers(unittest.TestCase):
    """harness.tcp_peers against fake guests on loopback: each check must
    fail on a guest that gets it wrong."""

    @staticmethod
    def serve(port: int, handler) -> threading.Thread:
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", port))
        lsock.listen(1)

        def run():
            with lsock:
                conn, _ = lsock.accept()
                with conn:
                    handler(conn)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    @staticmethod
    def echo(corrupt: bool):
        def handler(conn):
            first = True
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                if corrupt and first:
                    data = bytes([data[0] ^ 1]) + data[1:]
                first = False
                conn.sendall(data)
        return handler

    def run_until_done(self, net, text: str, seconds: float = 20.0):
        end = time.monotonic() + seconds
        while not net.done and time.monotonic() < end:
            net.poll(text, time.monotonic())
            time.sleep(0.02)
        net.poll(text, time.monotonic())

    def test_schema(self):
        base = {"tcp_forward": {"e": 7}}
        network.parse({**base, "tcp_stream": [{"forward": "e", "after": "x", "random": 10, "expect": "echo"}]})
        for bad, pattern in [
            ({"tcp_forward": {"e": 0}}, "tcp_forward"),
            ({"udp_forward": {"e": 7}, "tcp_forward": {"e": 7}}, "tcp_forward"),
            ({**base, "tcp_stream": [{"forward": "x", "after": "x", "random": 1, "expect": "echo"}]},
             "not in tcp_forward"),
            ({**base, "tcp_stream": [{"forward": "e", "after": "x", "expect": "echo"}]}, "nothing to send"),
            ({**base, "tcp_stream": [{"forward": "e", "after": "x", "random": 1, "expect": "same"}]}, "expect"),
            ({**base, "tcp_stream": [{"forward": "e", "after": "x", "random": -1, "expect": "echo"}]}, "random"),
            ({**base, "tcp_stream": [{"forward": "e", "after": "(", "random": 1, "expect": "echo"}]}, "bad regex"),
            ({**base, "tcp_sink": [{"port": "e", "expect": "{capture:x}"}]}, "a name of its own"),
            ({**base, "tcp_sink": [{"port": "s", "expect": "echo"}]}, "expect"),
            ({**base, "http_get": [{"forward": "e", "after": "x", "path": "status"}]}, "path"),
            ({**base, "http_get": [{"forward": "e", "after": "x", "path": "/s", "hold": True}]}, "hold"),
            ({**base, "http_get": [{"forward": "e", "after": "x", "path": "/", "method": "POST"}]}, "method"),
            ({**base, "http_get": [{"forward": "e", "after": "x", "path": "/", "method": "GET", "request": "x"}]},
             "method"),
            ({**base, "http_get": [{"forward": "e", "after": "x", "path": "/", "status": 99}]}, "status"),
            ({**base, "http_get": [{"forward": "e", "after": "x", "path": "/", "request": ""}]}, "request"),
            ({**base, "http_get": [{"forward": "e", "after": "x", "path": "/", "silent": 17}]}, "silent"),
        ]:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(network.NetworkSpecError, pattern):
                    network.parse(bad)

    def test_stream_echo_checked_by_sha256(self):
        for corrupt in (False, True):
            with self.subTest(corrupt=corrupt), tempfile.TemporaryDirectory() as d:
                spec = network.parse({"tcp_forward": {"e": 7}, "tcp_stream": [
                    {"forward": "e", "after": "ready", "payload": "p={port:e};", "random": 1 << 20,
                     "expect": "echo"}]})
                net = network.Network(spec, Path(d))
                try:
                    self.serve(net.ports["e"], self.echo(corrupt))
                    net.poll("booting", 0.0)
                    self.assertFalse(net.tcp.stream_peers[0].started)
                    self.run_until_done(net, "ready")
                    self.assertTrue(net.done)
                    failures = net.finish({})
                    if corrupt:
                        self.assertTrue(any("tcp stream #1: sent" in f for f in failures), failures)
                    else:
                        self.assertEqual(failures, [])
                        self.assertTrue(any("echoed, sha256" in n for n in net.notes), net.notes)
                finally:
                    net.close()

    @staticmethod
    def guest_to_sink(port: int, payload: bytes) -> bytes:
        """A guest's connection to a sink: sends payload, half-closes, and
        returns what the sink sent."""
        with socket.create_connection(("127.0.0.1", port)) as guest:
            guest.sendall(payload)
            guest.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := guest.recv(65536):
                got += chunk
        return got

    def test_sink_checks_what_the_guest_sent(self):
        payload = b"from the guest " * 1000
        digest = hashlib.sha256(payload).hexdigest()
        for want, ok in ((digest, True), ("0" * 64, False)):
            with self.subTest(ok=ok), tempfile.TemporaryDirectory() as d:
                spec = network.parse({"tcp_sink": [{"port": "s", "random": 5000, "expect": "{capture:sha}"}]})
                net = network.Network(spec, Path(d))
                try:
                    got = self.guest_to_sink(net.ports["s"], payload)
                    self.assertEqual(len(got), 5000)
                    self.run_until_done(net, "")
                    failures = net.finish({"sha": want})
                    self.assertEqual(failures == [], ok, failures)
                finally:
                    net.close()
        # guest_received: the sha256 the guest logged for what it got must
        # be that of what the sink sent it.
        for lie, ok in ((False, True), (True, False)):
            with self.subTest(guest_received_lie=lie), tempfile.TemporaryDirectory() as d:
                spec = network.parse({"tcp_sink": [{"port": "s", "random": 5000, "expect": "{capture:sha}",
                                                    "guest_received": "{capture:rx}"}]})
                self.assertIn("rx", network.captures_used(spec))
                net = network.Network(spec, Path(d))
                try:
                    got = self.guest_to_sink(net.ports["s"], payload)
                    self.run_until_done(net, "")
                    rx = hashlib.sha256(got[:-1] if lie else got).hexdigest()
                    failures = net.finish({"sha": digest, "rx": rx})
                    self.assertEqual(failures == [], ok, failures)
                    if not ok:
                        self.assertTrue(any("the guest reports" in f for f in failures), failures)
                finally:
                    net.close()
        with tempfile.TemporaryDirectory() as d:  # a guest that never connects
            net = network.Network(network.parse({"tcp_sink": [{"port": "s", "expect": "0" * 64}]}), Path(d))
            net.close()
            time.sleep(0.1)
            self.assertTrue(any("tcp sink s" in f for f in net.finish({})))

    def test_http_get_wants_json_naming_things(self):
        for body, ctype, ok in [(b'{"devices": ["nvme0", "virtio-net"]}', "application/json", True),
                                (b'{"devices": ["nvme0"]}', "application/json", False),
                                (b'not json', "application/json", False),
                                (b'{"devices": ["nvme0", "virtio"]}', "text/plain", False)]:
            with self.subTest(body=body, ctype=ctype), tempfile.TemporaryDirectory() as d:
                spec = network.parse({"tcp_forward": {"web": 80}, "http_get": [
                    {"forward": "web", "after": "http: listening", "path": "/status",
                     "contains": ["nvme", "virtio"]}]})
                net = network.Network(spec, Path(d))

                def handler(conn, body=body, ctype=ctype):
                    request = b""
                    while b"\r\n\r\n" not in request:
                        request += conn.recv(4096)
                    assert request.startswith(b"GET /status HTTP/1.1\r\n"), request
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype.encode()
                                 + b"\r\nContent-Length: " + str(len(body)).encode()
                                 + b"\r\nConnection: close\r\n\r\n" + body)
                try:
                    self.serve(net.ports["web"], handler)
                    self.run_until_done(net, "http: listening")
                    failures = net.finish({})
                    self.assertEqual(failures == [], ok, failures)
                finally:
                    net.close()

    @staticmethod
    def serve_many(port: int, handler) -> None:
        """A fake guest taking every connection, each in a thread."""
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", port))
        lsock.listen(16)

        def one(conn):
            with conn:
                handler(conn)

        def run():
            with lsock:
                while True:
                    conn, _ = lsock.accept()
                    threading.Thread(target=one, args=(conn,), daemon=True).start()
        threading.Thread(target=run, daemon=True).start()

    def http_case(self, get: dict, handler, ok: bool, io_timeout: float | None = None):
        with tempfile.TemporaryDirectory() as d:
            spec = network.parse({"tcp_forward": {"web": 80},
                                  "http_get": [{"forward": "web", "after": "ready", "path": "/status", **get}]})
            net = network.Network(spec, Path(d))
            saved = tcp_peers.IO_TIMEOUT_SECONDS
            if io_timeout is not None:
                tcp_peers.IO_TIMEOUT_SECONDS = io_timeout
            try:
                self.serve_many(net.ports["web"], handler)
                self.run_until_done(net, "ready")
                failures = net.finish({})
                self.assertEqual(failures == [], ok, failures)
                return net.notes
            finally:
                tcp_peers.IO_TIMEOUT_SECONDS = saved
                net.close()

    @staticmethod
    def answer(first_line: bytes, status: bytes, body: bytes, send_body: bool = True, length: int | None = None):
        def handler(conn):
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            if not request.startswith(first_line):
                return  # closed with no response: the peer fails
            n = len(body) if length is None else length
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(n).encode() + b"\r\nConnection: close\r\n\r\n" + (body if send_body else b""))
        return handler

    def test_http_head_status_and_raw_requests(self):
        doc = b'{"uptime_ms": 1}'
        cases = [
            ({"method": "HEAD"}, self.answer(b"HEAD /status HTTP/1.1\r\n", b"200 OK", doc, False), True),
            ({"method": "HEAD"}, self.answer(b"HEAD /status HTTP/1.1\r\n", b"200 OK", doc, True), False),
            ({"method": "HEAD"}, self.answer(b"HEAD /status HTTP/1.1\r\n", b"200 OK", b"", False), False),
            ({"status": 404}, self.answer(b"GET /status ", b"404 Not Found", b'{"error":404}'), True),
            ({"status": 404}, self.answer(b"GET /status ", b"200 OK", doc), False),
            ({}, self.answer(b"GET /status ", b"200 OK", doc, length=99), False),
            ({"request": "BOGUS\r\n\r\n", "status": 400, "contains": ["400"]},
             self.answer(b"BOGUS\r\n", b"400 Bad Request", b'{"error":400}'), True),
            ({"request": "BOGUS\r\n\r\n", "status": 400},
             self.answer(b"BOGUS\r\n", b"200 OK", doc), False),
        ]
        for get, handler, ok in cases:
            with self.subTest(get=get, ok=ok):
                self.http_case(get, handler, ok)

    def test_http_silent_connections_must_be_closed_by_the_guest(self):
        doc = b'{"uptime_ms": 1}'
        reply = self.answer(b"GET /status ", b"200 OK", doc)

        def closes_idle(conn):
            conn.settimeout(0.3)
            try:
                conn.recv(1, socket.MSG_PEEK)
            except socket.timeout:
                return  # an idle client: closed
            conn.settimeout(None)
            reply(conn)

        def never_closes(conn):
            time.sleep(3)
        notes = self.http_case({"silent": 3}, closes_idle, True)
        self.assertTrue(any("after 3 silent connections closed by the guest" in n for n in notes), notes)
        self.http_case({"silent": 3}, never_closes, False, io_timeout=1.0)


class Lanes(unittest.TestCase):
    """[lanes.vtd]: the same scenario behind QEMU's intel-iommu."""

    GOOD = {"description": "d", "end": "poweroff", "markers": ["x"]}

    def test_lane_schema(self):
        sc = scenario.validate("t", {**self.GOOD, "lanes": {"vtd": {"markers": ["granted"]}}}, Path("/b"))
        on = scenario.on_lane(sc, "vtd")
        self.assertEqual(on.name, "t.vtd")
        self.assertEqual(on.lane, "vtd")
        self.assertEqual(len(on.lane_markers), 3)  # the lane's own two, then the scenario's
        self.assertTrue(any(f.pattern.startswith("vtd: unit") for f in on.forbidden))
        self.assertIn("vtd_dmar_translate", on.trace_events)
        self.assertEqual([m.pattern for m in on.trace_markers], ["vtd_dmar_enable enable 1", "vtd_ir_enable enable 1"])
        for bad, pattern in [({"smmu": {}}, "unknown lane"), ({"vtd": {"colour": 1}}, r"takes"),
                             ({"vtd": []}, r"takes"), ([1], "table of lanes")]:
            with self.assertRaisesRegex(scenario.ScenarioError, pattern):
                scenario.validate("t", {**self.GOOD, "lanes": bad}, Path("/b"))
        with self.assertRaisesRegex(scenario.ScenarioError, "no \\[lanes.vtd\\]"):
            scenario.on_lane(scenario.validate("t", self.GOOD, Path("/b")), "vtd")

    def test_qemu_gets_the_unit_and_virtio_goes_through_it(self):
        cmd = ["qemu", "-machine", "q35", "-nodefaults", "-device", "nvme,serial=x",
               "-device", "virtio-blk-pci,drive=a", "-device", "virtio-net-pci", "-device", "pcie-root-port,id=r"]
        out = qemu.with_iommu(cmd)
        self.assertEqual(out[out.index("-nodefaults") + 1:out.index("-nodefaults") + 3], ["-device", "intel-iommu"])
        self.assertIn("virtio-blk-pci,drive=a,iommu_platform=on,disable-legacy=on", out)
        self.assertIn("virtio-net-pci,iommu_platform=on,disable-legacy=on", out)
        self.assertIn("nvme,serial=x", out)
        self.assertIn("pcie-root-port,id=r", out)
        with self.assertRaisesRegex(qemu.QemuError, "adds intel-iommu itself"):
            qemu.with_iommu(cmd + ["-device", "intel-iommu"])
        with self.assertRaisesRegex(qemu.QemuError, "sets iommu_platform"):
            qemu.with_iommu(cmd + ["-device", "virtio-blk-pci,iommu_platform=off"])

    def lane_check(self, log: str, trace_text: str) -> runner.Run:
        with tempfile.TemporaryDirectory() as d:
            run = runner.Run(scenario.validate("t", self.GOOD, Path("/b")), "tcg", Path(d))
            (Path(d) / "qemu-trace.log").write_text(trace_text)
            runner.check_lane_translation(run, log)
            return run

    def test_every_granted_device_was_translated(self):
        log = ("dma: 00:01.0 granted DMA (session 1, bounce lane, quota 8192 KiB, vtd unit 0 domain 1: its ranges "
               "only): bus mastering on\n"
               "dma: 01:00.0 granted DMA (session 2, bounce lane, quota 4096 KiB, vtd unit 0 domain 2: its ranges "
               "only): bus mastering on\n")
        both = ("12@1.000001:vtd_dmar_translate dev 00:01.00 iova 0x1000 -> gpa 0x1000 mask 0xfff\n"
                "12@1.000002:vtd_dmar_translate dev 01:00.00 iova 0x2000 -> gpa 0x2000 mask 0xfff\n")
        self.assertEqual(self.lane_check(log, both).failures, [])
        one = self.lane_check(log, both.splitlines()[0] + "\n")
        self.assertTrue(any("01:00.0" in f and "around the IOMMU" in f for f in one.failures), one.failures)
        with tempfile.TemporaryDirectory() as d:
            run = runner.Run(scenario.validate("t", self.GOOD, Path("/b")), "tcg", Path(d))
            (Path(d) / "qemu-trace.log").write_text(both.splitlines()[0] + "\n")
            runner.check_lane_translation(run, log, every=False)  # an idle grant: noted, not failed
            self.assertEqual(run.failures, [])
            self.assertTrue(any("01:00.0 granted DMA but made no access" in n for n in run.notes), run.notes)
        none = self.lane_check("dma: 00:01.0 granted DMA (session 1, bounce lane, quota 8 KiB): bus", both)
        self.assertTrue(any("no function was granted DMA in a remapping domain" in f for f in none.failures))


class DmaTargets(unittest.TestCase):
    """The page a Model B provider aims its device at is compared with the
    kernel's ELF file: unchanged passes, one changed byte fails."""

    @staticmethod
    def elf(segments):
        """A minimal ELF64 with PT_LOAD segments (paddr, flags, bytes)."""
        phoff, phentsize = 64, 56
        data_at = phoff + phentsize * len(segments)
        header = bytearray(64)
        header[:5] = b"\x7fELF\x02"
        struct.pack_into("<Q", header, 0x20, phoff)
        struct.pack_into("<HH", header, 0x36, phentsize, len(segments))
        phdrs, body = bytearray(), bytearray()
        for paddr, flags, content in segments:
            phdrs += struct.pack("<IIQQQQQQ", 1, flags, data_at + len(body), paddr, paddr, len(content),
                                 len(content), 0x1000)
            body += content
        return bytes(header + phdrs + body)

    def test_elf_bytes_at(self):
        code = bytes(range(256)) * 32  # 8 KiB of "code"
        elf = self.elf([(0x208000, 5, code), (0x300000, 6, b"\0" * 4096)])
        self.assertEqual(checks.elf_bytes_at(elf, 0x209000, 4096), code[0x1000:0x2000])
        self.assertIsNone(checks.elf_bytes_at(elf, 0x209800, 4096))  # past the segment
        self.assertIsNone(checks.elf_bytes_at(elf, 0x300000, 16))     # writable: changes at run time
        self.assertIsNone(checks.elf_bytes_at(b"not an elf", 0, 4))

    def test_check_fails_when_the_device_wrote(self):
        code = bytes(range(256)) * 32
        with tempfile.TemporaryDirectory() as d:
            kernel = Path(d) / "kernel"
            kernel.write_bytes(self.elf([(0x208000, 5, code)]))
            log = "provider: model B: aiming identify at IOVA 0x209000, outside the domain\n"

            class FakeQmp:
                def __init__(self, memory):
                    self.memory = memory

                def hmp(self, command):
                    words = struct.unpack("<1024I", self.memory)
                    return "\n".join(f"{0x209000 + i * 4:016x}: " + " ".join(f"0x{w:08x}" for w in words[i:i + 4])
                                     for i in range(0, 1024, 4))

            page = code[0x1000:0x2000]
            self.assertEqual(runner.kernel_code_check(FakeQmp(page), log, kernel), [])
            written = b"QEMU NVMe Ctrl" + page[14:]
            diffs = runner.kernel_code_check(FakeQmp(written), log, kernel)
            self.assertTrue(diffs and "differ from the kernel's code" in diffs[0], diffs)


if __name__ == "__main__":
    unittest.main()
