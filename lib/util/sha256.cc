#include "util/sha256.h"

namespace util {
namespace {

// §4.2.2: the first 32 bits of the fractional parts of the cube roots of the
// first 64 primes.
constexpr u32 kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// §5.3.3: the first 32 bits of the fractional parts of the square roots of
// the first 8 primes.
constexpr u32 kInitial[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

constexpr u32 rotr(u32 x, unsigned n) { return (x >> n) | (x << (32 - n)); }

// §4.1.2 functions.
constexpr u32 ch(u32 x, u32 y, u32 z) { return (x & y) ^ (~x & z); }
constexpr u32 maj(u32 x, u32 y, u32 z) { return (x & y) ^ (x & z) ^ (y & z); }
constexpr u32 big_sigma0(u32 x) { return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22); }
constexpr u32 big_sigma1(u32 x) { return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25); }
constexpr u32 small_sigma0(u32 x) { return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3); }
constexpr u32 small_sigma1(u32 x) { return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10); }

u32 load_be32(const u8* p) { return u32{p[0]} << 24 | u32{p[1]} << 16 | u32{p[2]} << 8 | u32{p[3]}; }

void store_be32(u32 v, u8* p) {
    p[0] = static_cast<u8>(v >> 24);
    p[1] = static_cast<u8>(v >> 16);
    p[2] = static_cast<u8>(v >> 8);
    p[3] = static_cast<u8>(v);
}

}  // namespace

Sha256::Sha256() {
    for (usize i = 0; i < 8; i++) m_state[i] = kInitial[i];
}

// §6.2.2: one 512-bit block into the hash state.
void Sha256::compress(const u8* block) {
    u32 w[64];
    for (usize t = 0; t < 16; t++) w[t] = load_be32(block + 4 * t);
    for (usize t = 16; t < 64; t++) w[t] = small_sigma1(w[t - 2]) + w[t - 7] + small_sigma0(w[t - 15]) + w[t - 16];

    u32 a = m_state[0], b = m_state[1], c = m_state[2], d = m_state[3];
    u32 e = m_state[4], f = m_state[5], g = m_state[6], h = m_state[7];
    for (usize t = 0; t < 64; t++) {
        u32 t1 = h + big_sigma1(e) + ch(e, f, g) + kRound[t] + w[t];
        u32 t2 = big_sigma0(a) + maj(a, b, c);
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    m_state[0] += a;
    m_state[1] += b;
    m_state[2] += c;
    m_state[3] += d;
    m_state[4] += e;
    m_state[5] += f;
    m_state[6] += g;
    m_state[7] += h;
}

void Sha256::update(const void* data, usize len) {
    if (len == 0) return;  // data may be null then; memcpy must not see it
    const u8* in = static_cast<const u8*>(data);
    m_length += len;
    // Top up a partly filled block first; compress straight from the input
    // while whole blocks remain; keep the tail for the next call.
    if (m_block_used > 0) {
        usize take = kSha256BlockBytes - m_block_used;
        if (take > len) take = len;
        __builtin_memcpy(m_block + m_block_used, in, take);
        m_block_used += take;
        in += take;
        len -= take;
        if (m_block_used < kSha256BlockBytes) return;
        compress(m_block);
        m_block_used = 0;
    }
    while (len >= kSha256BlockBytes) {
        compress(in);
        in += kSha256BlockBytes;
        len -= kSha256BlockBytes;
    }
    if (len > 0) {
        __builtin_memcpy(m_block, in, len);
        m_block_used = len;
    }
}

void Sha256::finish(u8 out[32]) {
    // §5.1.1: append a 1 bit, zeros up to 56 mod 64 bytes, then the message
    // length in bits as a 64-bit big-endian integer. When fewer than 9 bytes
    // are left in the current block the padding spills into one more.
    u64 bits = m_length * 8;
    m_block[m_block_used++] = 0x80;
    if (m_block_used > kSha256BlockBytes - 8) {
        while (m_block_used < kSha256BlockBytes) m_block[m_block_used++] = 0;
        compress(m_block);
        m_block_used = 0;
    }
    while (m_block_used < kSha256BlockBytes - 8) m_block[m_block_used++] = 0;
    store_be32(static_cast<u32>(bits >> 32), m_block + 56);
    store_be32(static_cast<u32>(bits), m_block + 60);
    compress(m_block);
    m_block_used = 0;
    for (usize i = 0; i < 8; i++) store_be32(m_state[i], out + 4 * i);
}

void sha256(const void* data, usize len, u8 out[32]) {
    Sha256 h;
    h.update(data, len);
    h.finish(out);
}

void hex_digest(const u8 digest[32], char out[65]) {
    constexpr char kDigits[] = "0123456789abcdef";
    for (usize i = 0; i < kSha256DigestBytes; i++) {
        out[2 * i] = kDigits[digest[i] >> 4];
        out[2 * i + 1] = kDigits[digest[i] & 0xf];
    }
    out[64] = 0;
}

}  // namespace util
