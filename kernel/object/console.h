// Console: the serial console (COM1) as a capability. Read takes bytes
// typed on the console (interrupt-driven, blocking with a timeout); write
// puts text on it unprefixed. Raises kSignalReadable while input waits.
// One exists, created at boot and handed to init.
#pragma once

#include "object/object.h"
#include "util/result.h"

namespace object {

class Thread;

class Console : public Object {
public:
    static constexpr Type kType = Type::Console;
    static constexpr cap::Rights kDefaultRights = cap::kRightRead | cap::kRightWrite | cap::kRightWait | kPassRights;

    Console() : Object(kType) {}
    // Copies up to `max` pending input bytes into `out`; blocks until at
    // least one arrives or deadline_ns (0 forever, ~0 poll: Timeout).
    Result<usize> read(u8* out, usize max, u64 deadline_ns);
    void write(const char* text, usize len);
    u64 signals() const override;
    // From the serial interrupt: new input is in the UART ring.
    void input_arrived();
    void clear_waiter() { m_waiter = nullptr; }

    // The boot console, or nullptr before init starts.
    static Console* instance();
    static void set_instance(Console* c);

private:
    Thread* m_waiter = nullptr;
};

}  // namespace object
