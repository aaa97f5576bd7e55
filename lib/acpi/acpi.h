// Portable ACPI table parsing: the one header callers include.
//
// Contract shared by every parser here:
// - Input is an untrusted ByteView over firmware memory; nothing outside
//   the view is ever read, and no pointer into it survives the call.
// - Tables are validated first (length, checksum, signature: open_table),
//   and only their declared `length` bytes are parsed.
// - Failures are specific Status codes (Truncated, BadChecksum, Malformed,
//   InvalidArgument for a table of the wrong kind, ...), never a crash.
// - No allocation, no globals: results are fixed-capacity structs whose
//   `truncated_lists` flag says when firmware listed more than fits.
// - Compiles freestanding (kernel) and hosted (tests, fuzzers).
#pragma once

#include "acpi/aml_s5.h"
#include "acpi/dmar.h"
#include "acpi/fadt.h"
#include "acpi/madt.h"
#include "acpi/mcfg.h"
#include "acpi/sdt.h"
