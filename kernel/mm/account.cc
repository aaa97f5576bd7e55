#include "mm/account.h"

#include "boot/cmdline.h"
#include "console/log.h"
#include "debug/panic.h"
#include "mm/frame_allocator.h"
#include "util/parse_size.h"

namespace mm {

util::RefPtr<Account> Account::create(u64 limit) {
    return util::RefPtr<Account>::adopt(new (std::nothrow) Account(limit));
}

void Account::set_owner(u32 pid, const char* name) {
    m_pid = pid;
    usize i = 0;
    for (; name[i] && i + 1 < sizeof m_name; i++) m_name[i] = name[i];
    m_name[i] = '\0';
}

void Account::reference_underflow() { panic("kmem: unref of a dead account (pid %u)", m_pid); }

void Account::last_reference_gone() {
    // Every charge holds a reference, and the owner gives back its direct
    // charges (regions, page tables, mapping records) before it drops its
    // own: anything left is a bookkeeping bug, reported but not fatal (a
    // process's limit is no reason to stop the machine).
    if (used() != 0)
        LOG_ERROR("kmem: BUG: account of pid %u '%s' destroyed with %llu bytes charged", m_pid, m_name,
                  static_cast<unsigned long long>(used()));
    delete this;
}

Result<void> Account::charge(u64 bytes) {
    if (m_quota.charge(bytes)) return {};
    // Once per account: a process hammering its limit cannot flood the log
    // (its later refusals are counted: SystemInfo's kmem_refused).
    if (m_quota.refused() == 1)
        LOG_WARN(
            "kmem: pid %u '%s' reached its kernel memory limit: %llu of %llu bytes in use, %llu more asked "
            "(no-memory; further refusals are counted)",
            m_pid, m_name, static_cast<unsigned long long>(used()), static_cast<unsigned long long>(limit()),
            static_cast<unsigned long long>(bytes));
    return Status::NoMemory;
}

void Account::release(u64 bytes) {
    if (!m_quota.release(bytes)) {
        LOG_ERROR("kmem: BUG: pid %u '%s' gives back %llu bytes but has %llu charged", m_pid, m_name,
                  static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(used()));
        (void)m_quota.release(used());
    }
}

Result<Charge> Charge::take(Account* account, u64 bytes) {
    Charge c;
    if (!account || bytes == 0) return c;
    TRY(account->charge(bytes));
    c.m_account = util::RefPtr<Account>::share(account);
    c.m_bytes = bytes;
    return c;
}

void Charge::reset() {
    if (!m_account) return;
    m_account->release(m_bytes);
    m_account.reset();
    m_bytes = 0;
}

u64 init_limit() {
    usize len = 0;
    const char* v = cmdline::get("kmem.init", &len);
    u64 all = frames::stats().total * frames::kFrameSize;
    if (!v) return all;
    u64 limit = 0;
    if (!parse_size(v, len, &limit) || limit == 0) {
        LOG_WARN("kmem: kmem.init=%.*s is not a size (e.g. 64M); init gets all usable memory", static_cast<int>(len),
                 v);
        return all;
    }
    return limit;
}

}  // namespace mm
