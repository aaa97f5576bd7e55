// A consumer's view of the device services the manifest granted it
// (lib/protocol/service.h): each "svc.<provider>" slot is a directory, and each
// function the provider entry drives is an instance with its own endpoint.
#pragma once

#include "protocol/service.h"
#include "rt/handle.h"

namespace rt {

struct ServiceInstance {
    char name[abi::kServiceNameBytes];  // "nvme0", "nvme0.1", ...
    Handle endpoint;                    // call: the instance's device protocol
};

// Opens every instance of every service directory among this process's
// startup handles, in slot order then instance order; returns how many
// were filled (at most max). Waits for the device manager to answer; a
// directory that refuses is logged and skipped.
u32 open_service_instances(ServiceInstance* out, u32 max);

}  // namespace rt
