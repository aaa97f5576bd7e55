// TCP initial sequence numbers as RFC 6528 §3 says: ISN = M + F(localip,
// localport, remoteip, remoteport, secretkey), M a 4 µs clock and F a
// keyed hash (here the first 32 bits of SHA-256 over the secret and the
// connection's four-tuple). Each connection's sequence space starts
// somewhere no one outside can guess, while the ISNs of one four-tuple
// still advance with time (so a new incarnation of a connection does not
// land inside an old one's window, RFC 793's reason for a clock).
//
// The secret is 32 bytes from Host::random(), drawn on first use: its
// strength is the Host's (the netstack program's Host reads the CPU's
// RDRAND). util::Sha256 is not hardened against timing side channels; the
// four-tuple it hashes is known to the peer anyway, and the secret is
// hashed at a fixed cost.
#pragma once

#include "util/types.h"

namespace netstack {

// Addresses in network byte order, ports in host order (as lwIP keeps them).
u32 tcp_isn(u32 local_ip, u16 local_port, u32 remote_ip, u16 remote_port);

// Tests: forget the secret, so the next ISN draws a new one.
void tcp_isn_reset_secret();

}  // namespace netstack
