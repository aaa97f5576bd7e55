// PciFunction: authority over one PCI function. Configuration space is
// reachable only through checked operations (reads here; the kernel alone
// writes it: a BAR moved onto RAM, or bus mastering re-enabled after
// teardown, would defeat everything else). Windows of its BARs are handed
// out as DeviceMmio objects.
#pragma once

#include "cap/object.h"
#include "devices/window_policy.h"
#include "pci/enumerate.h"
#include "util/result.h"

namespace kobj {

class PciFunction : public Object {
public:
    explicit PciFunction(u32 index);

    const pci_enum::Function& function() const { return pci_enum::function(m_index); }
    devices::RegisterPolicy register_policy() const { return m_policy; }
    // Aligned reads of 1, 2 or 4 bytes anywhere in the 4 KiB space.
    Result<u32> config_read(u16 offset, u32 width) const;

private:
    u32 m_index;
    devices::RegisterPolicy m_policy;
};

}  // namespace kobj
