#!/usr/bin/env python3
# Usage: gen_acpi_fuzz_seeds.py tests/fuzz/corpus/acpi
# Seed generator for tests/fuzz/corpus/acpi (mirrors the QEMU 7.2 q35 tables
# rebuilt in tests/unit/acpi_test.cc). Byte 0 of each seed is the fuzzer mode.
import struct, sys, os
out = sys.argv[1]
def table(sig, body, rev=1):
    hdr = bytearray(sig.encode() + struct.pack('<IBB', 36 + len(body), rev, 0) + b'BOCHS ' + b'BXPC    ' + struct.pack('<I', 1) + b'BXPC' + struct.pack('<I', 1))
    t = hdr + body
    t[9] = (-sum(t)) & 0xff
    return bytes(t)
madt = struct.pack('<II', 0xFEE00000, 1)
for uid in range(3): madt += struct.pack('<BBBBI', 0, 8, uid, uid, 1 if uid < 2 else 0)
madt += struct.pack('<BBBBII', 1, 12, 0, 0, 0xFEC00000, 0)
madt += struct.pack('<BBBBIH', 2, 10, 0, 0, 2, 0)
for irq in (5, 9, 10, 11): madt += struct.pack('<BBBBIH', 2, 10, 0, irq, irq, 0xD)
madt += struct.pack('<BBBHB', 4, 6, 0xFF, 0, 1)
madt += struct.pack('<BBHIII', 9, 16, 0, 0x100, 1, 0) + struct.pack('<BBHQ', 5, 12, 0, 0xFEE00000)
mcfg = bytes(8) + struct.pack('<QHBBI', 0xB0000000, 0, 0, 255, 0)
devs = [(1,0,0,0),(1,0,1,0),(1,0,2,0),(2,0,3,0),(1,0,4,0),(1,0,0x1f,0),(1,0,0x1f,2),(1,0,0x1f,3)]
dmar = struct.pack('<BB', 38, 1) + bytes(10)
dmar += struct.pack('<HHBBHQ', 0, 16 + 8 + 8 * len(devs), 0, 0, 0, 0xFED90000)
dmar += struct.pack('<BBHBBBB', 3, 8, 0, 0, 0xFF, 0, 0)
for t_, b, d, f in devs: dmar += struct.pack('<BBHBBBB', t_, 8, 0, 0, b, d, f)
dmar += struct.pack('<HHBBHQ', 0, 16 + 10, 1, 0, 0, 0xFED91000) + struct.pack('<BBHBBBBBB', 1, 10, 0, 0, 0, 3, 0, 0, 0)
dmar += struct.pack('<HHIQQ', 1, 24, 0, 0x7F000000, 0x7F0FFFFF) + struct.pack('<HHBBH', 2, 8, 1, 0, 0)
fadt = struct.pack('<IIBBHIBBBBIIIIIIII', 0x7FFE0000, 0x7FFE0040, 0, 0, 9, 0xB2, 2, 3, 0, 0, 0x600, 0, 0x604, 0, 0, 0x608, 0x620, 0)
fadt += bytes([4, 2, 0, 4, 0x10, 0, 0, 0]) + struct.pack('<HHHHBBBBBHBI', 0xFFF, 0xFFF, 0, 0, 0, 0, 0, 0, 0x32, 2, 0, 0x84A5)
fadt += struct.pack('<BBBBQBHB', 1, 8, 0, 0, 0xCF9, 0x0F, 0, 0) + struct.pack('<QQ', 0x7FFE0000, 0x7FFE0040)
for port in (0x600, 0, 0x604, 0, 0, 0x608, 0x620, 0): fadt += struct.pack('<BBBBQ', 1 if port else 0, 0, 0, 0, port)
assert 36 + len(fadt) == 244
def name_pkg(name, elems, n):
    body = bytes([n]) + bytes(elems)
    return b'\x08' + name + b'\x12' + bytes([len(body) + 1]) + body
names = name_pkg(b'_S3_', [1, 1, 0, 0], 4) + name_pkg(b'_S4_', [0x0A, 2, 0, 0, 0], 4) + name_pkg(b'_S5_', [0, 0, 0, 0], 4)
aml = bytes([0x14, 0x0B]) + b'PTS_' + bytes([0, 0x70]) + b'_S5_' + bytes([0x60])
aml += bytes([0x10, len(names) + 2]) + b'\\' + names
dsdt = table('DSDT', aml)
rsdt = table('RSDT', struct.pack('<III', 0x7FFE1000, 0x7FFE2000, 0x7FFE3000))
xsdt = table('XSDT', struct.pack('<QQ', 0x7FB7D000, 0x100002000))
def rsdp(rev, rsdt_a, xsdt_a):
    b = bytearray(b'RSD PTR ' + b'\0' + b'BOCHS ' + bytes([rev]) + struct.pack('<IIQ', rsdt_a, 36, xsdt_a) + bytes(4))
    b[8] = (-sum(b[:20])) & 0xff
    b[32] = (-sum(b)) & 0xff
    return bytes(b if rev >= 2 else b[:20])
seeds = {
    'rsdt': (0, rsdt), 'xsdt': (1, xsdt), 'madt': (2, table('APIC', madt)), 'mcfg': (3, table('MCFG', mcfg)),
    'dmar': (4, table('DMAR', dmar)), 'fadt': (5, table('FACP', fadt, 3)), 'dsdt': (6, dsdt),
    'rsdp_v1': (7, rsdp(0, 0x7FFE1F00, 0)), 'rsdp_v2': (7, rsdp(2, 0x7FB7E074, 0x7FB7E0E8)),
}
os.makedirs(out, exist_ok=True)
for name, (idx, data) in seeds.items():
    open(os.path.join(out, f'raw_{name}.bin'), 'wb').write(bytes([0x00]) + data)
    open(os.path.join(out, f'fixup_{name}.bin'), 'wb').write(bytes([0x80 | idx]) + data)
open(os.path.join(out, 'raw_aml_s5.bin'), 'wb').write(bytes([0x00]) + aml)
# Capacity overflow seeds: more entries than the fixed arrays hold.
big_madt = struct.pack('<II', 0xFEE00000, 1)
for i in range(70): big_madt += struct.pack('<BBHIII', 9, 16, 0, i, 1, i)
for i in range(9): big_madt += struct.pack('<BBBBII', 1, 12, i, 0, 0xFEC00000 + i * 0x1000, i * 24)
for i in range(17): big_madt += struct.pack('<BBBBIH', 2, 10, 0, i, i, 0)
big_mcfg = bytes(8) + b''.join(struct.pack('<QHBBI', 0xB0000000 + (i << 28), i, 0, 255, 0) for i in range(9))
big_dmar = struct.pack('<BB', 45, 3) + bytes(10)
scopes = b''.join(struct.pack('<BBHBBBB', 1, 8, 0, 0, 0, d, 0) for d in range(20))
big_dmar += struct.pack('<HHBBHQ', 0, 16 + len(scopes), 0, 0, 0, 0xFED90000) + scopes
long_path = struct.pack('<BBHBB', 2, 6 + 2 * 10, 0, 0, 0) + bytes(20)
big_dmar += struct.pack('<HHBBHQ', 0, 16 + len(long_path), 0, 0, 1, 0xFED91000) + long_path
for i in range(8): big_dmar += struct.pack('<HHBBHQ', 0, 16, 1, 0, i, 0xFED92000 + i * 0x1000)
for name, idx, data in (('madt_full', 2, table('APIC', big_madt)), ('mcfg_full', 3, table('MCFG', big_mcfg)),
                        ('dmar_full', 4, table('DMAR', big_dmar))):
    open(os.path.join(out, f'raw_{name}.bin'), 'wb').write(bytes([0x00]) + data)
    open(os.path.join(out, f'fixup_{name}.bin'), 'wb').write(bytes([0x80 | idx]) + data)
