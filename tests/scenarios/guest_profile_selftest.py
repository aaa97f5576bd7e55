#!/usr/bin/env python3
"""Self-test of bench/guest_profile.py (the host side of the kernel's
sampling profiler, kernel/debug/profiler.h) on canned serial-log lines;
no QEMU. Kernel addresses are named with the build's own kernel ELF and a
process's with build/user/<name>, so the test takes real addresses from
them (nm) and checks the names that come back, the per-process shares and
that every dump in a log is read.

    python3 tests/scenarios/guest_profile_selftest.py BUILD_DIR [-v]
"""
from __future__ import annotations

import subprocess
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "bench"))

import guest_profile  # noqa: E402

BUILD = Path(sys.argv.pop(1)) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else REPO / "build"


def address_of(elf: Path, fragment: str) -> int:
    """The address of the first function whose demangled name holds `fragment`."""
    out = subprocess.run(["nm", "-C", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tT" and (parts[2].startswith(fragment) or "::" + fragment in parts[2]):
            return int(parts[0], 16)
    raise AssertionError(f"no function with {fragment!r} in {elf}")


class GuestProfile(unittest.TestCase):
    def setUp(self):
        self.kernel = BUILD / "kernel" / "sluice-kernel"
        self.hello = BUILD / "user" / "hello"
        for f in (self.kernel, self.hello):
            if not f.is_file():
                self.fail(f"{f} is not built")

    def log(self, idle_rip: int, hello_rip: int) -> str:
        return "\n".join([
            "[    1.0] I profile: begin (hello): 100 samples, 0 not placed",
            "[    1.0] I profile: process pid 0 idle 75",
            "[    1.0] I profile: process pid 1 hello 25",
            f"[    1.0] I profile: 75 pid 0 idle rip 0x{idle_rip:x}",
            f"[    1.0] I profile: 20 pid 1 hello rip 0x{hello_rip:x}",
            f"[    1.0] I profile: 5 pid 1 hello rip 0x{hello_rip + 1:x}",
            "[    1.0] I profile: end",
            "[    2.0] I profile: begin (shell): 10 samples, 0 not placed",
            "[    2.0] I profile: process pid 0 idle 10",
            f"[    2.0] I profile: 10 pid 0 idle rip 0x{idle_rip:x}",
            "[    2.0] I profile: end",
        ])

    def test_names_come_from_the_right_elf(self):
        idle = address_of(self.kernel, "run_idle")
        main = address_of(self.hello, "main(")
        dumps = guest_profile.parse(self.log(idle, main))
        self.assertEqual([d["why"] for d in dumps], ["hello", "shell"])
        self.assertEqual(dumps[0]["totals"], {(0, "idle"): 75, (1, "hello"): 25})
        text = guest_profile.report(dumps[0], BUILD, 10)
        self.assertIn("per process: idle 75.0%, hello 25.0%", text)
        self.assertRegex(text, r"75\.0%\s+idle \(in the kernel\)\s+sched::run_idle")
        # Two instructions of one function are one row.
        self.assertRegex(text, r"25\.0%\s+hello\s+main")

    def test_a_log_without_a_profile_gives_nothing(self):
        self.assertEqual(guest_profile.parse("[ 0.1] I boot: complete\n"), [])

    def test_an_unbuilt_process_is_said_not_hidden(self):
        dumps = guest_profile.parse("profile: begin (ghost): 1 samples, 0 not placed\n"
                                    "profile: process pid 7 ghost 1\nprofile: 1 pid 7 ghost rip 0x401000\n")
        self.assertIn("ghost not built", guest_profile.report(dumps[0], BUILD, 5))


if __name__ == "__main__":
    unittest.main()
