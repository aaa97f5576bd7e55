// Log: the right to write lines to the kernel log (and so the serial
// console). Lines are prefixed with the writer's name and pid.
#pragma once

#include "object/object.h"

namespace object {

class Log : public Object {
public:
    static constexpr Type kType = Type::Log;
    static constexpr cap::Rights kDefaultRights = cap::kRightWrite | kPassRights;

    Log() : Object(kType) {}
    u64 lines_written = 0;
};

}  // namespace object
