#!/usr/bin/env python3
"""Turns the `acpidump` lines a kernel booted with `acpi.dump` prints into
binary table files: capture_acpi.py <serial.log> <out-dir> <prefix>.
Used to refresh tests/unit/data/acpi from a real QEMU machine."""
import pathlib
import re
import sys


def main() -> int:
    log, out, prefix = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    out.mkdir(parents=True, exist_ok=True)
    current, expected, data = None, 0, bytearray()
    tables = []
    for line in open(log, errors="replace"):
        m = re.search(r"acpidump ([A-Z0-9 ]{4}) (\d+)\s*$", line)
        if m:
            current, expected, data = m.group(1).strip(), int(m.group(2)), bytearray()
            tables.append((current, expected, data))
            continue
        m = re.search(r"acpidump ([0-9a-f]+)\s*$", line)
        if m and current:
            data.extend(bytes.fromhex(m.group(1)))
    for sig, size, body in tables:
        if len(body) != size:
            print(f"{sig}: expected {size} bytes, got {len(body)}", file=sys.stderr)
            return 1
        (out / f"{prefix}-{sig}.bin").write_bytes(body)
        print(f"{prefix}-{sig}.bin {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
