#!/usr/bin/env python3
"""Regenerates the hostile ACPI tables that scenario acpi_malformed injects
with QEMU's -acpitable (QEMU recomputes the checksum, so the damage is in
the body): a DMAR whose first remapping structure claims length 2, and a
second MCFG that must not replace the firmware's."""
import pathlib
import struct

HERE = pathlib.Path(__file__).parent


def table(sig: bytes, oem_table: bytes, body: bytes) -> bytes:
    t = bytearray(sig + struct.pack("<IBB", 36 + len(body), 1, 0) + b"SLUICE" + oem_table +
                  struct.pack("<I", 1) + b"SLCE" + struct.pack("<I", 1) + body)
    t[9] = (-sum(t)) & 0xFF
    return bytes(t)


dmar = struct.pack("<BB", 38, 0) + bytes(10) + struct.pack("<HH", 0, 2) + bytes(12)
mcfg = bytes(8) + struct.pack("<QHBBI", 0xB0000000, 0, 0, 255, 0)
(HERE / "acpi-dmar-malformed.bin").write_bytes(table(b"DMAR", b"BADDMAR ", dmar))
(HERE / "acpi-mcfg-duplicate.bin").write_bytes(table(b"MCFG", b"BADSUM  ", mcfg))
