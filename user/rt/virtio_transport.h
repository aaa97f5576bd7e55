// A virtio provider's view of its device's transport (virtio 1.1 §4.1,
// virtio over PCI), shared by every virtio driver (virtio-blk,
// virtio-net): where the common and device-specific configuration
// structures are, the status handshake (§3.1.1), feature negotiation and
// reading the device configuration. What a device type offers and takes
// is the driver's (lib/virtio/blk_device.h, net_device.h): it reads the
// offered features with begin() and writes its choice with accept(). Everything goes
// through the windows and calls the manifest granted: PciConfigRead for the
// capabilities, MmioRead / MmioWrite on the filtered window for registers
// (the kernel's allow-list lets a provider write the feature selects,
// driver features, msix_config and device_status, and never read or write
// a queue address). The queues themselves are the kernel's
// (VirtQueueCreate); so are notifications.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace rt {

// The startup handle of the window over `bar` ("bar<N>"), 0 when none was
// granted: what locate() asks by default.
u32 startup_bar_window(u8 bar);

class VirtioTransport {
public:
    // `pci` is the function, `window_for_bar(bar)` the startup handle of the
    // window over that BAR (0 when none was granted). The window must start
    // at the BAR's offset 0: the capabilities give offsets within the BAR.
    //   NotFound     no common or device configuration structure, or no
    //                window over the BAR that holds it
    //   Malformed    a capability that does not fit its BAR window
    Result<void> locate(u32 pci, u32 (*window_for_bar)(u8 bar) = startup_bar_window);

    // Reset (device_status 0, then waits until it reads 0: §4.1.4.3.1),
    // ACKNOWLEDGE | DRIVER; returns the features the device offers.
    //   Timeout      the reset never completed
    Result<u64> begin();
    // Writes the driver's features, FEATURES_OK and reads it back (§3.1.1
    // step 5-6: a device may refuse the subset).
    //   Unsupported  the device refused FEATURES_OK
    Result<void> accept(u64 features);
    u64 features() const { return m_features; }

    // The device configuration: each field read at its width (§4.1.3.1)
    // into raw[offset..], again until config_generation is the same before
    // and after (§4.1.4.3.1: a consistent snapshot). Fields must lie inside
    // `size` bytes and the device's configuration structure.
    //   Malformed  the structure is shorter than the fields
    //   Busy       the configuration kept changing
    struct ConfigField {
        u8 offset, width;
    };
    Result<void> read_config(const ConfigField* fields, u32 count, u8* raw, u32 size);
    // The MSI-X entry configuration changes are signalled on (msix_config).
    Result<void> set_config_vector(u16 entry);

    // DRIVER_OK: the device may process the queues.
    Result<void> driver_ok();
    // FAILED: the driver gave up (§3.1.1, step 8 on error).
    void fail();
    // DEVICE_NEEDS_RESET set (§2.1.2)?
    bool needs_reset();

private:
    Result<u64> common(u32 offset, u32 width);
    Result<void> set_common(u32 offset, u32 width, u64 value);
    Result<void> set_status(u8 bits);

    u32 m_common_window = 0, m_device_window = 0;
    u32 m_common_offset = 0, m_device_offset = 0, m_device_length = 0;
    u8 m_status = 0;
    u64 m_features = 0;
};

}  // namespace rt
