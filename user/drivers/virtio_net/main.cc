// virtio-net: the virtio network provider (docs/network.md,
// docs/drivers.md). Bound by the device manager to one virtio-net function
// (modern, or transitional on pcie.0) with a filtered window over the BAR
// holding its configuration structures, MSI-X vectors and a DMA pool.
//
// The device side is rt::VirtioTransport (capabilities, status handshake,
// configuration) and net_backend.h (the receive and transmit queues); the
// NetDevice service is rt::NetServer over lib/net/provider_channel.h.
//
// Startup handles: pci, bar<N> (the window over the BAR the virtio
// capabilities name, from its offset 0), irq0 (receive), irq1 (transmit),
// irq2 (configuration: link changes; optional), dma (the pool: 512 KiB of
// packet slots and a page of headers), service (the NetDevice endpoint;
// absent when nobody is served).
#include "net_backend.h"
#include "rt/log.h"
#include "rt/net_server.h"
#include "rt/sys.h"
#include "rt/virtio_transport.h"
#include "util/format.h"

int main(u64) {
    u32 pci = rt::startup_handle("pci");
    u32 pool = rt::startup_handle("dma");
    u32 irqs[3] = {rt::startup_handle("irq0"), rt::startup_handle("irq1"), rt::startup_handle("irq2")};
    u32 irq_count = irqs[0] ? (irqs[1] ? (irqs[2] ? 3 : 2) : 1) : 0;
    if (!pci || !pool || !irq_count) {
        rt::log("virtio-net: needs its pci function, a dma pool and vectors (manifest: dma_pool, vectors = 3)");
        return 1;
    }
    static rt::VirtioTransport transport;
    if (auto r = transport.locate(pci); !r.ok()) {
        rt::log(
            "virtio-net: configuration structures not reachable: %s (manifest: bar = <N> mode=filtered over the "
            "BAR the virtio capabilities name)",
            status_name(r.status()));
        return 1;
    }
    static virtio_net::NetBackend backend(transport, pool, irqs, irq_count);
    if (auto r = backend.start(); !r.ok()) {
        rt::log("virtio-net: device not usable: %s", status_name(r.status()));
        transport.fail();
        return 2;
    }
    const virtio::net::Device& d = backend.device();
    net::LinkInfo link = backend.link();
    rt::log("virtio-net: mac %02x:%02x:%02x:%02x:%02x:%02x%s mtu %u link %s, features 0x%llx", d.mac[0], d.mac[1],
            d.mac[2], d.mac[3], d.mac[4], d.mac[5], d.device_mac ? "" : " (ours: the device has none)", d.mtu,
            link.link_up ? "up" : "down", static_cast<unsigned long long>(d.features));
    u32 service = rt::startup_handle("service");
    if (!service) rt::log("virtio-net: no service endpoint (the manifest names no client); serving no one");
    static rt::NetServer server(backend, {"virtio-net", service, pool});
    if (auto r = server.init(); !r.ok()) {
        rt::log("virtio-net: service setup failed: %s", status_name(r.status()));
        return 2;
    }
    server.run();
}
