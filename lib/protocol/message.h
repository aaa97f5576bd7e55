// The protocols in lib/protocol/ as structs laid over an endpoint
// message's data (abi::Message, lib/abi/ipc.h): every request and reply is
// a trivially copyable struct no larger than kMessageBytes, its wire
// offsets pinned by static_assert next to it, put and got whole with the
// two helpers here — no field is placed by hand at a byte offset.
//
// The bytes are the structs' own (x86_64: little-endian, natural
// alignment); the asserts are what keeps an old client and a new server
// speaking the same format.
#pragma once

#ifdef SLUICE_KERNEL
#error "lib/protocol/ is spoken between user processes: the kernel has no business including it"
#endif

#include <type_traits>

#include "abi/ipc.h"
#include "util/status.h"

namespace abi {

template <typename T>
inline constexpr bool kFitsMessage = std::is_trivially_copyable_v<T> && sizeof(T) <= kMessageBytes;

// Writes `body` at data[0, sizeof body) and sets the length to its size.
template <typename T>
void put_body(Message& m, const T& body) {
    static_assert(kFitsMessage<T>, "a protocol message must fit abi::Message::data");
    __builtin_memcpy(m.data, &body, sizeof body);
    m.length = sizeof body;
}

// The message's data as a T: the bytes the sender sent (at most
// sizeof(T)), the rest zero. A shorter message so reads as if the fields
// it lacks were 0 — what the protocols here take an absent field to mean;
// a receiver that needs a field whole checks m.length against the field's
// end (offsetof + size) itself.
template <typename T>
T body_of(const Message& m) {
    static_assert(kFitsMessage<T>, "a protocol message must fit abi::Message::data");
    T out{};
    usize n = m.length < sizeof(T) ? m.length : sizeof(T);
    __builtin_memcpy(&out, m.data, n);
    return out;
}

// The Status a reply starts with (every reply of these protocols that can
// fail does), or Malformed when it is too short to hold one.
inline Status reply_status(const Message& m) {
    return m.length >= sizeof(Status) ? body_of<Status>(m) : Status::Malformed;
}

}  // namespace abi
