// DeviceRoot: the root of device authority (DESIGN §3). Whoever holds it
// can list the PCI functions the kernel enumerated and open any of them as
// a PciFunction. The kernel hands the only one to init, which grants it to
// the device manager through the manifest; providers receive narrower
// capabilities (PciFunction, DeviceMmio) derived from it.
#pragma once

#include "cap/object.h"

namespace kobj {

class DeviceRoot : public Object {
public:
    DeviceRoot() : Object(Type::DeviceRoot) {}
};

}  // namespace kobj
