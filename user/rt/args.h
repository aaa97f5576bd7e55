// This program's arguments (the manifest's `args`), parsed by util/args.h:
// rt::args().number("timeout_ms", 30000) and so on.
#pragma once

#include "abi/startup.h"
#include "rt/sys.h"
#include "util/args.h"

namespace rt {

inline Args args() { return Args(startup().args, abi::kArgsBytes); }

}  // namespace rt
