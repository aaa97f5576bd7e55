// A small Itanium C++ ABI demangler for panic backtraces: turns
// "_ZN5sluice3foo3barEv" into "sluice::foo::bar()". It handles plain and
// nested names (with C1/C2/D1/D2 constructors, destructors and template
// argument lists skipped); anything it does not understand is copied
// through unchanged. Anonymous namespaces print as "(anonymous)". Parameters are shown as "(...)" except for "v".
#pragma once

#include "util/types.h"

// Writes the readable form of `mangled` (len bytes, need not be
// NUL-terminated) into out (NUL-terminated). Returns false when the name
// was copied through unchanged.
bool demangle(const char* mangled, usize len, char* out, usize cap);
