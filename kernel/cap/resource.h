// Resource: the root authority the kernel hands to init — spawning
// processes from boot modules and reading system-wide state (process list,
// frame counts). Nothing else creates one.
#pragma once

#include "cap/object.h"

namespace kobj {

class Resource : public Object {
public:
    Resource() : Object(Type::Resource) {}
};

}  // namespace kobj
