// The shell's `blk` commands: block devices served to the shell by
// providers (manifest `serve = shell`; handle slots "svc.<provider>").
// A device is named <provider>n<nsid>, e.g. nvme0n1.
//   blk list
//   blk hash <dev> <lba> <count>                  -> sha256 <64 hex digits>
//   blk write-pattern <dev> <lba> <count> <seed>  (util/pattern.h)
//   blk verify-pattern <dev> <lba> <count> <seed>
//   blk flush <dev>
//   blk zero <dev> <lba> <count>                  (Write Zeroes)
//   blk discard <dev> <lba> <count>               (Dataset Management, deallocate)
#pragma once

#include "util/types.h"

namespace shell {

// Writes to the shell's console (main.cc).
__attribute__((format(printf, 1, 2))) void out(const char* fmt, ...);

void blk_command(const char* args, usize len);

}  // namespace shell
