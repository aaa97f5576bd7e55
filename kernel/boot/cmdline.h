// Kernel command line: space-separated `key=value` or bare `flag` words.
#pragma once

#include "util/types.h"

namespace cmdline {

void init(const char* text, usize len);
const char* text();
// Value of `key` (not NUL-terminated; *len set), or nullptr when absent.
// A bare flag has an empty value.
const char* get(const char* key, usize* len);
bool is(const char* key, const char* value);

}  // namespace cmdline
