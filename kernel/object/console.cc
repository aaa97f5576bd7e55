#include "object/console.h"

#include "console/serial.h"
#include "sched/scheduler.h"

namespace object {
namespace {
Console* g_instance;
void forget_waiter(Thread*, void* self) {
    auto* c = static_cast<Console*>(self);
    c->clear_waiter();
    c->unref_deferred();
}
}  // namespace

Console* Console::instance() { return g_instance; }
void Console::set_instance(Console* c) { g_instance = c; }

Result<usize> Console::read(u8* out, usize max, u64 deadline_ns) {
    if (max == 0) return Status::InvalidArgument;
    for (;;) {
        usize n = 0;
        int b;
        while (n < max && (b = serial::read_byte()) >= 0) out[n++] = static_cast<u8>(b);
        if (n) {
            signals_changed();
            return n;
        }
        if (deadline_ns == ~u64{0}) return Status::Timeout;
        if (m_waiter) return Status::Busy;
        m_waiter = sched::current();
        ref();  // a blocked reader keeps the console alive
        Status why = sched::block_current(deadline_ns, forget_waiter, this);
        m_waiter = nullptr;
        unref_deferred();
        if (why == Status::Timeout && !serial::pending()) return Status::Timeout;
    }
}

void Console::write(const char* text, usize len) { serial::write(text, len); }

u64 Console::signals() const { return serial::pending() ? kSignalReadable : 0; }

void Console::input_arrived() {
    if (m_waiter) sched::wake(m_waiter, Status::Ok);
    signals_changed();
}

}  // namespace object
