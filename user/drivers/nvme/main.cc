// nvme: the NVMe storage provider (docs/storage.md; how a driver like it
// is put together: docs/drivers.md). Bound by the device
// manager to one NVMe controller with a filtered register window, MSI-X
// vectors and a DMA pool; drives it through the kernel's queue broker and
// serves its namespaces as BlockDevices to the consumers the manifest
// names (`serve = ...`), through the shared block layer (lib/block/,
// rt/block_server.h) over its block::Backend (block_backend.h).
//
// Startup handles: pci, bar0 (filtered registers, read for CAP/VS), irq0
// (admin completions), irq1 (I/O completions; irq0 is shared when only one
// vector is granted), dma (the pool), service (the BlockDevice endpoint;
// absent when nobody is served). Arguments: "timeout_ms=N" sets the I/O
// command timeout (default 30000); "test.drop_completion=N" (tests only)
// ignores the Nth I/O completion, as if the device had never posted it, so
// the timeout and controller-reset path runs against a real controller.
#include "block_backend.h"
#include "controller.h"
#include "rt/args.h"
#include "rt/block_server.h"
#include "rt/log.h"
#include "rt/sys.h"

int main(u64) {
    u32 pool = rt::startup_handle("dma");
    u32 irq0 = rt::startup_handle("irq0");
    u32 irq1 = rt::startup_handle("irq1");
    if (!pool || !irq0) {
        rt::log("nvme: needs a dma pool and at least one vector (manifest: dma_pool, vectors)");
        return 1;
    }
    static nvme_driver::Controller ctrl;
    if (auto r = ctrl.start(pool, irq0, irq1 ? irq1 : irq0); !r.ok()) {
        rt::log("nvme: controller start failed: %s", status_name(r.status()));
        return 2;
    }
    const nvme::ControllerInfo& info = ctrl.info();
    rt::log("nvme: controller '%s' serial '%s' firmware '%s': %u namespace(s), max transfer %llu KiB, write cache %s",
            info.model, info.serial, info.firmware, ctrl.namespace_count(),
            static_cast<unsigned long long>(ctrl.max_transfer() >> 10), ctrl.volatile_cache() ? "yes" : "no");
    for (u32 i = 0; i < ctrl.namespace_count(); i++) {
        const nvme_driver::Namespace& ns = ctrl.ns(i);
        rt::log("nvme: namespace %u: %llu blocks of %u bytes (%llu MiB)", ns.nsid,
                static_cast<unsigned long long>(ns.blocks), 1u << ns.lba_shift,
                static_cast<unsigned long long>((ns.blocks << ns.lba_shift) >> 20));
    }
    u32 service = rt::startup_handle("service");
    if (!service) rt::log("nvme: no service endpoint (the manifest names no consumer); serving no one");
    u64 timeout_ms = rt::args().number("timeout_ms", 0);
    if (!timeout_ms) timeout_ms = 30000;  // absent or 0: the default, never "time out at once"
    static nvme_driver::BlockBackend backend(ctrl, rt::args().number("test.drop_completion", 0));
    if (auto r = backend.init(); !r.ok()) {
        rt::log("nvme: service setup failed: %s", status_name(r.status()));
        return 2;
    }
    static rt::BlockServer server(backend, {"nvme", service, pool, ctrl.io_irq(), timeout_ms * 1'000'000ull});
    if (auto r = server.init(); !r.ok()) {
        rt::log("nvme: service setup failed: %s", status_name(r.status()));
        return 2;
    }
    server.run();
}
