// Manifest parser. Three phases:
//   1. lines -> sections -> entries. Each section header opens an entry in
//      the next free slot of its array; each `key = value` line fills it. Any
//      error marks the entry refused (it keeps its slot and its name, so a
//      later duplicate is still caught and references to it can say "refused").
//      A header that cannot be accepted opens nothing: its body is skipped.
//   2. references (caps, supervise, serve) are resolved by name, to a fixed
//      point: refusing a process refuses whatever supervises or serves it.
//   3. refused entries are dropped, survivors keep file order, and each
//      reference gets the index of what it names.
// Nothing here allocates; state is a few hundred bytes beyond `out`.
#include <stdarg.h>

#include <new>

#include "manifest/lexer.h"
#include "manifest/manifest.h"
#include "manifest/names.h"
#include "util/format.h"

namespace manifest {
namespace {

using detail::BadReason;
using detail::copy_span;
using detail::LineLexer;
using detail::names_equal;
using detail::span_equals;
using detail::Token;
using detail::TokenKind;

// ---------------------------------------------------------------------------
// Vocabulary

// The object kinds come first, in ObjectKind order (entries convert by cast).
enum class EntryKind : u8 {
    Endpoint,
    Notification,
    Memory,
    Console,
    Resource,
    Devices,
    BootManifest,
    Process,
    Provider
};
constexpr u32 kEntryKindCount = 9;
constexpr const char* kEntryKindNames[kEntryKindCount] = {"endpoint", "notification", "memory",  "console", "resource",
                                                          "devices",  "manifest",     "process", "provider"};
static_assert(static_cast<u8>(EntryKind::BootManifest) == static_cast<u8>(ObjectKind::BootManifest));
static_assert(kEntryKindCount <= 16, "kind_bit() sets are u16");

constexpr u16 kind_bit(EntryKind k) { return static_cast<u16>(1u << static_cast<u8>(k)); }
constexpr u16 kMemoryBit = kind_bit(EntryKind::Memory);
constexpr u16 kProcessBit = kind_bit(EntryKind::Process);
constexpr u16 kProviderBit = kind_bit(EntryKind::Provider);
constexpr u16 kProgramBits = kProcessBit | kProviderBit;

bool is_object(EntryKind k) {
    return k == EntryKind::Endpoint || k == EntryKind::Notification || k == EntryKind::Memory ||
           k == EntryKind::Console || k == EntryKind::Resource || k == EntryKind::Devices ||
           k == EntryKind::BootManifest;
}
const char* kind_name(EntryKind k) { return kEntryKindNames[static_cast<u8>(k)]; }

enum class Key : u8 {
    Size,
    Module,
    Priority,
    Args,
    Restart,
    RestartLimit,
    RestartBackoffMs,
    KernelMemory,
    Cap,
    Supervise,
    Escrow,
    Match,
    Pci,
    Vendor,
    Device,
    Bar,
    Vectors,
    DmaPool,
    Backend,
    OnDmaFault,
    Serve,
};
constexpr u32 kKeyCount = 21;

struct KeyInfo {
    const char* name;
    u16 kinds;        // kind_bit()s of the sections that accept it
    bool repeatable;  // may appear more than once in a section
    bool attributes;  // takes NAME=VALUE attributes after its value
};

// In Key order.
constexpr KeyInfo kKeys[kKeyCount] = {
    {"size", kMemoryBit, false, false},
    {"module", kProgramBits, false, false},
    {"priority", kProgramBits, false, false},
    {"args", kProgramBits, false, false},
    {"restart", kProgramBits, false, false},
    {"restart_limit", kProgramBits, false, false},
    {"restart_backoff_ms", kProgramBits, false, false},
    {"kernel_memory", kProgramBits, false, false},
    {"cap", kProgramBits, true, true},
    {"supervise", kProcessBit, true, true},
    {"escrow", kProcessBit, false, false},
    {"match", kProviderBit, false, false},
    {"pci", kProviderBit, false, false},
    {"vendor", kProviderBit, false, false},
    {"device", kProviderBit, false, false},
    {"bar", kProviderBit, true, true},
    {"vectors", kProviderBit, false, false},
    {"dma_pool", kProviderBit, false, false},
    {"backend", kProviderBit, false, true},
    {"on_dma_fault", kProviderBit, false, false},
    {"serve", kProgramBits, true, true},
};

constexpr const char* kDeviceClassNames[] = {"AnyFunction", "DmaCapable", "NvmeController", "VirtioNet", "VirtioBlk"};
constexpr u32 kDeviceClassCount = 5;

constexpr u32 kMaxAttributes = 4;

struct Attribute {
    Token name;
    Token value;
};

// One `key = head [name=value ...]` line.
struct Value {
    Token key;
    Token head;
    Attribute attrs[kMaxAttributes];
    u32 attr_count = 0;
};

// ---------------------------------------------------------------------------
// Message helpers

// A token's text for a message: at most 32 bytes, "..." when cut.
class Quote {
public:
    Quote(const char* text, u32 length) {
        const u32 n = length < kShown ? length : kShown;
        copy_span(m_buf, text, n);
        if (length > kShown) copy_span(m_buf + n, "...", 3);
    }
    explicit Quote(const Token& t) : Quote(t.text, t.length) {}
    const char* str() const { return m_buf; }

private:
    static constexpr u32 kShown = 32;
    char m_buf[kShown + 4];
};

// What the parser found where it expected something else.
class Found {
public:
    explicit Found(const Token& t) {
        switch (t.kind) {
            case TokenKind::Word: format(m_buf, sizeof(m_buf), "'%s'", Quote(t).str()); break;
            case TokenKind::String: format(m_buf, sizeof(m_buf), "\"%s\"", Quote(t).str()); break;
            case TokenKind::Equals: format(m_buf, sizeof(m_buf), "'='"); break;
            case TokenKind::Open: format(m_buf, sizeof(m_buf), "'['"); break;
            case TokenKind::Close: format(m_buf, sizeof(m_buf), "']'"); break;
            case TokenKind::End:
            case TokenKind::Bad: format(m_buf, sizeof(m_buf), "the end of the line"); break;
        }
    }
    const char* str() const { return m_buf; }

private:
    char m_buf[48];
};

// ---------------------------------------------------------------------------
// Numbers: decimal or 0x hex, optionally followed by K, M or G (x1024^n) for
// sizes. No sign, no separators; leading zeros are decimal, not octal.

enum class Number : u8 { Ok, Invalid, Overflow, SuffixNotAllowed };

int digit_value(char c, u32 base) {
    int d = -1;
    if (c >= '0' && c <= '9')
        d = c - '0';
    else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
    return d >= 0 && static_cast<u32>(d) < base ? d : -1;
}

Number parse_number(const char* s, u32 n, bool size_suffix, u64& out) {
    u32 body = n;
    u32 shift = 0;
    if (n > 0) {
        switch (s[n - 1]) {
            case 'K':
            case 'k': shift = 10; break;
            case 'M':
            case 'm': shift = 20; break;
            case 'G':
            case 'g': shift = 30; break;
            default: break;
        }
        if (shift != 0) body--;
    }
    u32 base = 10;
    u32 i = 0;
    if (body >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, i = 2;
    if (i >= body) return Number::Invalid;
    u64 v = 0;
    bool overflow = false;
    for (; i < body; i++) {
        const int d = digit_value(s[i], base);
        if (d < 0) return Number::Invalid;
        if (v > (~u64{0} - static_cast<u64>(d)) / base)
            overflow = true;
        else
            v = v * base + static_cast<u64>(d);
    }
    if (shift != 0 && !size_suffix) return Number::SuffixNotAllowed;
    if (overflow || v > (~u64{0} >> shift)) return Number::Overflow;
    out = v << shift;
    return Number::Ok;
}

// ---------------------------------------------------------------------------

struct Declared {
    EntryKind kind;
    u32 index;
    SourcePos pos;
    bool refused;
};

class Parser {
public:
    Parser(Manifest& out, ManifestErrors& errors) : m_out(out), m_errors(errors) {}

    void run(ByteView text) {
        m_out.object_count = m_out.process_count = m_out.provider_count = 0;
        m_errors.count = m_errors.total = 0;
        if (text.size() > kMaxInputSize) {
            report(1, 1, "the manifest is %zu bytes; the limit is %zu", text.size(), kMaxInputSize);
            return;
        }
        const char* data = reinterpret_cast<const char*>(text.data());
        const u32 size = static_cast<u32>(text.size());
        u32 start = 0;
        while (start < size) {
            u32 end = start;
            while (end < size && data[end] != '\n') end++;
            u32 length = end - start;
            if (length > 0 && data[start + length - 1] == '\r') length--;  // CRLF
            m_line++;
            line(data + start, length);
            start = end + 1;
        }
        finish_section();
        resolve();
        drop_refused();
        link();
        sort_errors();
    }

private:
    struct Section {
        bool open = false;      // a header was accepted: lines fill entry (kind, index)
        bool skipping = false;  // a header was refused: lines are ignored up to the next header
        EntryKind kind = EntryKind::Endpoint;
        u32 index = 0;
        SourcePos seen[kKeyCount];  // first line of each key; line 0 = not seen
    };

    // -- errors ---------------------------------------------------------------

    void report_v(u32 line, u32 column, const char* fmt, va_list ap) {
        m_errors.total++;
        if (m_errors.count >= kMaxErrors) return;
        ManifestError& e = m_errors.items[m_errors.count++];
        e.line = line;
        e.column = column;
        format_v(e.message, sizeof(e.message), fmt, ap);
    }

    __attribute__((format(printf, 4, 5))) void report(u32 line, u32 column, const char* fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        report_v(line, column, fmt, ap);
        va_end(ap);
    }

    // An error on the current line; refuses the entry being parsed, if any.
    __attribute__((format(printf, 3, 4))) void error(u32 column, const char* fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        report_v(m_line, column, fmt, ap);
        va_end(ap);
        if (m_section.open) refuse(m_section.kind, m_section.index);
    }

    void bad_token(const Token& t) {
        const u8 c = t.text != nullptr ? static_cast<u8>(t.text[0]) : 0;
        const bool printable = c >= 0x21 && c < 0x7f;
        switch (t.bad) {
            case BadReason::UnexpectedChar:
                if (c == '\'')
                    error(t.column, "unexpected character '''; strings use double quotes");
                else if (printable)
                    error(t.column, "unexpected character '%c'", c);
                else
                    error(t.column, "unexpected byte 0x%02x outside a string or comment", c);
                return;
            case BadReason::UnterminatedString: error(t.column, "unterminated string: no closing '\"'"); return;
            case BadReason::BadEscape:
                if (printable)
                    error(t.column, "invalid escape '\\%c' in string; only \\\" and \\\\ are allowed", c);
                else
                    error(t.column, "invalid escape in string; only \\\" and \\\\ are allowed");
                return;
            case BadReason::None: break;
        }
        error(t.column, "unexpected %s", Found(t).str());
    }

    // Reports `t` as unexpected (a lexical error reports itself).
    __attribute__((format(printf, 3, 4))) void unexpected(const Token& t, const char* fmt, ...) {
        if (t.kind == TokenKind::Bad) return bad_token(t);
        va_list ap;
        va_start(ap, fmt);
        report_v(m_line, t.column, fmt, ap);
        va_end(ap);
        if (m_section.open) refuse(m_section.kind, m_section.index);
    }

    // -- entries --------------------------------------------------------------

    bool& refused_flag(EntryKind kind, u32 index) {
        if (kind == EntryKind::Process) return m_refused_processes[index];
        if (kind == EntryKind::Provider) return m_refused_providers[index];
        return m_refused_objects[index];
    }
    void refuse(EntryKind kind, u32 index) { refused_flag(kind, index) = true; }

    const char* entry_name(EntryKind kind, u32 index) const {
        if (kind == EntryKind::Process) return m_out.processes[index].name;
        if (kind == EntryKind::Provider) return m_out.providers[index].name;
        return m_out.objects[index].name;
    }

    SourcePos entry_pos(EntryKind kind, u32 index) const {
        if (kind == EntryKind::Process) return m_out.processes[index].pos;
        if (kind == EntryKind::Provider) return m_out.providers[index].pos;
        return m_out.objects[index].pos;
    }

    // Every entry whose header was accepted, refused or not.
    bool find_declared(const char* name, u32 length, Declared& out) {
        for (u32 i = 0; i < m_out.object_count; i++) {
            const Object& o = m_out.objects[i];
            if (span_equals(name, length, o.name)) {
                out = {static_cast<EntryKind>(o.kind), i, o.pos, m_refused_objects[i]};
                return true;
            }
        }
        for (u32 i = 0; i < m_out.process_count; i++) {
            if (span_equals(name, length, m_out.processes[i].name)) {
                out = {EntryKind::Process, i, m_out.processes[i].pos, m_refused_processes[i]};
                return true;
            }
        }
        for (u32 i = 0; i < m_out.provider_count; i++) {
            if (span_equals(name, length, m_out.providers[i].name)) {
                out = {EntryKind::Provider, i, m_out.providers[i].pos, m_refused_providers[i]};
                return true;
            }
        }
        return false;
    }
    bool find_declared(const char* name, Declared& out) {
        u32 length = 0;
        while (name[length] != '\0') length++;
        return find_declared(name, length, out);
    }

    Object& object() { return m_out.objects[m_section.index]; }
    Process& process() { return m_out.processes[m_section.index]; }
    Provider& provider() { return m_out.providers[m_section.index]; }
    Program& program() { return m_section.kind == EntryKind::Process ? process().program : provider().program; }
    const char* current_name() const { return entry_name(m_section.kind, m_section.index); }

    // -- lines ----------------------------------------------------------------

    void line(const char* s, u32 length) {
        u32 first = 0;
        while (first < length && (s[first] == ' ' || s[first] == '\t')) first++;
        const bool header = first < length && s[first] == '[';
        if (!header && m_section.skipping) return;

        for (u32 i = 0; i < length; i++) {
            const u8 c = static_cast<u8>(s[i]);
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                if (header) begin_section();  // the header is refused and so is its body
                error(i + 1, "control character 0x%02x in the line", c);
                return;
            }
        }

        LineLexer lx(s, length);
        const Token t = lx.next();
        switch (t.kind) {
            case TokenKind::End: return;  // blank or comment
            case TokenKind::Open: return header_line(lx);
            case TokenKind::Word: return key_line(lx, t);
            default: return unexpected(t, "expected [kind name] or key = value, found %s", Found(t).str());
        }
    }

    // Closes the current section and starts a refused one (accept_header
    // opens it if the header is good).
    void begin_section() {
        finish_section();
        m_section = Section();
        m_section.skipping = true;
    }

    void header_line(LineLexer& lx) {
        begin_section();
        const Token kind = lx.next();
        if (kind.kind != TokenKind::Word)
            return unexpected(kind, "expected a section kind after '[', found %s", Found(kind).str());
        const Token name = lx.next();
        if (name.kind == TokenKind::Close)
            return error(name.column, "section [%s] needs a name: [%s NAME]", Quote(kind).str(), Quote(kind).str());
        if (name.kind != TokenKind::Word)
            return unexpected(name, "expected a name after '%s', found %s", Quote(kind).str(), Found(name).str());
        const Token close = lx.next();
        if (close.kind == TokenKind::End) return error(close.column, "missing ']' at the end of the section header");
        if (close.kind != TokenKind::Close)
            return unexpected(close, "expected ']' after the name, found %s", Found(close).str());
        const Token end = lx.next();
        if (end.kind != TokenKind::End) return unexpected(end, "unexpected %s after ']'", Found(end).str());

        u32 k = 0;
        while (k < kEntryKindCount && !span_equals(kind.text, kind.length, kEntryKindNames[k])) k++;
        if (k == kEntryKindCount)
            return error(kind.column,
                         "unknown section kind '%s'; expected endpoint, notification, memory, console, resource, "
                         "devices, manifest, process or provider",
                         Quote(kind).str());
        if (!check_name(name, "name")) return;
        Declared d;
        if (find_declared(name.text, name.length, d))
            return error(name.column, "duplicate name '%s' (already the %s on line %u)", Quote(name).str(),
                         kind_name(d.kind), d.pos.line);
        open_entry(static_cast<EntryKind>(k), name);
    }

    void open_entry(EntryKind kind, const Token& name) {
        const SourcePos pos{m_line, name.column};
        u32 index = 0;
        if (is_object(kind)) {
            if (m_out.object_count == kMaxObjects)
                return error(name.column, "no room for %s '%s': at most %u endpoints, notifications and memory objects",
                             kind_name(kind), Quote(name).str(), kMaxObjects);
            index = m_out.object_count++;
            Object& o = *new (&m_out.objects[index]) Object();  // in place: no 2 KiB temporaries
            o.kind = static_cast<ObjectKind>(kind);
            copy_span(o.name, name.text, name.length);
            o.pos = pos;
            m_refused_objects[index] = false;
        } else if (kind == EntryKind::Process) {
            if (m_out.process_count == kMaxProcesses)
                return error(name.column, "no room for process '%s': at most %u processes", Quote(name).str(),
                             kMaxProcesses);
            index = m_out.process_count++;
            Process& p = *new (&m_out.processes[index]) Process();
            copy_span(p.name, name.text, name.length);
            p.pos = pos;
            m_refused_processes[index] = false;
        } else {
            if (m_out.provider_count == kMaxProviders)
                return error(name.column, "no room for provider '%s': at most %u providers", Quote(name).str(),
                             kMaxProviders);
            index = m_out.provider_count++;
            Provider& p = *new (&m_out.providers[index]) Provider();
            copy_span(p.name, name.text, name.length);
            p.pos = pos;
            m_refused_providers[index] = false;
        }
        m_section.skipping = false;
        m_section.open = true;
        m_section.kind = kind;
        m_section.index = index;
    }

    // Checks that apply to the section as a whole, once it has ended.
    void finish_section() {
        if (!m_section.open) return;
        const EntryKind kind = m_section.kind;
        const u32 index = m_section.index;
        const SourcePos pos = entry_pos(kind, index);
        const SourcePos* seen = m_section.seen;
        auto refuse_at = [&](SourcePos at, const char* what) {
            report(at.line, at.column, "%s '%s' %s", kind_name(kind), current_name(), what);
            refuse(kind, index);
        };
        auto given = [&](Key k) { return seen[static_cast<u8>(k)].line != 0; };

        if (kind == EntryKind::Memory && !given(Key::Size)) refuse_at(pos, "needs a size");
        if (kind == EntryKind::Process || kind == EntryKind::Provider) {
            if (!given(Key::Module)) refuse_at(pos, "needs a module");
            if (program().restart.mode != RestartMode::OnFailure) {
                for (Key k : {Key::RestartLimit, Key::RestartBackoffMs}) {
                    if (!given(k)) continue;
                    const SourcePos at = seen[static_cast<u8>(k)];
                    report(at.line, at.column, "%s only applies with restart = on-failure",
                           kKeys[static_cast<u8>(k)].name);
                    refuse(kind, index);
                }
            }
        }
        if (kind == EntryKind::Process && process().served_count > 0) {
            // A server finds its endpoint and client table under these
            // slots (init, lib/protocol/service.h): no cap may take them.
            const Process& p = process();
            auto check_reserved = [&](const char* slot, SourcePos at) {
                const char* what = names_equal(slot, "service")   ? "service endpoint"
                                   : names_equal(slot, "clients") ? "client table"
                                                                  : nullptr;
                if (what == nullptr) return;
                report(at.line, at.column,
                       "slot '%s' is where a serving process finds its %s; name another with as=NAME", slot, what);
                refuse(kind, index);
            };
            for (u32 i = 0; i < p.program.cap_count; i++) check_reserved(p.program.caps[i].slot, p.program.caps[i].pos);
            for (u32 i = 0; i < p.supervised_count; i++) check_reserved(p.supervised[i].slot, p.supervised[i].pos);
        }
        if (kind == EntryKind::Provider) {
            const Provider& p = provider();
            if (!given(Key::Match)) refuse_at(pos, "needs match = DEVICE-CLASS");
            const SourcePos device_at = seen[static_cast<u8>(Key::Device)];
            if (given(Key::Device) && !given(Key::Vendor)) {
                report(device_at.line, device_at.column, "device needs vendor too: device IDs are per vendor");
                refuse(kind, index);
            }
            if (p.has_pci) {
                for (u32 j = 0; j < index; j++) {
                    const Provider& q = m_out.providers[j];
                    if (!q.has_pci || q.pci.segment != p.pci.segment || q.pci.bus != p.pci.bus ||
                        q.pci.device != p.pci.device || q.pci.function != p.pci.function)
                        continue;
                    const SourcePos at = seen[static_cast<u8>(Key::Pci)];
                    report(at.line, at.column,
                           "PCI function %04x:%02x:%02x.%x is already claimed by provider '%s' (line %u)",
                           p.pci.segment, p.pci.bus, p.pci.device, p.pci.function, q.name, q.pos.line);
                    refuse(kind, index);
                    break;
                }
            }
        }
        m_section.open = false;
    }

    void key_line(LineLexer& lx, const Token& key) {
        if (!m_section.open)
            return error(key.column, "'%s' is outside any section; start one with [kind name]", Quote(key).str());
        u32 k = 0;
        while (k < kKeyCount && !span_equals(key.text, key.length, kKeys[k].name)) k++;
        if (k == kKeyCount)
            return error(key.column, "unknown key '%s' in %s '%s'", Quote(key).str(), kind_name(m_section.kind),
                         current_name());
        const KeyInfo& info = kKeys[k];
        if (!(info.kinds & kind_bit(m_section.kind)))
            return error(key.column, "key '%s' does not belong in %s sections", info.name, kind_name(m_section.kind));
        SourcePos& seen = m_section.seen[k];
        if (!info.repeatable && seen.line != 0)
            return error(key.column, "duplicate key '%s' (first set on line %u)", info.name, seen.line);
        if (seen.line == 0) seen = {m_line, key.column};

        Value v;
        v.key = key;
        if (!read_value(lx, info, v)) return;
        switch (static_cast<Key>(k)) {
            case Key::Size: return on_size(v);
            case Key::Module: return on_module(v);
            case Key::Priority: return on_priority(v);
            case Key::Args: return on_args(v);
            case Key::Restart: return on_restart(v);
            case Key::RestartLimit: return on_restart_limit(v);
            case Key::RestartBackoffMs: return on_restart_backoff(v);
            case Key::KernelMemory: return on_kernel_memory(v);
            case Key::Cap: return on_cap(v);
            case Key::Supervise: return on_supervise(v);
            case Key::Escrow: return on_escrow(v);
            case Key::Match: return on_match(v);
            case Key::Pci: return on_pci(v);
            case Key::Vendor: return on_vendor(v);
            case Key::Device: return on_device(v);
            case Key::Bar: return on_bar(v);
            case Key::Vectors: return on_vectors(v);
            case Key::DmaPool: return on_dma_pool(v);
            case Key::Backend: return on_backend(v);
            case Key::OnDmaFault: return on_dma_fault(v);
            case Key::Serve: return on_serve(v);
        }
    }

    // `= head [name=value ...]` up to the end of the line.
    bool read_value(LineLexer& lx, const KeyInfo& info, Value& v) {
        const Token eq = lx.next();
        if (eq.kind != TokenKind::Equals)
            return unexpected(eq, "expected '=' after '%s', found %s", info.name, Found(eq).str()), false;
        v.head = lx.next();
        if (v.head.kind == TokenKind::End) return error(v.head.column, "missing value for '%s'", info.name), false;
        if (v.head.kind != TokenKind::Word && v.head.kind != TokenKind::String)
            return unexpected(v.head, "expected a value for '%s', found %s", info.name, Found(v.head).str()), false;
        while (true) {
            const Token name = lx.next();
            if (name.kind == TokenKind::End) return true;
            if (!info.attributes || name.kind != TokenKind::Word) {
                if (!info.attributes)
                    unexpected(name, "unexpected %s after the value of '%s'", Found(name).str(), info.name);
                else
                    unexpected(name, "expected NAME=VALUE after the value of '%s', found %s", info.name,
                               Found(name).str());
                return false;
            }
            const Token eq2 = lx.next();
            if (eq2.kind != TokenKind::Equals) {
                if (name.text[0] == '|' || name.text[name.length - 1] == '|')
                    error(name.column, "no spaces are allowed around '|' in a list of rights");
                else if (eq2.kind == TokenKind::Bad)
                    bad_token(eq2);
                else
                    error(name.column, "expected NAME=VALUE, found '%s'", Quote(name).str());
                return false;
            }
            const Token value = lx.next();
            if (value.kind == TokenKind::End)
                return error(value.column, "missing value for attribute '%s'", Quote(name).str()), false;
            if (value.kind != TokenKind::Word && value.kind != TokenKind::String)
                return unexpected(value, "expected a value for attribute '%s', found %s", Quote(name).str(),
                                  Found(value).str()),
                       false;
            for (u32 i = 0; i < v.attr_count; i++)
                if (tokens_equal(v.attrs[i].name, name))
                    return error(name.column, "attribute '%s' given twice", Quote(name).str()), false;
            if (v.attr_count == kMaxAttributes)
                return error(name.column, "too many attributes for '%s'", info.name), false;
            v.attrs[v.attr_count++] = {name, value};
        }
    }

    static bool tokens_equal(const Token& a, const Token& b) {
        if (a.length != b.length) return false;
        for (u32 i = 0; i < a.length; i++)
            if (a.text[i] != b.text[i]) return false;
        return true;
    }

    // Finds the attributes of `v` among `names` (out[i] for names[i], or
    // nullptr when absent); an attribute not in the list is an error.
    template <u32 N>
    bool attributes(const Value& v, const char* const (&names)[N], const char* expected, const Attribute* (&out)[N]) {
        for (u32 i = 0; i < N; i++) out[i] = nullptr;
        for (u32 a = 0; a < v.attr_count; a++) {
            const Attribute& attr = v.attrs[a];
            u32 i = 0;
            while (i < N && !span_equals(attr.name.text, attr.name.length, names[i])) i++;
            if (i == N)
                return error(attr.name.column, "unknown attribute '%s' for '%s'; expected %s", Quote(attr.name).str(),
                             Quote(v.key).str(), expected),
                       false;
            out[i] = &attr;
        }
        return true;
    }

    // -- value checks ---------------------------------------------------------
    // Each reports its own error (and so refuses the entry) and returns false.

    // Names of entries and slots: [A-Za-z_][A-Za-z0-9_.-]*, at most 31 bytes.
    bool check_name(const Token& t, const char* what) {
        if (t.kind != TokenKind::Word) return error(t.column, "%s must be a bare name, not a string", what), false;
        if (!detail::is_name_start(static_cast<u8>(t.text[0])))
            return error(t.column, "invalid %s '%s': a name starts with a letter or '_'", what, Quote(t).str()), false;
        for (u32 i = 1; i < t.length; i++)
            if (!detail::is_name_char(static_cast<u8>(t.text[i])))
                return error(t.column + i, "invalid character '%c' in %s '%s'", t.text[i], what, Quote(t).str()), false;
        if (t.length > kMaxNameLength)
            return error(t.column, "%s '%s' is longer than %u characters", what, Quote(t).str(), kMaxNameLength), false;
        return true;
    }

    // A Word as is, or a String with its escapes resolved, into out[0..max]
    // (NUL-terminated; out holds max + 1).
    bool text_value(const Token& t, const char* what, char* out, u32 max, u32& length) {
        length = 0;
        for (u32 i = 0; i < t.length; i++) {
            char c = t.text[i];
            if (t.kind == TokenKind::String && c == '\\') c = t.text[++i];  // the lexer checked every escape
            if (length == max) return error(t.column, "%s is longer than %u bytes", what, max), false;
            out[length++] = c;
        }
        out[length] = '\0';
        return true;
    }

    bool number(const Token& t, const char* what, bool size, u64& out) {
        if (t.kind != TokenKind::Word) return error(t.column, "%s takes a number, not a string", what), false;
        switch (parse_number(t.text, t.length, size, out)) {
            case Number::Ok: return true;
            case Number::Invalid: return error(t.column, "invalid number '%s' for %s", Quote(t).str(), what), false;
            case Number::Overflow:
                return error(t.column, "number '%s' is too large (more than 64 bits)", Quote(t).str()), false;
            case Number::SuffixNotAllowed:
                return error(t.column, "%s takes a plain number; K, M and G are for sizes", what), false;
        }
        return false;
    }

    bool integer(const Token& t, const char* what, u64 min, u64 max, u64& out) {
        if (!number(t, what, false, out)) return false;
        if (out < min || out > max)
            return error(t.column, "%s %s is out of range %llu..%llu", what, Quote(t).str(),
                         static_cast<unsigned long long>(min), static_cast<unsigned long long>(max)),
                   false;
        return true;
    }

    // Sizes, offsets and lengths: page multiples up to kMaxSize.
    bool size(const Token& t, const char* what, bool allow_zero, u64& out) {
        if (!number(t, what, true, out)) return false;
        if (out == 0 && !allow_zero) return error(t.column, "%s must not be 0", what), false;
        if (out % kPage != 0)
            return error(t.column, "%s %s is not a multiple of 4K (the page size)", what, Quote(t).str()), false;
        if (out > kMaxSize) return error(t.column, "%s %s is larger than 1024G", what, Quote(t).str()), false;
        return true;
    }

    // One of `names` (a Word), as its index.
    bool choice(const Token& t, const char* what, const char* const* names, u32 count, const char* expected, u32& out) {
        if (t.kind == TokenKind::Word)
            for (out = 0; out < count; out++)
                if (span_equals(t.text, t.length, names[out])) return true;
        return error(t.column, "unknown %s '%s'; expected %s", what, Quote(t).str(), expected), false;
    }

    // R1|R2|... from the fixed vocabulary.
    bool rights(const Token& t, u32& out) {
        out = 0;
        if (t.kind != TokenKind::Word) return error(t.column, "rights must be bare words like read|write"), false;
        u32 start = 0;
        while (start <= t.length) {
            u32 end = start;
            while (end < t.length && t.text[end] != '|') end++;
            if (end == start) return error(t.column + start, "empty right in '%s'", Quote(t).str()), false;
            u32 r = 0;
            while (r < kRightCount && !span_equals(t.text + start, end - start, detail::kRightNames[r])) r++;
            if (r == kRightCount)
                return error(t.column + start,
                             "unknown right '%s'; expected read, write, map, execute, call, serve, signal, wait, "
                             "inspect, manage, duplicate, transfer or revoke",
                             Quote(t.text + start, end - start).str()),
                       false;
            if (out & (1u << r))
                return error(t.column + start, "right '%s' given twice", detail::kRightNames[r]), false;
            out |= 1u << r;
            start = end + 1;
        }
        return true;
    }

    // [SSSS:]BB:DD.F, hex, 1 to 4 digits per field (lspci -D style).
    bool pci_address(const Token& t, PciAddress& out) {
        u32 fields[4] = {};
        u32 count = 0;   // fields completed
        u32 digits = 0;  // in the current field
        u32 value = 0;
        u32 colons = 0;
        bool dot = false;
        bool ok = t.kind == TokenKind::Word;
        for (u32 i = 0; ok && i < t.length; i++) {
            const char c = t.text[i];
            if (c == ':' || c == '.') {
                // ':' ends segment or bus; one '.' ends the device, after a ':'
                if (digits == 0 || dot || count == 3 || (c == '.' && colons == 0)) {
                    ok = false;
                    break;
                }
                fields[count++] = value;
                value = digits = 0;
                if (c == ':')
                    colons++;
                else
                    dot = true;
                continue;
            }
            const int d = digit_value(c, 16);
            if (d < 0 || ++digits > 4)
                ok = false;
            else
                value = value * 16 + static_cast<u32>(d);
        }
        if (ok && (digits == 0 || !dot || count == 4)) ok = false;
        if (!ok)
            return error(t.column, "invalid PCI address '%s'; expected BB:DD.F or SSSS:BB:DD.F in hex", Quote(t).str()),
                   false;
        fields[count++] = value;
        // count is 3 (bus, device, function) or 4 (segment first)
        const u32* f = count == 4 ? fields + 1 : fields;
        if (f[0] > 0xff) return error(t.column, "PCI bus %x is out of range 0..ff", f[0]), false;
        if (f[1] > 0x1f) return error(t.column, "PCI device %x is out of range 0..1f", f[1]), false;
        if (f[2] > 7) return error(t.column, "PCI function %x is out of range 0..7", f[2]), false;
        out.segment = static_cast<u16>(count == 4 ? fields[0] : 0);
        out.bus = static_cast<u8>(f[0]);
        out.device = static_cast<u8>(f[1]);
        out.function = static_cast<u8>(f[2]);
        return true;
    }

    // The slot names a process's handles are found under are unique within
    // it, and "svc.*" is init's: the service a `serve` line grants (a cap
    // there would pose as the server to a program looking for it).
    bool check_slot(const char* slot, u32 length, u32 column) {
        if (length > 4 && slot[0] == 's' && slot[1] == 'v' && slot[2] == 'c' && slot[3] == '.')
            return error(column, "slot '%s' is reserved: init grants svc.<server> for serve lines",
                         Quote(slot, length).str()),
                   false;
        const Program& p = program();
        u32 line = 0;
        for (u32 i = 0; i < p.cap_count && line == 0; i++)
            if (span_equals(slot, length, p.caps[i].slot)) line = p.caps[i].pos.line;
        if (m_section.kind == EntryKind::Process) {
            const Process& proc = process();
            for (u32 i = 0; i < proc.supervised_count && line == 0; i++)
                if (span_equals(slot, length, proc.supervised[i].slot)) line = proc.supervised[i].pos.line;
        }
        if (line == 0) return true;
        return error(column, "slot '%s' is already used on line %u; name another with as=NAME",
                     Quote(slot, length).str(), line),
               false;
    }

    // -- keys -----------------------------------------------------------------

    void on_size(const Value& v) {
        u64 n = 0;
        if (size(v.head, "size", false, n)) object().size = n;
    }

    void on_module(const Value& v) {
        Program& p = program();
        char name[kMaxStringLength + 1];
        u32 length = 0;
        if (!text_value(v.head, "module name", name, kMaxStringLength, length)) return;
        const u32 column = v.head.column;
        if (length == 0) return error(column, "module name is empty");
        if (length > kMaxModuleNameLength)
            return error(column, "module name '%s' is longer than %u characters", Quote(name, length).str(),
                         kMaxModuleNameLength);
        if (!detail::is_module_start(static_cast<u8>(name[0])))
            return error(column, "invalid module name '%s': it starts with a letter or digit",
                         Quote(name, length).str());
        for (u32 i = 1; i < length; i++)
            if (!detail::is_module_char(static_cast<u8>(name[i])))
                return error(v.head.kind == TokenKind::Word ? column + i : column,
                             "invalid character in module name '%s'; allowed: A-Z a-z 0-9 . _ -",
                             Quote(name, length).str());
        copy_span(p.module, name, length);
    }

    void on_priority(const Value& v) {
        u64 n = 0;
        if (integer(v.head, "priority", 0, kMaxPriority, n)) program().priority = static_cast<u8>(n);
    }

    void on_args(const Value& v) {
        if (v.head.kind != TokenKind::String) return error(v.head.column, "args must be a quoted string");
        u32 length = 0;
        char* out = program().args;
        if (!text_value(v.head, "args", out, kMaxStringLength, length)) out[0] = '\0';
    }

    void on_restart(const Value& v) {
        static constexpr const char* kModes[] = {"never", "on-failure"};
        u32 i = 0;
        if (choice(v.head, "restart policy", kModes, 2, "never or on-failure", i))
            program().restart.mode = static_cast<RestartMode>(i);
    }

    void on_restart_limit(const Value& v) {
        u64 n = 0;
        if (integer(v.head, "restart_limit", 1, kMaxRestartLimit, n)) program().restart.limit = static_cast<u32>(n);
    }

    void on_restart_backoff(const Value& v) {
        u64 n = 0;
        if (integer(v.head, "restart_backoff_ms", 0, kMaxRestartBackoffMs, n))
            program().restart.backoff_ms = static_cast<u32>(n);
    }

    void on_kernel_memory(const Value& v) {
        u64 n = 0;
        if (size(v.head, "kernel_memory", false, n)) program().kernel_memory = n;
    }

    void on_cap(const Value& v) {
        static constexpr const char* kNames[] = {"rights", "as"};
        const Attribute* a[2];
        if (!check_name(v.head, "object name") || !attributes(v, kNames, "rights or as", a)) return;
        if (a[0] == nullptr) return error(v.head.column, "cap '%s' needs rights=R1|R2...", Quote(v.head).str());
        u32 r = 0;
        if (!rights(a[0]->value, r)) return;
        const Token& slot = a[1] != nullptr ? a[1]->value : v.head;
        if (a[1] != nullptr && !check_name(slot, "slot name")) return;
        if (!check_slot(slot.text, slot.length, slot.column)) return;
        Program& p = program();
        if (p.cap_count == kMaxCaps)
            return error(v.key.column, "too many caps: at most %u per %s", kMaxCaps, kind_name(m_section.kind));
        CapGrant& c = *new (&p.caps[p.cap_count++]) CapGrant();
        copy_span(c.object, v.head.text, v.head.length);
        copy_span(c.slot, slot.text, slot.length);
        c.rights = r;
        c.pos = {m_line, v.head.column};
        c.rights_pos = {m_line, a[0]->value.column};
    }

    void on_escrow(const Value& v) {
        u64 n = 0;
        if (integer(v.head, "escrow", 1, kMaxEscrowHandles, n)) process().escrow = static_cast<u32>(n);
    }

    void on_supervise(const Value& v) {
        static constexpr const char* kNames[] = {"as"};
        const Attribute* a[1];
        if (!check_name(v.head, "process name") || !attributes(v, kNames, "as", a)) return;
        Process& p = process();
        if (span_equals(v.head.text, v.head.length, p.name))
            return error(v.head.column, "a process cannot supervise itself");
        for (u32 i = 0; i < p.supervised_count; i++)
            if (span_equals(v.head.text, v.head.length, p.supervised[i].process))
                return error(v.head.column, "'%s' is already supervised on line %u", Quote(v.head).str(),
                             p.supervised[i].pos.line);
        const Token& slot = a[0] != nullptr ? a[0]->value : v.head;
        if (a[0] != nullptr && !check_name(slot, "slot name")) return;
        if (!check_slot(slot.text, slot.length, slot.column)) return;
        if (p.supervised_count == kMaxSupervised)
            return error(v.key.column, "too many supervise lines: at most %u per process", kMaxSupervised);
        Supervision& s = *new (&p.supervised[p.supervised_count++]) Supervision();
        copy_span(s.process, v.head.text, v.head.length);
        copy_span(s.slot, slot.text, slot.length);
        s.pos = {m_line, v.head.column};
    }

    void on_match(const Value& v) {
        u32 i = 0;
        if (choice(v.head, "device class", kDeviceClassNames, kDeviceClassCount,
                   "NvmeController, VirtioNet, VirtioBlk, DmaCapable or AnyFunction", i))
            provider().match = static_cast<DeviceClass>(i);
    }

    void on_pci(const Value& v) {
        PciAddress a;
        if (!pci_address(v.head, a)) return;
        provider().pci = a;
        provider().has_pci = true;
    }

    void on_vendor(const Value& v) {
        u64 n = 0;
        if (!integer(v.head, "vendor", 0, 0xffff, n)) return;
        if (n == 0xffff) return error(v.head.column, "vendor 0xffff is not a vendor ID (absent functions read it)");
        provider().vendor = static_cast<u16>(n);
        provider().has_vendor = true;
    }

    void on_device(const Value& v) {
        u64 n = 0;
        if (!integer(v.head, "device", 0, 0xffff, n)) return;
        provider().device = static_cast<u16>(n);
        provider().has_device = true;
    }

    void on_bar(const Value& v) {
        static constexpr const char* kNames[] = {"offset", "length", "mode"};
        static constexpr const char* kModes[] = {"direct", "filtered"};
        const Attribute* a[3];
        u64 index = 0;
        if (!integer(v.head, "bar index", 0, kMaxBarIndex, index)) return;
        if (!attributes(v, kNames, "offset, length or mode", a)) return;
        BarWindow w;
        w.bar = static_cast<u8>(index);
        w.pos = {m_line, v.head.column};
        if (a[0] != nullptr && !size(a[0]->value, "offset", true, w.offset)) return;
        if (a[1] != nullptr && !size(a[1]->value, "length", true, w.length)) return;
        if (a[2] == nullptr) return error(v.head.column, "bar %u needs mode=direct or mode=filtered", w.bar);
        u32 mode = 0;
        if (!choice(a[2]->value, "bar mode", kModes, 2, "direct or filtered", mode)) return;
        w.mode = static_cast<BarMode>(mode);
        Provider& p = provider();
        for (u32 i = 0; i < p.bar_count; i++) {
            const BarWindow& o = p.bars[i];
            if (o.bar != w.bar) continue;
            // [offset, offset + length), length 0 = to the end of the BAR
            const bool before = w.length != 0 && w.offset + w.length <= o.offset;
            const bool after = o.length != 0 && o.offset + o.length <= w.offset;
            if (!before && !after)
                return error(v.head.column, "this bar %u window overlaps the one on line %u", w.bar, o.pos.line);
        }
        if (p.bar_count == kMaxBarWindows)
            return error(v.key.column, "too many bar windows: at most %u per provider", kMaxBarWindows);
        p.bars[p.bar_count++] = w;
    }

    void on_vectors(const Value& v) {
        u64 n = 0;
        if (integer(v.head, "vectors", 0, kMaxVectors, n)) provider().vectors = static_cast<u32>(n);
    }

    void on_dma_pool(const Value& v) {
        u64 n = 0;
        if (size(v.head, "dma_pool", false, n)) provider().dma_pool = n;
    }

    // backend = auto | bounce | iommu [interrupts=unremapped]: the
    // attribute accepts the remapped lane without interrupt remapping.
    void on_backend(const Value& v) {
        static constexpr const char* kBackends[] = {"auto", "bounce", "iommu"};
        static constexpr const char* kNames[] = {"interrupts"};
        static constexpr const char* kInterrupts[] = {"remapped", "unremapped"};
        const Attribute* a[1];
        u32 i = 0;
        if (!choice(v.head, "backend", kBackends, 3, "auto, bounce or iommu", i)) return;
        if (!attributes(v, kNames, "interrupts", a)) return;
        u32 interrupts = 0;
        if (a[0] && !choice(a[0]->value, "interrupts", kInterrupts, 2, "remapped or unremapped", interrupts)) return;
        if (a[0] && static_cast<DmaBackend>(i) != DmaBackend::Iommu)
            return error(a[0]->name.column, "interrupts= applies to backend = iommu only (the remapped lane)");
        provider().backend = static_cast<DmaBackend>(i);
        provider().accept_unremapped_interrupts = interrupts == 1;
    }

    // on_dma_fault = log | restart: what devmgr does when the provider's
    // device touches memory outside its grant (a remapping fault).
    void on_dma_fault(const Value& v) {
        static constexpr const char* kPolicies[] = {"log", "restart"};
        u32 i = 0;
        if (choice(v.head, "on_dma_fault", kPolicies, 2, "log or restart", i))
            provider().on_dma_fault = static_cast<DmaFaultPolicy>(i);
    }

    // serve = CONSUMER on a provider; on a process also [ports=P1|P2...]
    // [sockets=N] (ServeGrant).
    void on_serve(const Value& v) {
        static constexpr const char* kNames[] = {"ports", "sockets"};
        const Attribute* a[2];
        if (!check_name(v.head, "process name") || !attributes(v, kNames, "ports or sockets", a)) return;
        const bool is_process = m_section.kind == EntryKind::Process;
        ServeGrant* served = is_process ? process().served : provider().served;
        u32& count = is_process ? process().served_count : provider().served_count;
        if (!is_process && v.attr_count > 0)
            return error(v.attrs[0].name.column,
                         "attribute '%s' applies to a process's serve line; a provider's service has its own quotas",
                         Quote(v.attrs[0].name).str());
        if (is_process && span_equals(v.head.text, v.head.length, current_name()))
            return error(v.head.column, "a process cannot serve itself");
        for (u32 i = 0; i < count; i++)
            if (span_equals(v.head.text, v.head.length, served[i].consumer))
                return error(v.head.column, "'%s' is already served on line %u", Quote(v.head).str(),
                             served[i].pos.line);
        ServeGrant g;
        if (is_process) {
            g.sockets = kDefaultServeSockets;
            if (a[0] != nullptr && !port_list(a[0]->value, g)) return;
            u64 n = 0;
            if (a[1] != nullptr) {
                if (!integer(a[1]->value, "sockets", 1, kMaxServeSockets, n)) return;
                g.sockets = static_cast<u32>(n);
            }
        }
        if (count == kMaxServed)
            return error(v.key.column, "too many serve lines: at most %u per %s", kMaxServed,
                         kind_name(m_section.kind));
        copy_span(g.consumer, v.head.text, v.head.length);
        g.pos = {m_line, v.head.column};
        served[count++] = g;
    }

    // P1|P2|...: distinct ports 1..65535, at most kMaxServePorts.
    bool port_list(const Token& t, ServeGrant& g) {
        if (t.kind != TokenKind::Word) return error(t.column, "ports must be bare numbers like 80|7"), false;
        u32 start = 0;
        while (start <= t.length) {
            u32 end = start;
            while (end < t.length && t.text[end] != '|') end++;
            const u32 column = t.column + start;
            if (end == start) return error(column, "empty port in '%s'", Quote(t).str()), false;
            u64 port = 0;
            if (parse_number(t.text + start, end - start, false, port) != Number::Ok)
                return error(column, "invalid port '%s'", Quote(t.text + start, end - start).str()), false;
            if (port < 1 || port > 0xffff)
                return error(column, "port %s is out of range 1..65535", Quote(t.text + start, end - start).str()),
                       false;
            for (u32 i = 0; i < g.port_count; i++)
                if (g.ports[i] == port) return error(column, "port %u given twice", static_cast<u32>(port)), false;
            if (g.port_count == kMaxServePorts)
                return error(column, "too many ports: at most %u per serve line", kMaxServePorts), false;
            g.ports[g.port_count++] = static_cast<u16>(port);
            start = end + 1;
        }
        return true;
    }

    // -- references -----------------------------------------------------------

    // A reference to a refused entry is only worth reporting from an entry
    // that is not refused for other reasons already (`quiet_refused`):
    // otherwise it is noise on top of the real error.
    bool check_cap(const CapGrant& c, bool quiet_refused) {
        Declared d;
        if (!find_declared(c.object, d))
            return report(c.pos.line, c.pos.column, "cap names '%s', which is not defined", c.object), false;
        if (!is_object(d.kind))
            return report(c.pos.line, c.pos.column,
                          "cap names %s '%s'; a cap names an endpoint, notification or memory object",
                          kind_name(d.kind), c.object),
                   false;
        const u32 extra = c.rights & ~rights_allowed_for(static_cast<ObjectKind>(d.kind));
        if (extra != 0)
            return report(c.rights_pos.line, c.rights_pos.column, "right '%s' does not apply to %s '%s'",
                          right_name(extra & (~extra + 1)), kind_name(d.kind), c.object),
                   false;
        if (d.refused) {
            if (!quiet_refused)
                report(c.pos.line, c.pos.column, "cap names %s '%s', which was refused (line %u)", kind_name(d.kind),
                       c.object, d.pos.line);
            return false;
        }
        return true;
    }

    // supervise / serve: the name must be a process that is not refused.
    bool check_process_ref(const char* name, SourcePos pos, const char* verb, bool quiet_refused) {
        Declared d;
        if (!find_declared(name, d))
            return report(pos.line, pos.column, "%s '%s', which is not defined", verb, name), false;
        if (d.kind != EntryKind::Process)
            return report(pos.line, pos.column, "%s %s '%s'; only a process can be named here", verb, kind_name(d.kind),
                          name),
                   false;
        if (d.refused) {
            if (!quiet_refused)
                report(pos.line, pos.column, "%s process '%s', which was refused (line %u)", verb, name, d.pos.line);
            return false;
        }
        return true;
    }

    bool check_process(const Process& p, bool quiet_refused) {
        bool ok = true;
        for (u32 i = 0; i < p.program.cap_count; i++) ok = check_cap(p.program.caps[i], quiet_refused) && ok;
        for (u32 i = 0; i < p.supervised_count; i++)
            ok = check_process_ref(p.supervised[i].process, p.supervised[i].pos, "supervises", quiet_refused) && ok;
        for (u32 i = 0; i < p.served_count; i++)
            ok = check_process_ref(p.served[i].consumer, p.served[i].pos, "serves", quiet_refused) && ok;
        return ok;
    }

    bool check_provider(const Provider& p, bool quiet_refused) {
        bool ok = true;
        for (u32 i = 0; i < p.program.cap_count; i++) ok = check_cap(p.program.caps[i], quiet_refused) && ok;
        for (u32 i = 0; i < p.served_count; i++)
            ok = check_process_ref(p.served[i].consumer, p.served[i].pos, "serves", quiet_refused) && ok;
        return ok;
    }

    // The first round checks every entry, refused ones included, so that all
    // problems are reported at once. Refusing one entry can invalidate
    // another (a supervisor of a refused process), so further rounds recheck
    // the survivors until nothing changes: each round but the last refuses
    // at least one process, so there are at most kMaxProcesses + 2 rounds.
    void resolve() {
        for (u32 i = 0; i < m_out.process_count; i++)
            if (!check_process(m_out.processes[i], m_refused_processes[i])) m_refused_processes[i] = true;
        for (u32 i = 0; i < m_out.provider_count; i++)
            if (!check_provider(m_out.providers[i], m_refused_providers[i])) m_refused_providers[i] = true;
        bool changed = true;
        while (changed) {
            changed = false;
            for (u32 i = 0; i < m_out.process_count; i++)
                if (!m_refused_processes[i] && !check_process(m_out.processes[i], false))
                    m_refused_processes[i] = changed = true;
            for (u32 i = 0; i < m_out.provider_count; i++)
                if (!m_refused_providers[i] && !check_provider(m_out.providers[i], false))
                    m_refused_providers[i] = changed = true;
        }
    }

    template <typename T>
    static u32 compact(T* items, u32 count, const bool* refused) {
        u32 kept = 0;
        for (u32 i = 0; i < count; i++) {
            if (refused[i]) continue;
            if (kept != i) items[kept] = items[i];
            kept++;
        }
        return kept;
    }

    void drop_refused() {
        m_out.object_count = compact(m_out.objects, m_out.object_count, m_refused_objects);
        m_out.process_count = compact(m_out.processes, m_out.process_count, m_refused_processes);
        m_out.provider_count = compact(m_out.providers, m_out.provider_count, m_refused_providers);
    }

    // Every reference of a surviving entry names a surviving entry (resolve()
    // refused the others), so every lookup here succeeds.
    void link() {
        auto object_index = [&](const char* name) {
            u32 i = 0;
            while (i < m_out.object_count && !names_equal(m_out.objects[i].name, name)) i++;
            return i;
        };
        auto process_index = [&](const char* name) {
            u32 i = 0;
            while (i < m_out.process_count && !names_equal(m_out.processes[i].name, name)) i++;
            return i;
        };
        auto link_caps = [&](Program& p) {
            for (u32 i = 0; i < p.cap_count; i++) p.caps[i].object_index = object_index(p.caps[i].object);
        };
        for (u32 i = 0; i < m_out.process_count; i++) {
            Process& p = m_out.processes[i];
            link_caps(p.program);
            for (u32 s = 0; s < p.supervised_count; s++)
                p.supervised[s].process_index = process_index(p.supervised[s].process);
            for (u32 s = 0; s < p.served_count; s++) p.served[s].consumer_index = process_index(p.served[s].consumer);
        }
        for (u32 i = 0; i < m_out.provider_count; i++) {
            Provider& p = m_out.providers[i];
            link_caps(p.program);
            for (u32 s = 0; s < p.served_count; s++) p.served[s].consumer_index = process_index(p.served[s].consumer);
        }
    }

    // Stable insertion sort by position: reports come out in file order even
    // though references are checked after the whole file was read.
    void sort_errors() {
        ManifestError* e = m_errors.items;
        for (u32 i = 1; i < m_errors.count; i++) {
            u32 j = i;
            while (j > 0 &&
                   (e[j - 1].line > e[j].line || (e[j - 1].line == e[j].line && e[j - 1].column > e[j].column))) {
                const ManifestError t = e[j - 1];
                e[j - 1] = e[j];
                e[j] = t;
                j--;
            }
        }
    }

    Manifest& m_out;
    ManifestErrors& m_errors;
    u32 m_line = 0;
    Section m_section;
    bool m_refused_objects[kMaxObjects] = {};
    bool m_refused_processes[kMaxProcesses] = {};
    bool m_refused_providers[kMaxProviders] = {};
};

}  // namespace

Result<void> parse_manifest(ByteView text, Manifest& out, ManifestErrors& errors) {
    Parser parser(out, errors);
    parser.run(text);
    return errors.total == 0 ? Result<void>() : Result<void>(Status::Malformed);
}

}  // namespace manifest
