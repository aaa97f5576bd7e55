#include "arch/x86_64/user_copy.h"

extern "C" long user_copy(void* dst, const void* src, usize len);
extern "C" char user_copy_begin[], user_copy_end[], user_copy_fault[];

namespace user {

Result<void> copy_from(void* dst, u64 user_src, usize len) {
    if (!range_ok(user_src, len)) return Status::OutOfBounds;
    if (user_copy(dst, reinterpret_cast<const void*>(user_src), len) != 0) return Status::OutOfBounds;
    return {};
}

Result<void> copy_to(u64 user_dst, const void* src, usize len) {
    if (!range_ok(user_dst, len)) return Status::OutOfBounds;
    if (user_copy(reinterpret_cast<void*>(user_dst), src, len) != 0) return Status::OutOfBounds;
    return {};
}

Result<void> zero(u64 user_dst, usize len) {
    alignas(8) static const u8 kZeros[2048] = {};
    if (!range_ok(user_dst, len)) return Status::OutOfBounds;
    while (len) {
        usize n = len < sizeof kZeros ? len : sizeof kZeros;
        if (user_copy(reinterpret_cast<void*>(user_dst), kZeros, n) != 0) return Status::OutOfBounds;
        user_dst += n;
        len -= n;
    }
    return {};
}

bool fixup_fault(u64* rip) {
    if (*rip >= reinterpret_cast<u64>(user_copy_begin) && *rip < reinterpret_cast<u64>(user_copy_end)) {
        *rip = reinterpret_cast<u64>(user_copy_fault);
        return true;
    }
    return false;
}

}  // namespace user
