"""The host's half of the "zero lost acknowledged writes" test (issue 13):
seqwriter's records (user/tests/seqwriter/record.h) recomputed and checked
in a disk image after QEMU exits ([[record_checks]] in a scenario).

A record is `bs` bytes of little-endian 64-bit words: magic, consumer id,
index in the consumer's range, pass, then util::pattern_word(consumer << 32
| pass, device byte offset) for every word up to the last, which is an
FNV-1a over the words before it. Each seqwriter prints, last, what was
acknowledged to it:

    seqwriter: consumer <id> on <dev>: <P> passes over <N> records of <bs> B
    at byte <offset> acknowledged, <E> errors, <R> reattached

(one line). Every pass ends only when all N records of it were
acknowledged, so after P passes every record of the range must hold pass P,
exactly. Beyond that, no bs-sized slot of the scanned range may be torn:
each holds a complete record, made for that place, or exactly what was
there before the run.

Pure functions of (serial log, image bytes) so harness_selftest.py can
exercise them without QEMU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import images

RECORD_MAGIC = 0x4554495257514553  # "SEQWRITE"
MASK = (1 << 64) - 1

CLAIM_RE = re.compile(
    r"seqwriter: consumer (?P<consumer>\d+) on (?P<device>\S+): (?P<passes>\d+) passes over "
    r"(?P<records>\d+) records of (?P<bs>\d+) B at byte (?P<offset>\d+) acknowledged, "
    r"(?P<errors>\d+) errors, (?P<reattached>\d+) reattached")


@dataclass
class Claim:
    consumer: int
    device: str
    passes: int
    records: int
    bs: int
    offset: int
    errors: int
    reattached: int

    def describe(self) -> str:
        return (f"consumer {self.consumer} on {self.device}: {self.passes} passes over {self.records} records "
                f"of {self.bs} B at byte {self.offset}")


def parse_claims(log: str, device: str) -> list[Claim]:
    out = []
    for m in CLAIM_RE.finditer(log):
        if m["device"] != device:
            continue
        out.append(Claim(int(m["consumer"]), m["device"], int(m["passes"]), int(m["records"]), int(m["bs"]),
                         int(m["offset"]), int(m["errors"]), int(m["reattached"])))
    return out


def checksum(words: list[int]) -> int:
    h = 0xCBF29CE484222325
    for w in words:
        h = ((h ^ w) * 0x100000001B3) & MASK
    return h


def record_bytes(consumer: int, index: int, pass_: int, offset: int, bs: int) -> bytes:
    """The record seqwriter writes at device byte `offset` (record.h)."""
    head = [RECORD_MAGIC, consumer, index, pass_]
    body = images.pattern_bytes(consumer << 32 | pass_, offset + 32, bs - 40)
    words = head + [int.from_bytes(body[i:i + 8], "little") for i in range(0, len(body), 8)]
    data = b"".join(w.to_bytes(8, "little") for w in head) + body
    return data + checksum(words).to_bytes(8, "little")


def read_record(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """(consumer, index, pass) of a complete record made for device byte
    `offset`, or None when `data` is not one (torn, misplaced, other)."""
    if len(data) < 48 or int.from_bytes(data[0:8], "little") != RECORD_MAGIC:
        return None
    consumer, index, pass_ = (int.from_bytes(data[i:i + 8], "little") for i in (8, 16, 24))
    if consumer >> 32 or pass_ >> 32:
        return None
    return (consumer, index, pass_) if record_bytes(consumer, index, pass_, offset, len(data)) == data else None


def check(claims: list[Claim], consumers: int, read, original, scan: tuple[int, int] | None) -> list[str]:
    """Every problem found; empty when every acknowledged record is there
    and nothing is torn. read(offset, length) and original(offset, length)
    give the image's bytes and what the range held before the run."""
    problems = []
    if len(claims) != consumers:
        problems.append(f"{len(claims)} consumers said what was acknowledged to them, expected {consumers}")
    for c in claims:
        if c.errors:
            problems.append(f"{c.describe()}: the consumer saw {c.errors} errors")
        if c.passes < 1:
            problems.append(f"{c.describe()}: not one pass completed")
            continue
        bad = []
        for i in range(c.records):
            at = c.offset + i * c.bs
            got = read(at, c.bs)
            if got == record_bytes(c.consumer, i, c.passes, at, c.bs):
                continue
            found = read_record(got, at)
            bad.append(f"record {i} at byte {at}: "
                       + (f"holds pass {found[2]} of consumer {found[0]} record {found[1]}" if found
                          else "holds what was there before" if got == original(at, c.bs)
                          else "torn or foreign bytes"))
        if bad:
            problems.append(f"{c.describe()}: {len(bad)} acknowledged records lost, first: "
                            + "; ".join(bad[:3]))
    if scan and claims:
        bs = claims[0].bs
        start, length = scan
        torn = []
        for at in range(start, start + length - bs + 1, bs):
            got = read(at, bs)
            if got != original(at, bs) and read_record(got, at) is None:
                torn.append(at)
        if torn:
            problems.append(f"{len(torn)} torn {bs}-byte slots in bytes {start}..{start + length}, first at "
                            + ", ".join(str(t) for t in torn[:3]))
    return problems
