#include "object/interrupt.h"

#include "irq/msi_vectors.h"

namespace object {

Result<RefPtr<Interrupt>> Interrupt::create(u32 function, u16 index) {
    auto i = RefPtr<Interrupt>::adopt(new (std::nothrow) Interrupt());
    if (!i) return Status::NoMemory;
    i->m_vector = TRY(irq::route(function, index, irq::Sink{fire, torn_down, i.get()}));
    i->m_routed = true;
    i->m_function = function;
    i->m_index = index;
    irq::set_masked(i->m_vector, false);
    return i;
}

Interrupt::~Interrupt() {
    if (m_routed) irq::unroute(m_vector);
}

void Interrupt::last_capability_gone() {
    if (!m_routed) return;
    irq::unroute(m_vector);
    m_routed = false;
    m_pending = 0;
    m_dead = true;
    signals_changed();
}

void Interrupt::fire(void* self) {
    auto* i = static_cast<Interrupt*>(self);
    // A second delivery before the ack: hold the entry back until the ack
    // (the device keeps what it sends meanwhile pending).
    if (i->m_pending++ && !i->m_held_back) i->m_held_back = irq::hold_back(i->m_vector);
    i->signals_changed();
}

void Interrupt::torn_down(void* self) {
    auto* i = static_cast<Interrupt*>(self);
    i->m_dead = true;
    i->signals_changed();
}

Result<u64> Interrupt::ack() {
    if (m_dead) return Status::TornDown;
    u64 n = m_pending;
    m_pending = 0;
    if (m_held_back) {
        m_held_back = false;
        if (!m_masked) irq::set_masked(m_vector, false);
    }
    signals_changed();
    return n;
}

Result<void> Interrupt::mask(bool masked) {
    if (m_dead) return Status::TornDown;
    m_masked = masked;
    irq::set_masked(m_vector, masked || m_held_back);
    return {};
}

}  // namespace object
