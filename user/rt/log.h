// printf-style logging to the kernel log (prefixed with program name and
// pid), through the Log handle the process was given as "log".
#pragma once

#include "util/types.h"

namespace rt {

__attribute__((format(printf, 1, 2))) void log(const char* fmt, ...);

}  // namespace rt
