#include "devices/virtio_class.h"

namespace devices {

bool is_virtio(u16 vendor, u16 device_id) {
    return vendor == kVirtioVendor && device_id >= 0x1000 && device_id <= 0x107f;
}

u16 virtio_device_type(u16 vendor, u16 device_id) {
    if (!is_virtio(vendor, device_id)) return 0;
    if (device_id >= 0x1040) return static_cast<u16>(device_id - 0x1040);
    // Transitional device IDs (virtio 1.2 §4.1.2.1, table "Transitional PCI
    // Device ID").
    switch (device_id) {
        case 0x1000: return 1;  // network
        case 0x1001: return 2;  // block
        case 0x1002: return 5;  // traditional memory balloon
        case 0x1003: return 3;  // console
        case 0x1004: return 8;  // SCSI host
        case 0x1005: return 4;  // entropy source
        case 0x1009: return 9;  // 9P transport
        default: return 0;
    }
}

bool virtio_class_brokered(u16 vendor, u16 device_id) {
    u16 type = virtio_device_type(vendor, device_id);
    return type == 1 || type == 2;
}

const char* virtio_class_name(u16 vendor, u16 device_id) {
    switch (virtio_device_type(vendor, device_id)) {
        case 1: return "network";
        case 2: return "block";
        case 3: return "console";
        case 4: return "entropy";
        case 5: return "balloon";
        case 8: return "SCSI";
        case 9: return "9P";
        case 16: return "GPU";
        case 18: return "input";
        case 19: return "vsock";
        case 20: return "crypto";
        case 24: return "memory";
        case 26: return "file system";
        case 27: return "persistent memory";
        default: return "unknown";
    }
}

}  // namespace devices
