// Boot modules (multiboot2 module tags) by name: where init, the device
// manager, drivers and the manifest arrive from.
#pragma once

#include "boot/multiboot2.h"
#include "util/byte_view.h"

namespace modules {

void init(const boot::BootInfo& info);
u32 count();
// Name and bytes of module i (through the direct map).
ByteView name(u32 i);
ByteView bytes(u32 i);
// NotFound when no module has that name.
Result<ByteView> find(const char* name, usize len);

}  // namespace modules
