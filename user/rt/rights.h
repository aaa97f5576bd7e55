// Capability rights for user programs (values of lib/cap/rights.h).
#pragma once

#include "cap/rights.h"

namespace cap_rights {
constexpr u32 kRead = cap::kRightRead;
constexpr u32 kWrite = cap::kRightWrite;
constexpr u32 kMap = cap::kRightMap;
constexpr u32 kCall = cap::kRightCall;
constexpr u32 kServe = cap::kRightServe;
constexpr u32 kSignal = cap::kRightSignal;
constexpr u32 kWait = cap::kRightWait;
constexpr u32 kInspect = cap::kRightInspect;
constexpr u32 kManage = cap::kRightManage;
constexpr u32 kDuplicate = cap::kRightDuplicate;
constexpr u32 kTransfer = cap::kRightTransfer;
constexpr u32 kRevoke = cap::kRightRevoke;
}  // namespace cap_rights
