// DeviceRoot: the root of device authority (DESIGN §3). Whoever holds it
// can list the PCI functions the kernel enumerated and open any of them as
// a PciFunction. The kernel hands the only one to init, which grants it to
// the device manager through the manifest; providers receive narrower
// capabilities (PciFunction, DeviceMmio) derived from it.
//
// It is also where refusal events arrive (kernel/events/refusals.h): it
// signals kSignalReady while any are pending, and DeviceEvents reads them.
#pragma once

#include "events/refusals.h"
#include "object/object.h"

namespace object {

class DeviceRoot : public Object {
public:
    static constexpr Type kType = Type::DeviceRoot;
    // Waiting on it is waiting for refusal events (events/refusals.h).
    static constexpr cap::Rights kDefaultRights =
        cap::kRightInspect | cap::kRightManage | cap::kRightWait | kPassRights;

    DeviceRoot() : Object(kType) {}
    ~DeviceRoot() override { refusals::set_listener(nullptr); }
    u64 signals() const override { return refusals::pending() ? kSignalReady : 0; }
    // refusals: the pending state changed.
    void events_changed() { signals_changed(); }
};

}  // namespace object
