// virtio-blk: the virtio block provider (docs/storage.md, docs/drivers.md).
// Bound by the device manager to one virtio-blk function (modern, or
// transitional on pcie.0) with a filtered window over the BAR holding its
// configuration structures, MSI-X vectors and a DMA pool.
//
// The device side is transport.h (capabilities, status handshake,
// negotiation, configuration) and block_backend.h (requests on the
// virtqueue); the BlockDevice service is the shared block layer
// (rt::BlockServer over lib/block/engine.h).
//
// Startup handles: pci, bar<N> (the window over the BAR the virtio
// capabilities name, from its offset 0), irq0 (the request queue's
// vector), dma (the pool), service (the BlockDevice endpoint; absent when
// nobody is served). Arguments: "timeout_ms=N", the request timeout
// (default 30000), after which the device is reset and what was in flight
// submitted again.
#include "block_backend.h"
#include "rt/args.h"
#include "rt/block_server.h"
#include "rt/log.h"
#include "rt/sys.h"
#include "rt/virtio_transport.h"

int main(u64) {
    u32 pci = rt::startup_handle("pci");
    u32 pool = rt::startup_handle("dma");
    u32 irq0 = rt::startup_handle("irq0");
    if (!pci || !pool || !irq0) {
        rt::log("virtio-blk: needs its pci function, a dma pool and a vector (manifest: dma_pool, vectors)");
        return 1;
    }
    static rt::VirtioTransport transport;
    if (auto r = transport.locate(pci); !r.ok()) {
        rt::log(
            "virtio-blk: configuration structures not reachable: %s (manifest: bar = <N> mode=filtered over the "
            "BAR the virtio capabilities name)",
            status_name(r.status()));
        return 1;
    }
    u64 timeout_ms = rt::args().number("timeout_ms", 0);
    if (!timeout_ms) timeout_ms = 30000;  // absent or 0: the default, never "time out at once"
    static virtio_blk::BlockBackend backend(transport, pool, irq0);
    if (auto r = backend.start(timeout_ms * 1'000'000ull); !r.ok()) {
        rt::log("virtio-blk: device not usable: %s", status_name(r.status()));
        transport.fail();
        return 2;
    }
    const virtio::blk::Geometry& g = backend.geometry();
    const block::DeviceInfo& d = backend.device(0);
    rt::log(
        "virtio-blk: serial '%s' features 0x%llx: %llu blocks of %u bytes (%llu MiB), %u segments per request, "
        "max transfer %u KiB%s%s%s%s",
        d.serial, static_cast<unsigned long long>(transport.features()), static_cast<unsigned long long>(g.blocks),
        g.block_size, static_cast<unsigned long long>((g.blocks * g.block_size) >> 20), g.max_segments,
        d.max_transfer >> 10, g.read_only ? ", read-only" : "", g.flush ? ", flush" : "", g.discard ? ", discard" : "",
        g.write_zeroes ? ", write-zeroes" : "");
    u32 service = rt::startup_handle("service");
    if (!service) rt::log("virtio-blk: no service endpoint (the manifest names no consumer); serving no one");
    static rt::BlockServer server(backend, {"virtio-blk", service, pool, irq0, timeout_ms * 1'000'000ull});
    if (auto r = server.init(); !r.ok()) {
        rt::log("virtio-blk: service setup failed: %s", status_name(r.status()));
        return 2;
    }
    server.run();
}
