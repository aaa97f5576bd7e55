// Fuzzes parse_manifest with arbitrary bytes and checks what it promises:
//   - errors: the count is bounded, Ok exactly when there are none, every
//     error lies on a line of the input (column within that line + 1), is
//     sorted, and has a non-empty NUL-terminated message;
//   - accepted entries: names valid and unique across kinds, every value in
//     its documented range, every reference (cap, supervise, serve) resolves
//     to an accepted entry of the right kind at the index it claims, rights
//     apply to the object's kind, slots unique per process, no two providers
//     claim one PCI function;
//   - parse -> write_manifest -> parse yields the same entries with no
//     errors, and writing again yields the same text.
// Crashes, sanitizer reports and invariant violations (trap) are findings.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "manifest/manifest.h"

namespace {

using namespace manifest;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool valid_name(const char* s) {
    const usize n = strnlen(s, kNameSize);
    if (n == 0 || n > kMaxNameLength) return false;
    auto start = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    if (!start(s[0])) return false;
    for (usize i = 1; i < n; i++)
        if (!start(s[i]) && !(s[i] >= '0' && s[i] <= '9') && s[i] != '-' && s[i] != '.') return false;
    return true;
}

bool valid_module(const char* s) {
    const usize n = strnlen(s, kModuleNameSize);
    if (n == 0 || n > kMaxModuleNameLength) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    if (!alnum(s[0])) return false;
    for (usize i = 1; i < n; i++)
        if (!alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') return false;
    return true;
}

bool page_size(u64 n) { return n % kPage == 0 && n <= kMaxSize; }

void check_positions(SourcePos pos, u32 lines) { check(pos.line >= 1 && pos.line <= lines && pos.column >= 1); }

void check_program(const Manifest& m, const Program& p, u32 lines, const char* const* extra_slots, u32 extra) {
    check(valid_module(p.module));
    check(strnlen(p.args, kStringSize) <= kMaxStringLength);
    for (usize i = 0; p.args[i] != '\0'; i++)  // no control characters but tab
        check((static_cast<u8>(p.args[i]) >= 0x20 || p.args[i] == '\t') && p.args[i] != 0x7f);
    check(p.priority <= kMaxPriority);
    check(p.restart.mode == RestartMode::Never || p.restart.mode == RestartMode::OnFailure);
    check(p.restart.limit >= 1 && p.restart.limit <= kMaxRestartLimit);
    check(p.restart.backoff_ms <= kMaxRestartBackoffMs);
    check(p.cap_count <= kMaxCaps);
    for (u32 i = 0; i < p.cap_count; i++) {
        const CapGrant& c = p.caps[i];
        check(valid_name(c.object) && valid_name(c.slot));
        check(c.object_index < m.object_count);
        const Object& o = m.objects[c.object_index];
        check(strcmp(o.name, c.object) == 0 && find_object(m, c.object) == &o);
        check(c.rights != 0 && (c.rights & ~rights_allowed_for(o.kind)) == 0);
        check_positions(c.pos, lines);
        check_positions(c.rights_pos, lines);
        for (u32 j = 0; j < i; j++) check(strcmp(p.caps[j].slot, c.slot) != 0);
        for (u32 j = 0; j < extra; j++) check(strcmp(extra_slots[j], c.slot) != 0);
    }
}

// Everything parse_manifest promises about accepted entries.
void check_manifest(const Manifest& m, u32 lines) {
    check(m.object_count <= kMaxObjects && m.process_count <= kMaxProcesses && m.provider_count <= kMaxProviders);
    std::vector<const char*> names;
    for (u32 i = 0; i < m.object_count; i++) {
        const Object& o = m.objects[i];
        names.push_back(o.name);
        check_positions(o.pos, lines);
        check(o.kind == ObjectKind::Endpoint || o.kind == ObjectKind::Notification || o.kind == ObjectKind::Memory);
        if (o.kind == ObjectKind::Memory)
            check(o.size != 0 && page_size(o.size));
        else
            check(o.size == 0);
    }
    for (u32 i = 0; i < m.process_count; i++) {
        const Process& p = m.processes[i];
        names.push_back(p.name);
        check_positions(p.pos, lines);
        check(p.supervised_count <= kMaxSupervised);
        const char* slots[kMaxSupervised];
        for (u32 s = 0; s < p.supervised_count; s++) {
            const Supervision& sv = p.supervised[s];
            check(valid_name(sv.slot) && sv.process_index < m.process_count && sv.process_index != i);
            check(strcmp(m.processes[sv.process_index].name, sv.process) == 0);
            check(find_process(m, sv.process) == &m.processes[sv.process_index]);
            check_positions(sv.pos, lines);
            for (u32 t = 0; t < s; t++)
                check(strcmp(slots[t], sv.slot) != 0 && strcmp(p.supervised[t].process, sv.process) != 0);
            slots[s] = sv.slot;
        }
        check_program(m, p.program, lines, slots, p.supervised_count);
    }
    for (u32 i = 0; i < m.provider_count; i++) {
        const Provider& p = m.providers[i];
        names.push_back(p.name);
        check_positions(p.pos, lines);
        check_program(m, p.program, lines, nullptr, 0);
        check(static_cast<u8>(p.match) <= static_cast<u8>(DeviceClass::VirtioBlk));
        check(static_cast<u8>(p.backend) <= static_cast<u8>(DmaBackend::Iommu));
        if (p.has_pci) check(p.pci.device <= 31 && p.pci.function <= 7);
        if (p.has_vendor) check(p.vendor != 0xffff);
        if (p.has_device) check(p.has_vendor);
        check(p.vectors <= kMaxVectors);
        check(page_size(p.dma_pool));
        check(p.bar_count <= kMaxBarWindows);
        for (u32 b = 0; b < p.bar_count; b++) {
            const BarWindow& w = p.bars[b];
            check(w.bar <= kMaxBarIndex && page_size(w.offset) && page_size(w.length));
            check(w.mode == BarMode::Direct || w.mode == BarMode::Filtered);
            for (u32 c = 0; c < b; c++) {
                const BarWindow& o = p.bars[c];
                if (o.bar != w.bar) continue;
                check((w.length != 0 && w.offset + w.length <= o.offset) ||
                      (o.length != 0 && o.offset + o.length <= w.offset));
            }
        }
        check(p.served_count <= kMaxServed);
        for (u32 s = 0; s < p.served_count; s++) {
            const ServeGrant& g = p.served[s];
            check(g.consumer_index < m.process_count && strcmp(m.processes[g.consumer_index].name, g.consumer) == 0);
            for (u32 t = 0; t < s; t++) check(strcmp(p.served[t].consumer, g.consumer) != 0);
        }
        for (u32 j = 0; j < i; j++) {
            const Provider& q = m.providers[j];
            if (p.has_pci && q.has_pci)
                check(p.pci.segment != q.pci.segment || p.pci.bus != q.pci.bus || p.pci.device != q.pci.device ||
                      p.pci.function != q.pci.function);
        }
    }
    for (usize i = 0; i < names.size(); i++) {
        check(valid_name(names[i]));
        for (usize j = 0; j < i; j++) check(strcmp(names[i], names[j]) != 0);
    }
}

bool same_program(const Program& a, const Program& b) {
    if (strcmp(a.module, b.module) || strcmp(a.args, b.args) || a.priority != b.priority ||
        a.restart.mode != b.restart.mode || a.cap_count != b.cap_count)
        return false;
    if (a.restart.mode == RestartMode::OnFailure &&
        (a.restart.limit != b.restart.limit || a.restart.backoff_ms != b.restart.backoff_ms))
        return false;
    for (u32 i = 0; i < a.cap_count; i++) {
        const CapGrant& x = a.caps[i];
        const CapGrant& y = b.caps[i];
        if (strcmp(x.object, y.object) || strcmp(x.slot, y.slot) || x.rights != y.rights ||
            x.object_index != y.object_index)
            return false;
    }
    return true;
}

// Equal in everything but source positions.
bool same_manifest(const Manifest& a, const Manifest& b) {
    if (a.object_count != b.object_count || a.process_count != b.process_count || a.provider_count != b.provider_count)
        return false;
    for (u32 i = 0; i < a.object_count; i++) {
        const Object& x = a.objects[i];
        const Object& y = b.objects[i];
        if (strcmp(x.name, y.name) || x.kind != y.kind || x.size != y.size) return false;
    }
    for (u32 i = 0; i < a.process_count; i++) {
        const Process& x = a.processes[i];
        const Process& y = b.processes[i];
        if (strcmp(x.name, y.name) || !same_program(x.program, y.program) || x.supervised_count != y.supervised_count)
            return false;
        for (u32 s = 0; s < x.supervised_count; s++)
            if (strcmp(x.supervised[s].process, y.supervised[s].process) ||
                strcmp(x.supervised[s].slot, y.supervised[s].slot) ||
                x.supervised[s].process_index != y.supervised[s].process_index)
                return false;
    }
    for (u32 i = 0; i < a.provider_count; i++) {
        const Provider& x = a.providers[i];
        const Provider& y = b.providers[i];
        if (strcmp(x.name, y.name) || !same_program(x.program, y.program) || x.match != y.match ||
            x.has_pci != y.has_pci || x.has_vendor != y.has_vendor || x.has_device != y.has_device ||
            x.vectors != y.vectors || x.dma_pool != y.dma_pool || x.backend != y.backend ||
            x.bar_count != y.bar_count || x.served_count != y.served_count)
            return false;
        if (x.has_pci && (x.pci.segment != y.pci.segment || x.pci.bus != y.pci.bus || x.pci.device != y.pci.device ||
                          x.pci.function != y.pci.function))
            return false;
        if ((x.has_vendor && x.vendor != y.vendor) || (x.has_device && x.device != y.device)) return false;
        for (u32 b2 = 0; b2 < x.bar_count; b2++)
            if (x.bars[b2].bar != y.bars[b2].bar || x.bars[b2].offset != y.bars[b2].offset ||
                x.bars[b2].length != y.bars[b2].length || x.bars[b2].mode != y.bars[b2].mode)
                return false;
        for (u32 s = 0; s < x.served_count; s++)
            if (strcmp(x.served[s].consumer, y.served[s].consumer) ||
                x.served[s].consumer_index != y.served[s].consumer_index)
                return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Manifest m;
    static ManifestErrors e;
    const Result<void> r = parse_manifest(ByteView(data, size), m, e);

    // Lines as the parser counts them: split on '\n'; a final line without
    // '\n' counts; a CR before the '\n' (or at the end) is not part of it.
    std::vector<u32> line_length;
    for (size_t start = 0; start < size;) {
        size_t end = start;
        while (end < size && data[end] != '\n') end++;
        size_t length = end - start;
        if (length > 0 && data[start + length - 1] == '\r') length--;
        line_length.push_back(static_cast<u32>(length));
        start = end + 1;
    }
    const u32 lines = static_cast<u32>(line_length.size());

    check(r.ok() == (e.total == 0));
    check(r.ok() || r.status() == Status::Malformed);
    check(e.count <= kMaxErrors && e.count <= e.total);
    check(e.count == e.total || e.count == kMaxErrors);
    for (u32 i = 0; i < e.count; i++) {
        const ManifestError& err = e.items[i];
        check(err.line >= 1 && err.line <= lines);
        check(err.column >= 1 && err.column <= line_length[err.line - 1] + 1);
        const size_t n = strnlen(err.message, sizeof(err.message));
        check(n > 0 && n < sizeof(err.message));
        if (i > 0) {
            const ManifestError& prev = e.items[i - 1];
            check(prev.line < err.line || (prev.line == err.line && prev.column <= err.column));
        }
    }
    check_manifest(m, lines);

    // Round trip through the writer.
    static char text[1 << 20];
    const usize n = write_manifest(m, text, sizeof(text));
    check(n < sizeof(text));
    static Manifest again;
    static ManifestErrors again_errors;
    const Result<void> r2 = parse_manifest(ByteView(reinterpret_cast<const u8*>(text), n), again, again_errors);
    check(r2.ok() && again_errors.total == 0);
    check(same_manifest(m, again));
    static char text2[1 << 20];
    const usize n2 = write_manifest(again, text2, sizeof(text2));
    check(n2 == n && memcmp(text, text2, n) == 0);
    return 0;
}
