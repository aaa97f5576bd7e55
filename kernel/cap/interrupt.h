// Interrupt: one MSI-X vector of one PCI function (DESIGN §3), minted from
// the PciFunction capability. Waited on through a WaitSet: kSignalReady
// while deliveries are pending, kSignalDead once the function's DMA grant
// was torn down (the vector is masked for good). Delivery masks the MSI-X
// entry; ack() returns how many deliveries were pending and unmasks it
// (unless the holder masked it).
#pragma once

#include "cap/object.h"
#include "util/result.h"

namespace kobj {

class Interrupt : public Object {
public:
    static Result<Interrupt*> create(u32 function, u16 index);
    ~Interrupt() override;

    u64 signals() const override { return (m_pending ? kSignalReady : 0) | (m_dead ? kSignalDead : 0); }
    Result<u64> ack();
    Result<void> mask(bool masked);
    // The function (pci_enum index) and MSI-X table entry it is wired to.
    u32 function() const { return m_function; }
    u16 index() const { return m_index; }

private:
    Interrupt() : Object(Type::Interrupt) {}
    static void fire(void* self);
    static void torn_down(void* self);

    u32 m_function = 0;
    u16 m_index = 0;
    u8 m_vector = 0;
    bool m_masked = false;
    bool m_dead = false;
    u64 m_pending = 0;
};

}  // namespace kobj
