// The page: 4 KiB, the x86-64 base page the kernel maps, the granule of
// memory objects, BAR windows and manifest sizes, and the memory page size
// the NVMe controller is set to (CC.MPS = 0, NVMe 1.4 §3.1.5) and virtqueues
// are laid out in. One definition; lib/ and the kernel include it rather
// than writing 4096 again.
#pragma once

#include "util/types.h"

inline constexpr u64 kPage = 4096;
