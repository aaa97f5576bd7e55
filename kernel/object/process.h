// Process: an address space, the threads that run in it, the memory it
// owns and (with the capability space) the objects it may name.
// Lifecycle: Running -> Dead, once. Death releases everything the process
// held (threads, mappings, frames); the Process object itself lives on
// while a supervisor holds a handle, to report why it died.
#pragma once

#include "cap/cap_space.h"
#include "events/refusals.h"
#include "mm/address_space.h"
#include "object/mapping_list.h"
#include "object/object.h"
#include "object/thread.h"

namespace object {

struct ExitReason {
    enum class Kind : u8 { Running, Exited, Faulted, Killed };
    Kind kind = Kind::Running;
    i64 code = 0;     // Exited: the exit code
    u64 vector = 0;   // Faulted: exception vector
    u64 address = 0;  // Faulted: CR2 for page faults, else RIP
    u64 rip = 0;
};

const char* exit_kind_name(ExitReason::Kind k);

class Process : public Object {
public:
    static constexpr Type kType = Type::Process;
    static constexpr cap::Rights kDefaultRights =
        cap::kRightWait | cap::kRightInspect | cap::kRightManage | cap::kRightRevoke | kPassRights;

    static constexpr u32 kMaxThreads = 8;
    static constexpr u32 kMaxRegions = 24;
    static constexpr usize kNameLength = 32;

    // Returns the creator's reference; the process also holds one on
    // itself until it terminates. `kernel_memory` is the limit of its
    // kernel memory account (mm/account.h), which pays from here on for
    // everything the kernel holds for it — this object and its capability
    // space first: NoMemory if even they do not fit.
    static Result<RefPtr<Process>> create(const char* name, usize name_len, u64 kernel_memory);
    // Live (not yet terminated) processes.
    static u32 live_count();
    ~Process() override;

    mm::AddressSpace& address_space() { return m_space; }
    // Never null for a created process.
    mm::Account* kmem() const { return m_account.get(); }
    cap::Space& caps() { return *m_caps; }
    // Dead once everything it held is released (not merely once it stopped
    // running: a thread unwinding a device wait delays that, and a
    // supervisor that saw Dead earlier would act on grants not yet gone).
    u64 signals() const override { return m_released ? kSignalDead : 0; }

    // Picks an unused, page-aligned range of `bytes` in the map area
    // (MemoryObject mappings without a fixed address).
    Result<u64> reserve_map_area(u64 bytes);
    u32 pid() const { return m_pid; }
    // System calls its threads made (SyscallCount: what a Model B provider's
    // I/O costs, counted by the kernel).
    u64 syscalls() const { return m_syscalls; }
    void count_syscall() { m_syscalls++; }
    // Refusals attributed to this process, and its log budget
    // (events/refusals.h).
    refusals::ProcessState& refusal_state() { return m_refusals; }
    u64 refusals() const { return m_refusals.total; }
    // LogWrite's budget: a burst of kLogBurst lines, then kLogPerSecond.
    static constexpr u32 kLogBurst = 1024, kLogPerSecond = 200;
    util::TokenBucket& log_budget() { return m_log_budget; }
    u64 log_lines_dropped = 0;
    const char* name() const { return m_name; }
    bool alive() const { return m_exit.kind == ExitReason::Kind::Running; }
    const ExitReason& exit_reason() const { return m_exit; }

    // Anonymous, zeroed memory mapped at [base, base + pages*4K), owned by
    // the process, charged to its account and freed at its death.
    Result<void> map_anonymous(u64 base, u64 pages, mm::MapFlags flags);
    // Copies into memory this process already maps (used by the loader
    // before the process runs; the target is this process's space).
    Result<void> write_memory(u64 virt, const u8* data, usize len);

    Result<Thread*> spawn_thread(u64 entry, u64 user_rsp, u64 arg, u8 priority);
    // The thread ended on its own (ThreadExit): retire it; returns true
    // when it was the process's last thread.
    bool thread_finished(Thread* t);
    u32 thread_count() const { return m_thread_count; }
    Thread* thread(u32 i) const { return m_threads[i].get(); }

    // Ends the process: every thread retired, every region unmapped and its
    // frames freed, the address space torn down, and the process's
    // reference to itself dropped (so `this` may be gone on return unless
    // the caller holds a reference). Idempotent. If the calling thread
    // belongs to this process the caller must switch away after.
    // A thread asleep in a device wait is woken to unwind its call first;
    // the teardown then completes when it leaves the kernel (below), so
    // until then the process is dead (alive() is false) but not yet gone.
    void terminate(const ExitReason& why);
    // A thread that was sleeping in a device wait when its process was
    // terminated has unwound its system call: it ends now, and with the
    // last such thread the rest of terminate() runs. The caller switches
    // away after (the thread is dead).
    void finish_unwinding(Thread* t);

    u64 frames_owned() const;
    // Mappings of MemoryObjects / DeviceMmio windows in this process
    // (MappingList keeps it).
    MappingList::Mapping* mappings_head = nullptr;
    u64 entry() const { return m_entry; }
    void set_entry(u64 entry) { m_entry = entry; }
    Process* next_in_table = nullptr;

private:
    void close_dma_pools();
    void release_everything();
    struct Region {
        u64 base;
        u64 pages;
        u64* frames;  // heap array of `pages` physical addresses
    };

    Process() : Object(kType) {}
    void release_regions();
    // What a region of `pages` costs the account: its frames and their list.
    static u64 region_bytes(u64 pages);

    util::RefPtr<mm::Account> m_account;  // dropped last: charges made through it go first
    mm::AddressSpace m_space;
    cap::Space* m_caps = nullptr;  // kcap::ProcessSpace, heap-allocated (32 KiB)
    u64 m_map_cursor = 0x0000000100000000ull;
    u64 m_entry = 0;
    u32 m_pid = 0;
    u64 m_syscalls = 0;
    refusals::ProcessState m_refusals;
    util::TokenBucket m_log_budget{kLogBurst, kLogPerSecond};
    char m_name[kNameLength] = {};
    ExitReason m_exit;
    bool m_released = false;  // release_everything() ran
    RefPtr<Thread> m_threads[kMaxThreads];
    u32 m_thread_count = 0;
    Region m_regions[kMaxRegions] = {};
    u32 m_region_count = 0;
};

// The process table (for `ps` and lookups by pid). Holds no reference:
// a process leaves the table when its object is destroyed.
Process* first_process();
Process* find_process(u32 pid);

}  // namespace object
