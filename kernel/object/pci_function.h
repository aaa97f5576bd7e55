// PciFunction: authority over one PCI function. Configuration space is
// reachable only through checked operations (reads here; the kernel alone
// writes it: a BAR moved onto RAM, or bus mastering re-enabled after
// teardown, would defeat everything else). Windows of its BARs are handed
// out as DeviceMmio objects.
#pragma once

#include "devices/window_policy.h"
#include "object/object.h"
#include "pci/enumerate.h"
#include "util/result.h"

namespace object {

class PciFunction : public Object {
public:
    static constexpr Type kType = Type::PciFunction;
    // read/write/map/wait bound what windows, pools and interrupts minted from it may do.
    static constexpr cap::Rights kDefaultRights = cap::kRightRead | cap::kRightWrite | cap::kRightMap |
                                                  cap::kRightInspect | cap::kRightManage | cap::kRightWait |
                                                  cap::kRightRevoke | kPassRights;

    explicit PciFunction(u32 index);

    const pci_enum::Function& function() const { return pci_enum::function(m_index); }
    const devices::RegisterMap& registers() const { return function().registers; }
    // Aligned reads of 1, 2 or 4 bytes anywhere in the 4 KiB space, except
    // registers that hold addresses (devices/config_policy.h): NoRights.
    Result<u32> config_read(u16 offset, u32 width) const;
    // The kernel's own uncached mapping of a memory BAR, made once per
    // function and BAR and kept for the kernel's lifetime (filtered writes
    // go through it).
    static Result<volatile u8*> kernel_view(u32 function_index, u8 bar);
    u32 index() const { return m_index; }

private:
    u32 m_index;
};

}  // namespace object
