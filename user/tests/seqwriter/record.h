// The self-checking record seqwriter writes (one per `bs` bytes), and that
// the scenario harness recomputes on the host (scripts/harness/records.py):
// a record can be told apart from a torn one (a prefix of one write and
// the rest of another, or of what was there before) and from one written
// to the wrong place. Little-endian 64-bit words:
//   0  kRecordMagic
//   1  the consumer's id
//   2  the record's index in the consumer's range
//   3  the pass (1, 2, ...: the same range is written again each pass)
//   4 .. n-2  util::pattern_word(consumer << 32 | pass, device byte offset)
//   n-1  record_checksum over words 0 .. n-2
#pragma once

#include "util/pattern.h"
#include "util/types.h"

namespace seqwriter {

inline constexpr u64 kRecordMagic = 0x4554495257514553ull;  // "SEQWRITE"

// FNV-1a over 64-bit words: every word, and its position, counts.
inline u64 record_checksum(const u64* words, u64 count) {
    u64 h = 0xcbf29ce484222325ull;
    for (u64 i = 0; i < count; i++) h = (h ^ words[i]) * 0x100000001b3ull;
    return h;
}

// Fills `bytes` (a multiple of 8, at least 48) with the record written at
// device byte `offset`.
inline void fill_record(u8* out, u64 bytes, u64 consumer, u64 index, u64 pass, u64 offset) {
    u64* w = reinterpret_cast<u64*>(out);
    u64 n = bytes / 8;
    w[0] = kRecordMagic;
    w[1] = consumer;
    w[2] = index;
    w[3] = pass;
    for (u64 i = 4; i + 1 < n; i++) w[i] = util::pattern_word(consumer << 32 | pass, offset + 8 * i);
    w[n - 1] = record_checksum(w, n - 1);
}

}  // namespace seqwriter
