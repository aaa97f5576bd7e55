#!/usr/bin/env python3
"""Run one QEMU scenario (a .toml file next to this script) against a kernel.

    run_scenario.py --build-dir build --kernel build/kernel/sluice-kernel \\
                    [--accel tcg|kvm] [--lane vtd] [--keep] [--verbose] tests/scenarios/boot_bios.toml

The CLI of harness.runner (scripts/harness/runner.py), which builds the
scenario's image, boots it, watches and checks it; harness.scenario defines
the schema (documented in docs/testing.md).

Exit status 0 = pass, 1 = fail, 2 = bad scenario/usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "scripts"))

from harness import runner  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run one Sluice QEMU scenario.")
    p.add_argument("--build-dir", type=Path, required=True)
    p.add_argument("--kernel", type=Path, required=True)
    p.add_argument("--accel", choices=["tcg", "kvm"], default="tcg")
    p.add_argument("--lane", help="run on another DMA lane, one of the scenario's [lanes] (vtd)")
    p.add_argument("--keep", action="store_true", help="keep the run directory on success")
    p.add_argument("--verbose", "-v", action="store_true", help="echo the serial log live")
    p.add_argument("scenario", type=Path)
    a = p.parse_args(argv)
    return runner.run_scenario(a.scenario, a.build_dir, a.kernel, a.accel, a.keep, a.verbose, a.lane)


if __name__ == "__main__":
    sys.exit(main())
