// What an endpoint capability names: the endpoint plus the badge the
// server will see when a call arrives through it. Minting a badge makes a
// new BadgedEndpoint derived from the original capability (so revoking the
// original revokes every badged copy). Only an unbadged view (badge 0) can
// be minted: a badge is set once, and copies of a badged view keep it
// (EndpointMint refuses a badged one, NoRights).
#pragma once

#include "object/endpoint.h"

namespace object {

class BadgedEndpoint : public Object {
public:
    static constexpr Type kType = Type::BadgedEndpoint;
    static constexpr cap::Rights kDefaultRights =
        cap::kRightCall | cap::kRightServe | cap::kRightWait | cap::kRightInspect | cap::kRightRevoke | kPassRights;

    // Takes its own reference on `endpoint`.
    BadgedEndpoint(Endpoint* endpoint, u64 badge)
        : Object(kType), m_endpoint(DeferredRef<Endpoint>::share(endpoint)), m_badge(badge) {}
    Endpoint* endpoint() const { return m_endpoint.get(); }
    u64 badge() const { return m_badge; }

private:
    // Dropped deferred, as the release of a capability drops its object's.
    DeferredRef<Endpoint> m_endpoint;
    u64 m_badge;
};

}  // namespace object
