// virtio-blk: the virtio block provider (docs/storage.md, docs/drivers.md).
// Bound by the device manager to one virtio-blk function (modern, or
// transitional on pcie.0) with a filtered window over the BAR holding its
// configuration structures, MSI-X vectors and a DMA pool.
//
// Work in progress (issue 13): this version brings the device up —
// reset, feature negotiation, configuration — and reports what it found;
// the I/O path and the BlockDevice service follow.
//
// Startup handles: pci, bar<N> (the window over the BAR the virtio
// capabilities name, from its offset 0), irq0, dma.
#include "rt/log.h"
#include "rt/sys.h"
#include "transport.h"
#include "util/format.h"

namespace {

u32 window_for_bar(u8 bar) {
    char name[8];
    format(name, sizeof name, "bar%u", bar);
    return rt::startup_handle(name);
}

}  // namespace

int main(u64) {
    u32 pci = rt::startup_handle("pci");
    if (!pci) {
        rt::log("virtio-blk: needs its pci function");
        return 1;
    }
    static virtio_blk::Transport transport;
    if (auto r = transport.locate(pci, window_for_bar); !r.ok()) {
        rt::log(
            "virtio-blk: configuration structures not reachable: %s (manifest: bar = <N> mode=filtered over the "
            "BAR the virtio capabilities name)",
            status_name(r.status()));
        return 1;
    }
    if (auto r = transport.negotiate(); !r.ok()) {
        rt::log("virtio-blk: device not usable: %s", status_name(r.status()));
        transport.fail();
        return 2;
    }
    auto config = transport.read_config();
    if (!config.ok()) {
        rt::log("virtio-blk: configuration: %s", status_name(config.status()));
        transport.fail();
        return 2;
    }
    auto geometry = virtio::blk::read_geometry(config.value(), transport.features(), 126);
    if (!geometry.ok()) {
        rt::log("virtio-blk: configuration refused: %s", status_name(geometry.status()));
        transport.fail();
        return 2;
    }
    const virtio::blk::Geometry& g = geometry.value();
    rt::log("virtio-blk: features 0x%llx: %llu blocks of %u bytes (%llu MiB), %u segments per request%s%s%s%s",
            static_cast<unsigned long long>(transport.features()), static_cast<unsigned long long>(g.blocks),
            g.block_size, static_cast<unsigned long long>((g.blocks * g.block_size) >> 20), g.max_segments,
            g.read_only ? ", read-only" : "", g.flush ? ", flush" : "", g.discard ? ", discard" : "",
            g.write_zeroes ? ", write-zeroes" : "");
    return 0;
}
