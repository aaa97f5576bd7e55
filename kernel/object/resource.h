// Resource: the root authority the kernel hands to init — spawning
// processes from boot modules and reading system-wide state (process list,
// frame counts). Nothing else creates one.
#pragma once

#include "object/object.h"

namespace object {

class Resource : public Object {
public:
    static constexpr Type kType = Type::Resource;
    static constexpr cap::Rights kDefaultRights = cap::kRightManage | cap::kRightInspect | kPassRights;

    Resource() : Object(kType) {}
};

}  // namespace object
