// Canonical manifest text from a Manifest: what init logs as the effective
// configuration, and what the fuzzer re-parses to check that accepted
// entries mean exactly what they say (parse -> write -> parse is stable).
#include <stdarg.h>

#include "manifest/manifest.h"
#include "manifest/names.h"
#include "util/format.h"

namespace manifest {
namespace {

// Appends to a caller buffer with snprintf semantics: counts everything,
// writes what fits, always leaves a NUL when cap > 0.
class Writer {
public:
    Writer(char* buf, usize cap) : m_buf(buf), m_cap(cap) {
        if (cap > 0) buf[0] = '\0';
    }

    __attribute__((format(printf, 2, 3))) void put(const char* fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        const usize room = m_len < m_cap ? m_cap - m_len : 0;
        m_len += format_v(room > 0 ? m_buf + m_len : nullptr, room, fmt, ap);
        va_end(ap);
    }

    // A quoted string; the format's only escapes are \" and \\.
    void quoted(const char* s) {
        put("\"");
        for (; *s != '\0'; s++) {
            if (*s == '"' || *s == '\\')
                put("\\%c", *s);
            else
                put("%c", *s);
        }
        put("\"");
    }

    // Sizes with the largest suffix that is exact.
    void size(u64 n) {
        if (n != 0 && n % (u64{1} << 30) == 0)
            put("%lluG", static_cast<unsigned long long>(n >> 30));
        else if (n != 0 && n % (u64{1} << 20) == 0)
            put("%lluM", static_cast<unsigned long long>(n >> 20));
        else if (n != 0 && n % (u64{1} << 10) == 0)
            put("%lluK", static_cast<unsigned long long>(n >> 10));
        else
            put("%llu", static_cast<unsigned long long>(n));
    }

    usize length() const { return m_len; }

private:
    char* m_buf;
    usize m_cap;
    usize m_len = 0;
};

void write_program(Writer& w, const Program& p) {
    w.put("module = %s\n", p.module);  // module names are bare words
    w.put("priority = %u\n", p.priority);
    w.put("kernel_memory = ");
    w.size(p.kernel_memory);
    w.put("\n");
    if (p.args[0] != '\0') {
        w.put("args = ");
        w.quoted(p.args);
        w.put("\n");
    }
    w.put("restart = %s\n", restart_mode_name(p.restart.mode));
    if (p.restart.mode == RestartMode::OnFailure) {
        w.put("restart_limit = %u\n", p.restart.limit);
        w.put("restart_backoff_ms = %u\n", p.restart.backoff_ms);
    }
    for (u32 i = 0; i < p.cap_count; i++) {
        const CapGrant& c = p.caps[i];
        char rights[128];
        format_rights(c.rights, rights, sizeof(rights));
        w.put("cap = %s rights=%s", c.object, rights);
        if (!detail::names_equal(c.slot, c.object)) w.put(" as=%s", c.slot);
        w.put("\n");
    }
}

}  // namespace

usize write_manifest(const Manifest& m, char* buf, usize cap) {
    Writer w(buf, cap);
    for (u32 i = 0; i < m.object_count; i++) {
        const Object& o = m.objects[i];
        w.put("%s[%s %s]\n", w.length() > 0 ? "\n" : "", object_kind_name(o.kind), o.name);
        if (o.kind == ObjectKind::Memory) {
            w.put("size = ");
            w.size(o.size);
            w.put("\n");
        }
    }
    for (u32 i = 0; i < m.process_count; i++) {
        const Process& p = m.processes[i];
        w.put("%s[process %s]\n", w.length() > 0 ? "\n" : "", p.name);
        write_program(w, p.program);
        for (u32 s = 0; s < p.supervised_count; s++) {
            const Supervision& sv = p.supervised[s];
            w.put("supervise = %s", sv.process);
            if (!detail::names_equal(sv.slot, sv.process)) w.put(" as=%s", sv.slot);
            w.put("\n");
        }
        if (p.escrow) w.put("escrow = %u\n", p.escrow);
        for (u32 s = 0; s < p.served_count; s++) {
            const ServeGrant& g = p.served[s];
            w.put("serve = %s", g.consumer);
            for (u32 k = 0; k < g.port_count; k++) w.put("%s%u", k == 0 ? " ports=" : "|", g.ports[k]);
            w.put(" sockets=%u\n", g.sockets);
        }
    }
    for (u32 i = 0; i < m.provider_count; i++) {
        const Provider& p = m.providers[i];
        w.put("%s[provider %s]\n", w.length() > 0 ? "\n" : "", p.name);
        write_program(w, p.program);
        w.put("match = %s\n", device_class_name(p.match));
        if (p.has_pci) w.put("pci = %04x:%02x:%02x.%x\n", p.pci.segment, p.pci.bus, p.pci.device, p.pci.function);
        if (p.has_vendor) w.put("vendor = 0x%04x\n", p.vendor);
        if (p.has_device) w.put("device = 0x%04x\n", p.device);
        for (u32 b = 0; b < p.bar_count; b++) {
            const BarWindow& bw = p.bars[b];
            w.put("bar = %u offset=", bw.bar);
            w.size(bw.offset);
            if (bw.length != 0) {
                w.put(" length=");
                w.size(bw.length);
            }
            w.put(" mode=%s\n", bar_mode_name(bw.mode));
        }
        w.put("vectors = %u\n", p.vectors);
        if (p.dma_pool != 0) {
            w.put("dma_pool = ");
            w.size(p.dma_pool);
            w.put("\n");
        }
        w.put("backend = %s%s\n", dma_backend_name(p.backend),
              p.accept_unremapped_interrupts ? " interrupts=unremapped" : "");
        if (p.on_dma_fault == DmaFaultPolicy::Restart) w.put("on_dma_fault = restart\n");
        for (u32 s = 0; s < p.served_count; s++) w.put("serve = %s\n", p.served[s].consumer);
    }
    return w.length();
}

}  // namespace manifest
