#include "rt/supervisor.h"

#include "rt/log.h"

namespace rt {

void Supervisor::on_death(u32 i) {
    handle_death(i);
    changed(i);
}

void Supervisor::handle_death(u32 i) {
    Supervised& c = m_children[i];
    const u64 ran = c.started_at ? clock_ns() - c.started_at : 0;
    c.started_at = 0;
    auto info = process_info(c.process.get());
    c.process.reset();
    if (!info.ok()) return;
    const char* who = m_client.who;
    const char* name = m_client.name(m_client.ctx, i);
    const abi::ProcessInfo& in = info.value();
    switch (in.kind) {
        case abi::ExitKind::Exited:
            log("%s: %s (pid %u) exited with %lld", who, name, in.pid, static_cast<long long>(in.exit_code));
            break;
        case abi::ExitKind::Faulted:
            log("%s: %s (pid %u) faulted: vector %llu at rip 0x%llx address 0x%llx", who, name, in.pid,
                static_cast<unsigned long long>(in.fault_vector), static_cast<unsigned long long>(in.fault_rip),
                static_cast<unsigned long long>(in.fault_address));
            break;
        default: log("%s: %s (pid %u) was killed", who, name, in.pid); break;
    }
    if (m_client.on_exit) m_client.on_exit(m_client.ctx, i);
    RestartRule rule = m_client.rule(m_client.ctx, i);
    bool failed = in.kind != abi::ExitKind::Exited || in.exit_code != 0;
    if (!rule.on_failure || !failed) return ended(i);
    if (ran >= kHealthyRunNs && c.restarts) {
        log("%s: %s ran %llu s since it last started: its restart count starts over", who, name,
            static_cast<unsigned long long>(ran / 1'000'000'000));
        c.restarts = 0;
    }
    if (c.restarts >= rule.limit) {
        log("%s: %s will not be restarted: restart limit %u reached", who, name, rule.limit);
        c.gave_up = true;
        return ended(i);
    }
    c.restart_at = clock_ns() + u64(rule.backoff_ms) * 1000000;
}

void Supervisor::ended(u32 i) {
    if (m_client.on_ended) m_client.on_ended(m_client.ctx, i);
}

void Supervisor::run() {
    for (;;) {
        auto ws = waitset_create();
        if (!ws.ok()) return;
        bool anything = false;
        u64 next_restart = 0;
        for (u32 i = 0; i < m_count; i++) {
            if (m_children[i].process) {
                // Started by the client (first start, adoption) or by a
                // restart below: its run counts from here.
                if (!m_children[i].started_at) m_children[i].started_at = clock_ns();
                (void)waitset_add(ws.value().get(), m_children[i].process.get(), abi::kSignalDead, i);
                anything = true;
            }
            u64 at = m_children[i].restart_at;
            if (at && (!next_restart || at < next_restart)) next_restart = at;
        }
        constexpr u64 kServiceKey = ~u64{0};
        constexpr u64 kDirectoryKey = u64{1} << 32;  // + index; children are 0..m_count-1
        constexpr u64 kReadyKey = ~u64{0} - 1;
        if (m_client.service) (void)waitset_add(ws.value().get(), m_client.service, abi::kSignalReadable, kServiceKey);
        bool directories = false;
        for (u32 d = 0; d < m_client.directory_count; d++) {
            if (!m_client.directories[d]) continue;
            (void)waitset_add(ws.value().get(), m_client.directories[d], abi::kSignalReadable, kDirectoryKey + d);
            directories = true;
        }
        if (m_client.ready_source && m_client.on_ready) {
            if (auto added = waitset_add(ws.value().get(), m_client.ready_source, abi::kSignalReady, kReadyKey);
                !added.ok()) {
                // Without the wait right it never will be: stop asking.
                log("%s: cannot wait for its ready source (%s); it is not waited on", m_client.who,
                    status_name(added.status()));
                m_client.ready_source = 0;
            }
        }
        if (!anything && !next_restart && !m_client.service && !directories) {
            log("%s: nothing left to supervise", m_client.who);
            return;
        }
        u64 timeout = abi::kForever;
        if (next_restart) {
            u64 now = clock_ns();
            timeout = next_restart > now ? next_restart - now : 0;
        }
        abi::WaitEvent events[8];
        auto n = waitset_wait(ws.value().get(), events, 8, timeout);
        if (n.ok()) {
            for (u32 e = 0; e < n.value(); e++) {
                u64 key = events[e].key;
                if (key == kServiceKey)
                    m_client.on_request(m_client.ctx);
                else if (key == kReadyKey)
                    m_client.on_ready(m_client.ctx);
                else if (key >= kDirectoryKey)
                    m_client.on_directory_request(m_client.ctx, static_cast<u32>(key - kDirectoryKey));
                else
                    on_death(static_cast<u32>(key));
            }
        }
        u64 now = clock_ns();
        for (u32 i = 0; i < m_count; i++) {
            Supervised& c = m_children[i];
            if (!c.restart_at || c.restart_at > now) continue;
            c.restart_at = 0;
            c.restarts++;
            if (!c.retrying)
                log("%s: restarting %s (%u of %u)", m_client.who, m_client.name(m_client.ctx, i), c.restarts,
                    m_client.rule(m_client.ctx, i).limit);
            if (!m_client.restart(m_client.ctx, i)) {
                c.gave_up = true;
                ended(i);
            } else if (!c.process && c.restart_at)
                c.restarts--;  // not started yet: tried again later, not counted
            c.retrying = !c.process && c.restart_at;
            changed(i);
        }
    }
}

}  // namespace rt
