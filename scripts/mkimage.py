#!/usr/bin/env python3
"""Build a bootable Sluice image: kernel ELF + command line + boot modules.

    mkimage.py --format iso|uefi --kernel build/kernel/sluice-kernel \\
        --cmdline "console=com1 loglevel=info" --module NAME=PATH ... --out FILE

The CLI of harness.images (scripts/harness/images.py), which says what each
format holds; `make image` uses it, the scenario runner and the benchmarks
call harness.images.build_image directly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import images  # noqa: E402


def parse_module_spec(spec: str) -> tuple[str, Path]:
    if "=" not in spec:
        raise images.ImageError(f"--module expects NAME=PATH, got {spec!r}")
    name, path = spec.split("=", 1)
    return name, Path(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build a bootable Sluice image (GRUB, multiboot2).")
    p.add_argument("--format", choices=["iso", "uefi"], required=True)
    p.add_argument("--kernel", type=Path, required=True, help="kernel ELF (multiboot2)")
    p.add_argument("--cmdline", default="", help="kernel command line")
    p.add_argument("--module", action="append", default=[], metavar="NAME=PATH",
                   help="boot module (repeatable); NAME is the module string and file name")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="where the GRUB EFI binary is cached (default: <out dir>/image-cache)")
    a = p.parse_args(argv)
    try:
        modules = [parse_module_spec(s) for s in a.module]
        images.build_image(a.format, a.kernel, a.cmdline, modules, a.out, a.cache_dir)
    except images.ImageError as e:
        print(f"mkimage: error: {e}", file=sys.stderr)
        return 1
    print(f"mkimage: wrote {a.out} ({a.format}, {len(modules)} module(s), "
          f"cmdline {a.cmdline!r})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
