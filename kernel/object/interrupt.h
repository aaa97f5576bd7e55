// Interrupt: one MSI-X vector of one PCI function (DESIGN §3), minted from
// the PciFunction capability. Waited on through a WaitSet: kSignalReady
// while deliveries are pending, kSignalDead once the function's DMA grant
// was torn down (the vector is masked for good). ack() returns how many
// deliveries were pending. A delivery that finds one already pending masks
// the entry (storm protection: at most two deliveries per ack); ack()
// unmasks it again (unless the holder masked it). The common cycle —
// deliver, ack, deliver — writes no mask register at all.
#pragma once

#include "object/object.h"
#include "util/result.h"

namespace object {

class Interrupt : public Object {
public:
    static constexpr Type kType = Type::Interrupt;
    static constexpr cap::Rights kDefaultRights = cap::kRightWait | cap::kRightWrite | cap::kRightRevoke | kPassRights;

    static Result<RefPtr<Interrupt>> create(u32 function, u16 index);
    ~Interrupt() override;

    u64 signals() const override { return (m_pending ? kSignalReady : 0) | (m_dead ? kSignalDead : 0); }
    Result<u64> ack();
    Result<void> mask(bool masked);
    // The function (pci_enum index) and MSI-X table entry it is wired to.
    u32 function() const { return m_function; }
    u16 index() const { return m_index; }
    // Its last capability went: the vector is given back and the entry
    // masked now, not when the last reference goes — a WaitSet entry or a
    // broker queue may keep the object for a while, and the (function,
    // entry) route must be free for the next binding. The Interrupt is
    // Dead from then on.
    void last_capability_gone() override;

private:
    Interrupt() : Object(kType) {}
    static void fire(void* self);
    static void torn_down(void* self);

    u32 m_function = 0;
    u16 m_index = 0;
    u8 m_vector = 0;
    bool m_routed = false;     // m_vector is ours (until last_capability_gone)
    bool m_masked = false;     // by the holder (mask())
    bool m_held_back = false;  // by a second delivery before the ack
    bool m_dead = false;
    u64 m_pending = 0;
};

}  // namespace object
