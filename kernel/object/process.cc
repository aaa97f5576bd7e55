#include "object/process.h"

#include "arch/x86_64/cpu.h"
#include "console/log.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"
#include "mm/heap.h"
#include "mm/paging.h"
#include "object/dma_pool.h"
#include "object/endpoint.h"
#include "object/handles.h"
#include "sched/scheduler.h"
#include "util/format.h"

namespace object {
namespace {

Process* g_table;
u32 g_next_pid = 1;

void table_remove(Process* p) {
    for (Process** link = &g_table; *link; link = &(*link)->next_in_table) {
        if (*link == p) {
            *link = p->next_in_table;
            return;
        }
    }
}

}  // namespace

const char* exit_kind_name(ExitReason::Kind k) {
    switch (k) {
        case ExitReason::Kind::Running: return "running";
        case ExitReason::Kind::Exited: return "exited";
        case ExitReason::Kind::Faulted: return "faulted";
        case ExitReason::Kind::Killed: return "killed";
    }
    return "?";
}

Result<RefPtr<Process>> Process::create(const char* name, usize name_len, u64 kernel_memory) {
    util::RefPtr<mm::Account> account = mm::Account::create(kernel_memory);
    if (!account) return Status::NoMemory;
    // This object and its capability space (32 KiB of slots) are the
    // process's own first charge.
    auto charge =
        TRY(mm::Charge::take(account.get(), mm::object_bytes<Process>() + mm::object_bytes<kcap::ProcessSpace>()));
    auto p = RefPtr<Process>::adopt(new (std::nothrow) Process());
    if (!p) return Status::NoMemory;
    p->m_account = std::move(account);  // the creator's reference moves here
    p->adopt_charge(std::move(charge));
    usize n = name_len < kNameLength - 1 ? name_len : kNameLength - 1;
    for (usize i = 0; i < n; i++) p->m_name[i] = name[i];
    p->m_pid = g_next_pid++;
    p->m_account->set_owner(p->m_pid, p->m_name);
    TRY(p->m_space.init(p->m_account.get()));
    p->m_caps = new (std::nothrow) kcap::ProcessSpace(kcap::forest(), p->m_pid);
    if (!p->m_caps) return Status::NoMemory;
    // The process's reference to itself, held while it is alive (not a
    // RefPtr: an object cannot own itself); release_everything() drops it.
    p->ref();
    p->next_in_table = g_table;
    g_table = p.get();
    return p;
}

Process::~Process() {
    delete static_cast<kcap::ProcessSpace*>(m_caps);  // already emptied by terminate()
    m_space.destroy();  // no-op after terminate(); frees the root of a process that never ran
    table_remove(this);
    // Charges still held elsewhere (objects it created) keep the account
    // alive; m_account's reference goes with the members, this object's own
    // charge with the base class.
}

Result<u64> Process::reserve_map_area(u64 bytes) {
    constexpr u64 kMapAreaEnd = 0x0000700000000000ull;
    u64 span = (bytes + 0xfff) & ~0xfffull;
    if (span == 0 || span > kMapAreaEnd - m_map_cursor) return Status::NoMemory;
    u64 base = m_map_cursor;
    m_map_cursor += span + 4096;  // an unmapped guard page between mappings
    return base;
}

Result<void> Process::map_anonymous(u64 base, u64 pages, mm::MapFlags flags) {
    if (!alive()) return Status::Stale;
    if (m_region_count == kMaxRegions) return Status::NoMemory;
    if (pages == 0 || (base & 0xfff) || pages > (u64{1} << 40) / frames::kFrameSize) return Status::InvalidArgument;
    TRY(m_account->charge(region_bytes(pages)));
    auto* list = static_cast<u64*>(heap::alloc(pages * sizeof(u64)));
    if (!list) {
        m_account->release(region_bytes(pages));
        return Status::NoMemory;
    }
    u64 done = 0;
    Status failure = Status::Ok;
    for (; done < pages; done++) {
        auto frame = frames::alloc();
        if (!frame.ok()) {
            failure = frame.status();
            break;
        }
        u8* bytes = direct_map::to_virt<u8>(frame.value());
        for (usize i = 0; i < frames::kFrameSize; i++) bytes[i] = 0;
        if (auto r = m_space.map(base + done * frames::kFrameSize, frame.value(), flags); !r.ok()) {
            frames::free(frame.value());
            failure = r.status();
            break;
        }
        list[done] = frame.value();
    }
    if (failure != Status::Ok) {
        for (u64 i = 0; i < done; i++) {
            (void)m_space.unmap(base + i * frames::kFrameSize);
            frames::free(list[i]);
        }
        heap::free(list);
        m_account->release(region_bytes(pages));
        return failure;
    }
    m_regions[m_region_count++] = Region{base, pages, list};
    return {};
}

Result<void> Process::write_memory(u64 virt, const u8* data, usize len) {
    for (usize done = 0; done < len;) {
        u64 page = (virt + done) & ~0xfffull;
        u64 phys = TRY(m_space.lookup(page));
        usize off = (virt + done) & 0xfff;
        usize chunk = 4096 - off < len - done ? 4096 - off : len - done;
        u8* dst = direct_map::to_virt<u8>(phys) + off;
        for (usize i = 0; i < chunk; i++) dst[i] = data[done + i];
        done += chunk;
    }
    return {};
}

Result<Thread*> Process::spawn_thread(u64 entry, u64 user_rsp, u64 arg, u8 priority) {
    if (!alive()) return Status::Stale;
    if (m_thread_count == kMaxThreads) return Status::NoMemory;
    RefPtr<Thread> t = TRY(Thread::create_user(this, entry, user_rsp, arg, priority));
    Thread* started = t.get();
    m_threads[m_thread_count++] = std::move(t);  // the creator's reference moves here
    sched::make_ready(started);
    return started;
}

bool Process::thread_finished(Thread* t) {
    for (u32 i = 0; i < m_thread_count; i++) {
        if (m_threads[i].get() != t) continue;
        Endpoint::thread_gone(t);
        sched::retire(t);
        RefPtr<Thread> gone = std::move(m_threads[i]);
        m_threads[i] = std::move(m_threads[--m_thread_count]);
        break;  // `gone` drops the process's reference
    }
    return m_thread_count == 0;
}

void Process::release_regions() {
    for (u32 r = 0; r < m_region_count; r++) {
        Region& region = m_regions[r];
        for (u64 i = 0; i < region.pages; i++) {
            (void)m_space.unmap(region.base + i * frames::kFrameSize);
            frames::free(region.frames[i]);
        }
        heap::free(region.frames);
        m_account->release(region_bytes(region.pages));
    }
    m_region_count = 0;
}

u64 Process::region_bytes(u64 pages) { return pages * frames::kFrameSize + heap::block_bytes(pages * sizeof(u64)); }

u64 Process::frames_owned() const {
    u64 n = m_space.page_table_frames();
    for (u32 r = 0; r < m_region_count; r++) n += m_regions[r].pages;
    return n;
}

void Process::terminate(const ExitReason& why) {
    if (!alive()) return;
    m_exit = why;
    // A thread sleeping in a device wait (sched/device_wait.h) is in the
    // middle of a system call that took device state (a controller being
    // enabled, an admin command in flight): it is woken to unwind that
    // call, and the rest of the teardown waits until it leaves the kernel
    // (finish_unwinding). Every other thread ends here.
    u32 kept = 0;
    for (u32 i = 0; i < m_thread_count; i++) {
        Thread* t = m_threads[i].get();
        if (t->in_device_wait && t != sched::current()) {
            sched::wake(t, Status::Stale);
            m_threads[kept++] = std::move(m_threads[i]);
            continue;
        }
        Endpoint::thread_gone(t);  // callers and servers it talks to learn of it
        sched::retire(t);
        m_threads[i].reset();  // the process's reference
    }
    m_thread_count = kept;
    if (kept) return;
    release_everything();
}

void Process::finish_unwinding(Thread* t) {
    if (thread_finished(t)) release_everything();
}

void Process::release_everything() {
    // Leave this address space before tearing it down.
    if ((cpu::read_cr3() & paging::kAddressMask) == m_space.root()) cpu::write_cr3(paging::kernel_root());
    // DMA grants first (DESIGN §5): closing a DmaPool's last capability
    // stops its device — bus mastering off, class reset, interrupts masked —
    // before the buffers it may have been handed are released below.
    close_dma_pools();
    // Every capability closed: objects released, MemoryObject mappings made
    // through them unmapped (before the address space goes).
    m_caps->close_all();
    if (u32 stray = MappingList::unmap_everything_of(this))
        LOG_ERROR("proc: pid %u had %u mappings left after closing its capabilities (removed)", m_pid, stray);
    kcap::finish();
    release_regions();
    m_space.destroy();
    m_released = true;
    signals_changed();  // supervisors waiting for kSignalDead
    unref();            // the self-reference taken at create(); may destroy *this
}

void Process::close_dma_pools() {
    // A grant lives no longer than its holder (issue 11, finding 4): a pool
    // whose capability this process held is torn down now, even when
    // copies of it were handed to other processes, which would otherwise
    // keep bus mastering on and the function busy after its provider died.
    // (Its last capability's going does the same when there is none.)
    // Copies then answer TornDown, until the binding's owner — devmgr —
    // revokes them.
    cap::SlotInfo slots[32];
    u32 next = 0;
    while (next < m_caps->capacity()) {
        u32 start = next;
        u32 n = m_caps->enumerate(start, slots, 32, &next);
        RefPtr<DmaPool> pools[32];
        u32 held = 0;
        for (u32 i = 0; i < n; i++) {
            if (slots[i].state != cap::SlotState::Live || slots[i].type != static_cast<u16>(DmaPool::kType)) continue;
            // Held past the close, to see what is left of it.
            pools[held++] = RefPtr<DmaPool>::share(static_cast<DmaPool*>(static_cast<Object*>(slots[i].object)));
            (void)m_caps->close(slots[i].handle);
        }
        kcap::finish();  // the pools without copies are torn down here
        for (u32 i = 0; i < held; i++) {
            kdma::Session* session = pools[i]->session();
            if (pools[i]->capabilities() > 0 && session && session->active()) {
                char why[96];
                format(why, sizeof why, "pid %u '%s' died holding the pool; copies elsewhere end with it", m_pid,
                       m_name);
                session->teardown(why);
            }
            pools[i].reset();
        }
        if (n == 0) break;
    }
    kcap::finish();
}

u32 Process::live_count() {
    u32 n = 0;
    for (Process* p = g_table; p; p = p->next_in_table) n += p->alive() ? 1 : 0;
    return n;
}

Process* first_process() { return g_table; }

Process* find_process(u32 pid) {
    for (Process* p = g_table; p; p = p->next_in_table)
        if (p->pid() == pid) return p;
    return nullptr;
}

}  // namespace object
