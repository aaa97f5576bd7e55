// SHA-256 (FIPS 180-4 §6.2), written from the standard, for checking data
// end to end: the shell's `blk hash` digests the bytes it reads from a block
// device and a scenario compares the hex digest against the host's
// `sha256sum` of the same disk bytes. A single mismatch anywhere in the
// storage path (PRP building, DMA, queue handling) changes the digest.
//
// Not a building block for anything secret: there is no constant-time
// guarantee and no zeroing of state after use.
//
// Freestanding-safe: no libc, no heap, no exceptions. A Sha256 is not
// thread-safe; one owner feeds it.
#pragma once

#include "util/types.h"

namespace util {

inline constexpr usize kSha256DigestBytes = 32;
inline constexpr usize kSha256BlockBytes = 64;

class Sha256 {
public:
    Sha256();

    // Appends `len` bytes at `data` (may be null when len is 0) to the
    // message. Any split of a message across calls gives the same digest.
    void update(const void* data, usize len);

    // Pads the message (§5.1.1), writes the 32-byte digest, big-endian
    // words H0..H7 (§6.2.2 step 4). The object may not be updated or
    // finished again afterwards; construct a new one for a new message.
    void finish(u8 out[32]);

private:
    void compress(const u8* block);

    u32 m_state[8];
    u8 m_block[kSha256BlockBytes];
    usize m_block_used = 0;  // bytes waiting in m_block, always < 64
    u64 m_length = 0;        // message bytes so far (the standard limits messages to 2^64 bits)
};

// One-shot digest of `len` bytes at `data`.
void sha256(const void* data, usize len, u8 out[32]);

// Formats a digest the way sha256sum prints it: 64 lowercase hex digits,
// then a NUL, into out[65].
void hex_digest(const u8 digest[32], char out[65]);

}  // namespace util
