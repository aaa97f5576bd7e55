// A consumer's view of the device services the manifest granted it
// (lib/protocol/service.h): each "svc.<provider>" slot is a directory, and each
// function the provider entry drives is an instance with its own endpoint.
#pragma once

#include "abi/ipc.h"
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

// A server's receive of one call (timeout 0: a caller is queued). True:
// `m` is the call, to be answered. False: nothing to answer — no caller
// after all, or a call whose handles could not all be taken (a zero or
// forged value, one without the transfer right): the kernel has handed
// that call over all the same, so it is answered here with the error and
// whatever did arrive is closed. Left unanswered it would hold the
// endpoint Busy for every later caller (one hostile caller jamming the
// server).
bool receive_call(u32 endpoint, abi::Message& m);

// A server's refusal of a call it received: the reply is the bare Status
// (every reply of these protocols starts with it), and the handles the
// call carried are closed (kept, they would fill the server's capability
// space a call at a time). The caller logs why, against the caller.
void refuse_call(abi::Message& call, Status status);

}  // namespace rt
