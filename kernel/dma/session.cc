#include "dma/session.h"

#include "abi/syscall.h"
#include "boot/cmdline.h"
#include "console/log.h"
#include "debug/address_audit.h"
#include "debug/panic.h"
#include "devices/virtio_class.h"
#include "dma/class_reset.h"
#include "events/refusals.h"
#include "iommu/domain.h"
#include "iommu/interrupt_remapping.h"
#include "iommu/iova_allocator.h"
#include "irq/msi_vectors.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"
#include "object/device_mmio.h"
#include "object/dma_pool.h"
#include "object/process.h"
#include "pci/enumerate.h"
#include "util/format.h"

namespace kdma {
namespace {

constexpr u32 kMaxFunctions = 256;
Session* g_active[kMaxFunctions];
// A function whose teardown could not confirm the device stopped: it may
// still be working through queues that point into quarantined memory, so
// it never gets another grant (fail closed, until reboot).
bool g_unstoppable[kMaxFunctions];
Session* g_sessions;  // every live Session
Session* g_stopping;  // tearing down, waiting for the device to confirm its reset (poll_stopping)
u32 g_next_id = 1;
u64 g_quarantined_pages;

void describe(u32 function, char (&out)[16]) {
    const ecam::Address& a = pci_enum::function(function).address;
    format(out, sizeof out, "%02x:%02x.%x", a.bus, a.device, a.function);
}

}  // namespace

Session* active_session(u32 function) { return function < kMaxFunctions ? g_active[function] : nullptr; }

// The remapped lane's IOVAs start above all physical memory (and the 4 GiB
// below it, the MSI window included): no IOVA a provider learns is ever
// the address of RAM, so the address audit still catches any physical
// address that reaches user space.
static u64 iova_floor() {
    constexpr u64 kGiB = 1ull << 30;
    const u64 top = direct_map::limit() > 4 * kGiB ? direct_map::limit() : 4 * kGiB;
    return (top + kGiB - 1) & ~(kGiB - 1);
}

Result<util::RefPtr<Session>> Session::create(u32 function, u64 quota_bytes, u64 lane) {
    if (function >= kMaxFunctions || function >= pci_enum::count()) return Status::InvalidArgument;
    if (quota_bytes == 0 || quota_bytes > kMaxQuota) return Status::InvalidArgument;
    const u64 kind = lane & 0xff;
    const bool accept_unremapped = lane & abi::kDmaLaneAcceptUnremappedInterrupts;
    if ((lane & ~(0xffull | abi::kDmaLaneAcceptUnremappedInterrupts)) || kind > abi::kDmaLaneRemapped ||
        (accept_unremapped && kind != abi::kDmaLaneRemapped))
        return Status::InvalidArgument;
    if (g_active[function]) return Status::Busy;
    if (g_unstoppable[function]) return Status::TornDown;
    // Only classes the kernel can mediate get DMA on the brokered lane: for
    // any other function nothing filters its registers (a direct window
    // could aim it anywhere) and no class reset can stop it.
    const pci_enum::Function& f = pci_enum::function(function);
    if (f.registers.kind == devices::RegisterMap::Kind::DenyAll) return Status::Unsupported;
    // A virtio class whose payloads carry guest-physical addresses the
    // broker cannot see (balloon, GPU, ...): no grant, default deny
    // (devices/virtio_class.h).
    if (f.registers.kind == devices::RegisterMap::Kind::Virtio &&
        !devices::virtio_class_brokered(f.header.vendor, f.header.device))
        return Status::Forbidden;
    object::Process* owner = refusals::current_process();
    auto* s = new (std::nothrow) Session(g_next_id, function, quota_bytes, owner ? owner->pid() : 0);
    if (!s) return Status::NoMemory;
    char name[16];
    describe(function, name);
    // Behind a translating unit the device gets its domain, empty, before
    // it may master the bus: it reaches nothing until memory is granted.
    auto domain = iommu::Domain::create(function);
    if (domain.ok()) {
        s->m_domain = domain.value();
    } else if (domain.status() != Status::NotFound) {
        // Covered (or perhaps covered) but no domain: the device would be
        // blocked, or worse, untranslated by a unit we cannot name.
        LOG_ERROR("dma: %s gets no DMA grant: no remapping domain: %s", name, status_name(domain.status()));
        delete s;
        return domain.status();
    }
    if (kind == abi::kDmaLaneRemapped) {
        // Model B: the provider writes device addresses itself, so only a
        // domain makes them safe, and only interrupt remapping stops it
        // aiming the device at the interrupt window.
        const char* refused =
            !s->m_domain ? "no translating VT-d unit covers it"
            : !intremap::covers(function) && !accept_unremapped
                ? "interrupts are not remapped, so the device could raise any interrupt (the manifest "
                  "may accept that)"
                : nullptr;
        if (!refused && !s->m_domain->attached()) refused = "its domain is not attached";
        if (!refused) {
            s->m_iovas = new (std::nothrow) vtd::IovaAllocator(s->m_domain->iova_bits());
            // Everything below the floor held for good (in two: the
            // allocator never places a range across the MSI window).
            if (!s->m_iovas || !s->m_iovas->allocate(vtd::IovaAllocator::kMsiFirst - vtd::IovaAllocator::kFirst).ok() ||
                !s->m_iovas->allocate(iova_floor() - vtd::IovaAllocator::kMsiEnd).ok())
                refused = "no IOVA space above physical memory";
        }
        if (refused) {
            const Status why = !s->m_domain ? Status::Unsupported : Status::Forbidden;
            refusals::record(owner, abi::RefusalKind::Syscall, function, why,
                             static_cast<u64>(abi::Syscall::DmaPoolCreate), log::Level::Warn,
                             "dma: %s: remapped lane refused: %s", name, refused);
            delete s;  // its domain and IOVAs with it
            return why;
        }
        if (!intremap::covers(function))
            LOG_WARN(
                "dma: %s: remapped lane without interrupt remapping, as the manifest accepts: its device can raise "
                "any interrupt",
                name);
    }
    if (auto on = set_bus_master(function); !on.ok()) {
        delete s;
        return on.status();
    }
    g_next_id++;
    s->m_next = g_sessions;
    g_sessions = s;
    g_active[function] = s;
    if (s->m_iovas)
        LOG_INFO(
            "dma: %s granted DMA (session %u, remapped lane, quota %llu KiB, vtd unit %u domain %u: IOVAs from "
            "0x%llx): "
            "bus mastering on",
            name, s->m_id, static_cast<unsigned long long>(quota_bytes >> 10), s->m_domain->unit(), s->m_domain->id(),
            static_cast<unsigned long long>(iova_floor()));
    else if (s->m_domain)
        LOG_INFO(
            "dma: %s granted DMA (session %u, bounce lane, quota %llu KiB, vtd unit %u domain %u: its ranges only): "
            "bus mastering on",
            name, s->m_id, static_cast<unsigned long long>(quota_bytes >> 10), s->m_domain->unit(), s->m_domain->id());
    else
        LOG_INFO("dma: %s granted DMA (session %u, bounce lane, quota %llu KiB): bus mastering on", name, s->m_id,
                 static_cast<unsigned long long>(quota_bytes >> 10));
    return util::RefPtr<Session>::adopt(s);
}

Session::~Session() {
    // Detached at teardown (or never given out): its tables go.
    if (m_domain) m_domain->release();
    delete m_iovas;
}

void Session::reference_underflow() { panic("dma: unref of a dead session"); }

void Session::last_reference_gone() {
    // The pool holds a reference until it is torn down, so by now the
    // device is quiet (or quarantined) and the ledger holds only ranges of
    // objects that are gone.
    if (m_state == SessionState::Active || m_state == SessionState::TearingDown)
        panic("dma: session %u freed while its grant is live", m_id);
    // Frame accounting back at its baseline: everything the grant took came
    // back (or is counted as quarantined).
    if (m_state == SessionState::Quiesced && m_used != 0)
        panic("dma: session %u ends with %llu bytes unaccounted", m_id, static_cast<unsigned long long>(m_used));
    LOG_INFO("dma: session %u closed: %s", m_id,
             m_state == SessionState::Quiesced ? "every DMA frame returned" : "its DMA frames stay quarantined");
    for (Session** link = &g_sessions; *link; link = &(*link)->m_next) {
        if (*link == this) {
            *link = m_next;
            break;
        }
    }
    delete this;
}

Result<u64> Session::expose(u64 phys, u64 bytes) {
    if (!m_domain) return phys;
    u64 at = phys;
    if (m_iovas) at = TRY(m_iovas->allocate(bytes));
    if (auto mapped = m_domain->map(at, phys, bytes, vtd::kSlRead | vtd::kSlWrite); !mapped.ok()) {
        if (mapped.status() == Status::Timeout) return Status::Timeout;  // the unit's state unknown: kept
        if (m_iovas) (void)m_iovas->free(at);
        return mapped.status() == Status::Busy ? Status::Malformed : Status::NoMemory;
    }
    return at;
}

bool Session::withdraw(u64 device_address, u64 bytes) {
    if (!m_domain) return true;
    if (auto unmapped = m_domain->unmap(device_address, bytes); !unmapped.ok()) {
        LOG_ERROR("dma: session %u: unmapping %llu bytes not confirmed (%s): quarantined", m_id,
                  static_cast<unsigned long long>(bytes), status_name(unmapped.status()));
        return false;
    }
    if (m_iovas) (void)m_iovas->free(device_address);
    return true;
}

Result<u64> Session::device_address(u32 id) const {
    if (!m_iovas) return Status::Forbidden;
    const dma::Ledger::Entry* e = m_ledger.find(id);
    if (!e) return Status::NotFound;
    return e->device_address;
}

void Session::give_back(void* self, u64 phys, u64 bytes, u64 device_address) {
    auto* s = static_cast<Session*>(self);
    // DESIGN §5, checked where frames are returned: nothing comes back
    // between "the grant ended" and "the device is confirmed quiet" (the
    // ledger itself never gives back a range with in-flight holds).
    if (s->m_state == SessionState::TearingDown || s->m_state == SessionState::Quarantined)
        panic("dma: session %u frees frames before its device is quiet", s->m_id);
    // Behind a unit the frames are reused only once it confirmed they are
    // unmapped (DESIGN §5 step 4, per range). If it did not, they may still
    // be reachable: kept out of circulation for good.
    if (!s->withdraw(device_address, bytes)) {
        g_quarantined_pages += bytes / frames::kFrameSize;
        s->m_used -= bytes;
        return;
    }
    frames::free_contiguous(phys, bytes / frames::kFrameSize);
    s->m_used -= bytes;
    if (s->m_state == SessionState::Quiesced) s->m_freed_after_reset += bytes / frames::kFrameSize;
}

Result<u32> Session::allocate(u64 bytes, u32 owner, dma::Use use, u64* phys) {
    if (!active()) return Status::TornDown;
    // The provider answers for its device: the process that allocates from
    // the grant (devmgr creates the pool and hands it on).
    if (object::Process* caller = refusals::current_process()) m_owner_pid = caller->pid();
    if (bytes == 0) return Status::InvalidArgument;
    u64 pages = (bytes + frames::kFrameSize - 1) / frames::kFrameSize;
    u64 rounded = pages * frames::kFrameSize;
    if (rounded > m_quota - m_used) return Status::QuotaExceeded;
    u64 base = TRY(frames::alloc_contiguous(pages));
    // Zeroed before the device can reach it.
    u64* words = direct_map::to_virt<u64>(base);
    for (u64 i = 0; i < rounded / 8; i++) words[i] = 0;
    auto at = expose(base, rounded);
    if (!at.ok()) {
        if (at.status() == Status::Timeout)
            g_quarantined_pages += pages;  // the unit did not confirm: never reused
        else
            frames::free_contiguous(base, pages);
        return at.status();
    }
    auto id = m_ledger.add(base, rounded, owner, use, at.value());
    if (!id.ok()) {
        if (!withdraw(at.value(), rounded)) {
            g_quarantined_pages += pages;  // still reachable: never reused
            return id.status();
        }
        frames::free_contiguous(base, pages);
        return id.status();
    }
    m_used += rounded;
    *phys = base;
    return id.value();
}

void Session::release(u32 id) {
    auto r = m_ledger.release(id, give_back, this);
    if (!r.ok()) LOG_ERROR("dma: session %u release of ledger entry %u: %s", m_id, id, status_name(r.status()));
}

void Session::unhold(u32 id) {
    auto r = m_ledger.unhold(id, give_back, this);
    if (!r.ok()) LOG_ERROR("dma: session %u unhold of ledger entry %u: %s", m_id, id, status_name(r.status()));
}

void Session::teardown(const char* why) {
    if (m_state != SessionState::Active) return;
    m_state = SessionState::TearingDown;  // 1. new operations refused
    m_ledger.stop();                      // and nothing given back until step 5 says how
    char name[16];
    describe(m_function, name);
    // ... and on the remapped lane, the windows made under this grant (the
    // doorbells its provider rang by a store) are no longer anyone's.
    if (remapped()) {
        u32 windows = object::unmap_grant_windows(this);
        LOG_INFO("dma: %s teardown step 1: %u window mapping(s) of the grant removed", name, windows);
    }
    u64 in_flight = m_ledger.held_bytes();
    u32 deferred = m_ledger.deferred();
    LOG_INFO("dma: %s teardown (%s): session %u, %u ranges live, %llu bytes in flight, %u frees deferred", name, why,
             m_id, m_ledger.live(), static_cast<unsigned long long>(in_flight), deferred);
    // 2. the device stops DMA.
    m_bus_master_off = clear_bus_master(m_function).ok();
    if (m_bus_master_off)
        LOG_INFO("dma: %s teardown step 2: bus mastering off", name);
    else
        LOG_ERROR("dma: %s teardown: bus master enable did not clear", name);
    // test.dma_stuck: teardown's reset "times out", so the quarantine path
    // (a device that cannot be confirmed stopped) runs on QEMU's devices,
    // which always stop. The device is really reset all the same.
    usize len = 0;
    bool pretend_stuck = cmdline::get("test.dma_stuck", &len) != nullptr;
    auto started = start_reset(m_function);
    if (!started.ok() || pretend_stuck) {
        LOG_ERROR("dma: %s teardown: class reset not confirmed: %s", name,
                  status_name(started.ok() ? Status::Timeout : started.status()));
        finish_teardown(false);
        return;
    }
    // Teardown runs where nothing may block (a capability's release, a
    // process's death): a device that confirms within the spin bound is
    // finished here; a slower one is left to the timer tick
    // (poll_stopping), its memory held all the while — nothing is freed
    // that the device may still write.
    m_reset_started_ns = clock::monotonic_ns();
    auto confirmed = sched::wait_until(reset_limit_ns(m_function), sched::WaitHow::Spin,
                                       [&] { return reset_confirmed(m_function); });
    if (confirmed.ok()) {
        LOG_INFO("dma: %s teardown step 2: class reset done (%s) after %llu us", name, reset_method(m_function),
                 static_cast<unsigned long long>(confirmed.value() / 1000));
        finish_teardown(m_bus_master_off);
        return;
    }
    m_stop_deadline_ns = m_reset_started_ns + reset_limit_ns(m_function);
    ref();  // the stopping list's
    m_next_stopping = g_stopping;
    g_stopping = this;
    LOG_INFO(
        "dma: %s teardown step 2: waiting for the device to confirm its reset (%s; up to %llu ms); its DMA "
        "memory stays held meanwhile",
        name, reset_method(m_function),
        static_cast<unsigned long long>((m_stop_deadline_ns - m_reset_started_ns) / 1'000'000));
}

void Session::finish_teardown(bool stopped) {
    char name[16];
    describe(m_function, name);
    // 3. interrupts masked.
    u32 masked = irq::mask_function(m_function);
    LOG_INFO("dma: %s teardown step 3: %u interrupt vectors masked", name, masked);
    // 4. IOMMU mappings: the context entry goes, and with it every
    // translation the unit cached (the ranges' own unmapping follows as
    // their owners release them, with nothing left to invalidate).
    if (m_domain) {
        const u64 pages = m_domain->mapped_pages();
        if (auto detached = m_domain->detach(); detached.ok()) {
            LOG_INFO(
                "dma: %s teardown step 4: context entry cleared, vtd domain %u invalidated (%llu pages were mapped): "
                "the device reaches nothing",
                name, m_domain->id(), static_cast<unsigned long long>(pages));
        } else {
            LOG_ERROR("dma: %s teardown step 4: the unit did not confirm the detach (%s)", name,
                      status_name(detached.status()));
            stopped = false;
        }
    } else {
        LOG_INFO("dma: %s teardown step 4: no IOMMU mappings to remove (bounce lane)", name);
    }
    // 5. frames: back, or quarantined.
    if (stopped) {
        m_state = SessionState::Quiesced;
        u32 freed = m_ledger.quiesce(give_back, this);
        LOG_INFO(
            "dma: %s teardown step 5: device quiet; %u deferred ranges freed (%llu frames), %u ranges still "
            "held by their owners",
            name, freed, static_cast<unsigned long long>(m_freed_after_reset), m_ledger.live());
    } else {
        m_state = SessionState::Quarantined;
        // Everything recorded stays out of circulation, released or not.
        u64 bytes = m_ledger.quarantine();
        g_quarantined_pages += bytes / frames::kFrameSize;
        g_unstoppable[m_function] = true;
        LOG_ERROR(
            "dma: %s teardown: device not confirmed stopped; %llu bytes of DMA memory quarantined (never reused), "
            "and the function gets no further DMA grant",
            name, static_cast<unsigned long long>(bytes));
        // ... and unmapped from everyone (DESIGN §5): the device may still
        // write it, so no process may read it as its own data — the
        // provider's, and consumers' it was shared with, whatever
        // capabilities they still hold (new mappings are refused: the
        // session is no longer active).
        u32 unmapped = object::unmap_session_memory(this);
        LOG_ERROR("dma: %s teardown: %u user mappings of the quarantined memory removed", name, unmapped);
    }
    g_active[m_function] = nullptr;
    audit::log_summary("after teardown");
}

void poll_stopping() {
    u64 now = clock::monotonic_ns();
    for (Session** link = &g_stopping; *link;) {
        Session* s = *link;
        bool confirmed = reset_confirmed(s->m_function);
        if (!confirmed && now < s->m_stop_deadline_ns) {
            link = &s->m_next_stopping;
            continue;
        }
        *link = s->m_next_stopping;
        s->m_next_stopping = nullptr;
        char name[16];
        describe(s->m_function, name);
        if (confirmed)
            LOG_INFO("dma: %s teardown step 2: class reset done (%s) after %llu us", name, reset_method(s->m_function),
                     static_cast<unsigned long long>((now - s->m_reset_started_ns) / 1000));
        else
            LOG_ERROR("dma: %s teardown: class reset not confirmed within %llu ms", name,
                      static_cast<unsigned long long>((s->m_stop_deadline_ns - s->m_reset_started_ns) / 1'000'000));
        s->finish_teardown(confirmed && s->m_bus_master_off);
        s->unref();  // the stopping list's
    }
}

abi::DmaUsage usage_of(Session* s) {
    abi::DmaUsage u{};
    if (!s) return u;
    u.quota = s->quota();
    u.used = s->used();
    u.in_flight = s->ledger().held_bytes();
    u.ranges = s->ledger().live();
    u.deferred = s->ledger().deferred();
    u.session = s->id();
    u.lane = s->remapped() ? abi::kDmaLaneRemapped : abi::kDmaLaneBrokered;
    switch (s->state()) {
        case SessionState::Active: u.state = abi::kDmaActive; break;
        case SessionState::TearingDown: u.state = abi::kDmaTearingDown; break;
        case SessionState::Quiesced: u.state = abi::kDmaQuiesced; break;
        case SessionState::Quarantined: u.state = abi::kDmaQuarantined; break;
    }
    return u;
}

bool Session::is_dma_address(u64 value) {
    for (Session* s = g_sessions; s; s = s->m_next)
        if (s->m_ledger.covers(value, 1)) return true;
    return false;
}

u64 Session::quarantined_pages() { return g_quarantined_pages; }

}  // namespace kdma
