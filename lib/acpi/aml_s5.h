// Finding the \_S5 (soft-off) sleep type in the DSDT without an AML
// interpreter. ACPI 6.5 §7.4.2 "\_Sx (System States)": \_S5 is a package
// whose first element is the value to write to PM1a_CNT.SLP_TYP and whose
// second is PM1b_CNT.SLP_TYP (§4.8.3.2.1: SLP_TYP is 3 bits wide).
//
// Limitation: only the static form firmware (and QEMU) emit is understood,
//   Name (_S5, Package (n) { <int>, ... })   -- optionally \_S5_ / ^_S5_
// with integer elements (ZeroOp, OneOp, OnesOp, Byte/Word/DWord/QWord
// constants). An \_S5 computed by a method, or holding named references,
// gives Unsupported.
#pragma once

#include "acpi/sdt.h"

namespace acpi {

// AML opcodes and prefixes (ACPI 6.5 §20.2).
inline constexpr u8 kAmlZeroOp = 0x00;
inline constexpr u8 kAmlOneOp = 0x01;
inline constexpr u8 kAmlNameOp = 0x08;
inline constexpr u8 kAmlBytePrefix = 0x0A;
inline constexpr u8 kAmlWordPrefix = 0x0B;
inline constexpr u8 kAmlDWordPrefix = 0x0C;
inline constexpr u8 kAmlQWordPrefix = 0x0E;
inline constexpr u8 kAmlPackageOp = 0x12;
inline constexpr u8 kAmlRootChar = 0x5C;      // '\'
inline constexpr u8 kAmlParentPrefix = 0x5E;  // '^'
inline constexpr u8 kAmlOnesOp = 0xFF;

// SLP_TYPa from \_S5 in a whole DSDT (header included): the table is
// validated (open_table "DSDT"), then its AML body is scanned.
[[nodiscard]] Result<u8> find_s5_sleep_type(ByteView dsdt);

// The same scan over raw AML (e.g. an SSDT body). The scan is linear in
// aml.size() and reads nothing outside the view.
//   NotFound     no Name(_S5_, ...) definition
//   Truncated    the definition runs past the end of the AML
//   Malformed    the definition is inconsistent (not a package, zero
//                elements, a package length that does not hold its first
//                element, a sleep type above 7)
//   Unsupported  the first element is not an integer constant
// When several candidates exist, the first well-formed one wins; if none
// is, the first candidate's error is returned.
[[nodiscard]] Result<u8> find_s5_sleep_type_in_aml(ByteView aml);

}  // namespace acpi
