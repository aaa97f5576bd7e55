// Kernel memory accounts (issue 11, finding 6; docs/syscalls.md "Kernel
// memory"). Every process has one, with a limit its spawner chose (the
// manifest's `kernel_memory`) and the bytes the kernel holds on its
// behalf: its image, stack and startup page, page tables, capability
// space, threads and their kernel stacks, MemoryObjects (frames and frame
// lists), mapping records, and every kernel object it creates through a
// system call. A charge that would pass the limit fails with NoMemory
// before anything is allocated, so one process running out of its quota
// leaves everyone else's memory alone; the first refusal is logged once
// per account.
//
// Who pays: the memory's *creator*, for as long as the memory lives. An
// object keeps its Charge (and with it a reference to the account) until
// it is destroyed — even when another process holds it by then, and after
// its creator has died. Mapping records and page tables are the mapping
// process's (returned at unmap and when its address space goes). DMA
// frames are charged to the DmaPool's quota instead (kdma::Session), not
// here.
//
// Not charged, with the reason: the Account itself (a few dozen bytes, one
// per process); the derivation forest (a fixed array; each process holds
// at most its capability space's 1024 slots of it); kernel page tables of
// the kernel-stack area (kernel-wide, at most one table per 512 stack
// pages, never freed); transient buffers freed before the system call
// returns (ProcessSpawn's request copy).
//
// Single CPU, non-preemptible kernel: no locking yet (with SMP the counters
// become per-account atomics; a charge is one compare-and-add).
#pragma once

#include "mm/heap.h"
#include "util/byte_quota.h"
#include "util/ref_ptr.h"
#include "util/result.h"
#include "util/types.h"

namespace mm {

// Reference counted (util::RefCounted): its process and every Charge
// against it hold a RefPtr<Account>.
class Account : public util::RefCounted<Account> {
public:
    // An account with `limit` bytes (the reference is the creator's); null
    // when the heap is out.
    static util::RefPtr<Account> create(u64 limit);

    // Who it belongs to, for the refusal log.
    void set_owner(u32 pid, const char* name);

    // NoMemory, and nothing charged, when `bytes` would pass the limit.
    [[nodiscard]] Result<void> charge(u64 bytes);
    // Gives back bytes charged earlier (more than is charged is a kernel
    // bug: logged as "kmem: BUG", the account emptied).
    void release(u64 bytes);

    u64 limit() const { return m_quota.limit(); }
    u64 used() const { return m_quota.used(); }
    u64 peak() const { return m_quota.peak(); }
    u64 refused() const { return m_quota.refused(); }

private:
    friend class util::RefCounted<Account>;
    explicit Account(u64 limit) : m_quota(limit) {}
    ~Account() = default;
    // Reports charges left behind, then deletes.
    void last_reference_gone();
    [[noreturn]] void reference_underflow();

    ByteQuota m_quota;
    u32 m_pid = 0;
    char m_name[32] = {};
};

// Bytes charged to an account, returned when the Charge is destroyed: the
// memory it pays for holds it (an object, a region). Move-only. A Charge
// against no account (kernel-owned memory) is empty and returns nothing.
class Charge {
public:
    Charge() = default;
    // NoMemory past the account's limit. A null account charges nothing.
    [[nodiscard]] static Result<Charge> take(Account* account, u64 bytes);
    Charge(Charge&& o) : m_account(std::move(o.m_account)), m_bytes(o.m_bytes) { o.m_bytes = 0; }
    Charge& operator=(Charge&& o) {
        if (this != &o) {
            reset();
            m_account = std::move(o.m_account);
            m_bytes = o.m_bytes;
            o.m_bytes = 0;
        }
        return *this;
    }
    Charge(const Charge&) = delete;
    Charge& operator=(const Charge&) = delete;
    ~Charge() { reset(); }

    u64 bytes() const { return m_bytes; }
    // Returns the bytes now.
    void reset();

private:
    util::RefPtr<Account> m_account;  // while m_bytes are charged
    u64 m_bytes = 0;
};

// What the heap really takes for an object of type T (its size class).
template <typename T>
inline u64 object_bytes() {
    return heap::block_bytes(sizeof(T));
}

// The limit init gets (the kernel starts it): `kmem.init=SIZE` on the
// command line (K/M/G suffixes), or by default all usable memory — init is
// the root every other limit is carved from (a spawner hands out at most
// its own limit).
u64 init_limit();

}  // namespace mm
