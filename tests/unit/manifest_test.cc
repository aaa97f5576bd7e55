// Unit tests for lib/manifest: a realistic manifest parses to exactly the
// expected structure; every kind of bad line is reported at its line and
// column with a message naming the problem while the other entries still
// load; hostile input (NUL bytes, CRLF, huge lines) is handled; the writer's
// output parses back to the same entries; the shipped example manifests and
// the examples in docs/manifest.md parse cleanly.
#include "manifest/manifest.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

static void PrintTo(Status s, std::ostream* os) { *os << status_name(s); }

namespace {

using namespace manifest;

struct Parsed {
    std::unique_ptr<Manifest> m = std::make_unique<Manifest>();
    ManifestErrors e;
    Status status = Status::Ok;
};

Parsed parse(const std::string& text) {
    Parsed p;
    p.status = parse_manifest(ByteView(reinterpret_cast<const u8*>(text.data()), text.size()), *p.m, p.e).status();
    return p;
}

std::string errors_text(const ManifestErrors& e) {
    std::string s;
    for (u32 i = 0; i < e.count; i++) {
        char line[256];
        format_error(e.items[i], line, sizeof(line));
        s += line;
        s += '\n';
    }
    if (e.total > e.count) s += "(+" + std::to_string(e.total - e.count) + " more)\n";
    return s;
}

// Exactly one error, at line:column, whose message contains `needle`.
testing::AssertionResult only_error(const Parsed& p, u32 line, u32 column, const std::string& needle) {
    if (p.status != Status::Malformed) return testing::AssertionFailure() << "status " << status_name(p.status);
    if (p.e.total != 1 || p.e.count != 1)
        return testing::AssertionFailure() << p.e.total << " errors, expected 1:\n" << errors_text(p.e);
    const ManifestError& err = p.e.items[0];
    if (err.line != line || err.column != column || std::string(err.message).find(needle) == std::string::npos)
        return testing::AssertionFailure()
               << "got " << errors_text(p.e) << "expected " << line << ":" << column << ": ..." << needle << "...";
    return testing::AssertionSuccess();
}

// Error i (errors are sorted by position) is at line:column and mentions needle.
testing::AssertionResult error_at(const Parsed& p, u32 i, u32 line, u32 column, const std::string& needle) {
    if (i >= p.e.count) return testing::AssertionFailure() << "no error #" << i << ":\n" << errors_text(p.e);
    const ManifestError& err = p.e.items[i];
    if (err.line != line || err.column != column || std::string(err.message).find(needle) == std::string::npos)
        return testing::AssertionFailure()
               << "error #" << i << " expected " << line << ":" << column << ": ..." << needle << "... in\n"
               << errors_text(p.e);
    return testing::AssertionSuccess();
}

std::vector<std::string> object_names(const Manifest& m) {
    std::vector<std::string> v;
    for (u32 i = 0; i < m.object_count; i++) v.push_back(m.objects[i].name);
    return v;
}
std::vector<std::string> process_names(const Manifest& m) {
    std::vector<std::string> v;
    for (u32 i = 0; i < m.process_count; i++) v.push_back(m.processes[i].name);
    return v;
}
std::vector<std::string> provider_names(const Manifest& m) {
    std::vector<std::string> v;
    for (u32 i = 0; i < m.provider_count; i++) v.push_back(m.providers[i].name);
    return v;
}
using Names = std::vector<std::string>;

std::string written(const Manifest& m) {
    const usize n = write_manifest(m, nullptr, 0);
    std::string s(n + 1, '\0');
    EXPECT_EQ(write_manifest(m, s.data(), s.size()), n);
    s.resize(n);
    return s;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << path;
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string repo_path(const std::string& rel) { return std::string(SLUICE_TEST_DATA) + "/../../../" + rel; }

// A valid frame around a line under test: a valid endpoint before and a
// valid process after, so each test also checks that the rest still loads.
// The line under test is line 4 of the text.
std::string framed(const std::string& section_with_bad_line) {
    return "[endpoint before]\n" + section_with_bad_line + "\n[process after]\nmodule = after\n";
}

// ---------------------------------------------------------------------------

constexpr const char* kFull = R"(# A realistic manifest: devices, consumers and their plumbing.
[endpoint blk_requests]
[notification blk_irq]   # signalled by the provider
[memory blk_ring]
size = 16K

[process devmgr]
module = devmgr
priority = 4
restart = on-failure
restart_limit = 3
restart_backoff_ms = 250
cap = blk_requests rights=serve|duplicate|transfer
kernel_memory = 32M

[process blkbench]
module = blkbench
args = "--depth 32 --label \"fast\" C:\\x"
cap = blk_requests rights=call
cap = blk_irq rights=wait as=irq
cap = blk_ring rights=read|write|map as=ring

[process shell]
module = shell
priority = 20
supervise = blkbench
supervise = devmgr as=dm
escrow = 16

[provider nvme0]
module = nvme
match = NvmeController
pci = 00:04.0
bar = 0 offset=0 length=0x1000 mode=filtered
bar = 0 offset=0x1000 length=4K mode=direct
vectors = 2
dma_pool = 4M
backend = bounce
restart = on-failure
serve = blkbench
cap = blk_irq rights=signal
kernel_memory = 0x300K

[provider vnet]
module = virtio-net
match = VirtioNet
vendor = 0x1af4
device = 0x1041
bar = 4 mode = direct
vectors = 3
dma_pool = 2M
)";

TEST(ManifestParse, FullManifestHasExactlyTheExpectedStructure) {
    const Parsed p = parse(kFull);
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_EQ(p.e.count, 0u);
    EXPECT_EQ(p.e.total, 0u);
    const Manifest& m = *p.m;

    ASSERT_EQ(object_names(m), (Names{"blk_requests", "blk_irq", "blk_ring"}));
    EXPECT_EQ(m.objects[0].kind, ObjectKind::Endpoint);
    EXPECT_EQ(m.objects[0].pos.line, 2u);
    EXPECT_EQ(m.objects[0].pos.column, 11u);
    EXPECT_EQ(m.objects[1].kind, ObjectKind::Notification);
    EXPECT_EQ(m.objects[2].kind, ObjectKind::Memory);
    EXPECT_EQ(m.objects[2].size, 16384u);

    ASSERT_EQ(process_names(m), (Names{"devmgr", "blkbench", "shell"}));
    const Process& devmgr = m.processes[0];
    EXPECT_STREQ(devmgr.program.module, "devmgr");
    EXPECT_EQ(devmgr.program.priority, 4);
    EXPECT_STREQ(devmgr.program.args, "");
    EXPECT_EQ(devmgr.program.restart.mode, RestartMode::OnFailure);
    EXPECT_EQ(devmgr.program.restart.limit, 3u);
    EXPECT_EQ(devmgr.program.restart.backoff_ms, 250u);
    ASSERT_EQ(devmgr.program.cap_count, 1u);
    EXPECT_STREQ(devmgr.program.caps[0].object, "blk_requests");
    EXPECT_STREQ(devmgr.program.caps[0].slot, "blk_requests");
    EXPECT_EQ(devmgr.program.caps[0].rights, kRightServe | kRightDuplicate | kRightTransfer);
    EXPECT_EQ(devmgr.program.caps[0].object_index, 0u);
    EXPECT_EQ(devmgr.program.caps[0].pos.line, 13u);
    EXPECT_EQ(devmgr.program.caps[0].pos.column, 7u);
    EXPECT_EQ(devmgr.program.caps[0].rights_pos.column, 27u);
    EXPECT_EQ(devmgr.supervised_count, 0u);
    EXPECT_EQ(devmgr.program.kernel_memory, 32u << 20);

    const Process& bench = m.processes[1];
    EXPECT_STREQ(bench.program.module, "blkbench");
    EXPECT_EQ(bench.program.priority, kDefaultPriority);
    EXPECT_STREQ(bench.program.args, "--depth 32 --label \"fast\" C:\\x");
    EXPECT_EQ(bench.program.restart.mode, RestartMode::Never);
    EXPECT_EQ(bench.program.restart.limit, kDefaultRestartLimit);
    EXPECT_EQ(bench.program.restart.backoff_ms, kDefaultRestartBackoffMs);
    EXPECT_EQ(bench.program.kernel_memory, kDefaultKernelMemory);
    ASSERT_EQ(bench.program.cap_count, 3u);
    EXPECT_STREQ(bench.program.caps[0].slot, "blk_requests");
    EXPECT_EQ(bench.program.caps[0].rights, kRightCall);
    EXPECT_STREQ(bench.program.caps[1].object, "blk_irq");
    EXPECT_STREQ(bench.program.caps[1].slot, "irq");
    EXPECT_EQ(bench.program.caps[1].rights, kRightWait);
    EXPECT_EQ(bench.program.caps[1].object_index, 1u);
    EXPECT_STREQ(bench.program.caps[2].slot, "ring");
    EXPECT_EQ(bench.program.caps[2].rights, kRightRead | kRightWrite | kRightMap);
    EXPECT_EQ(bench.program.caps[2].object_index, 2u);

    const Process& shell = m.processes[2];
    EXPECT_EQ(shell.program.priority, 20);
    EXPECT_EQ(shell.program.cap_count, 0u);
    ASSERT_EQ(shell.supervised_count, 2u);
    EXPECT_EQ(shell.escrow, 16u);
    EXPECT_EQ(bench.escrow, 0u);
    EXPECT_STREQ(shell.supervised[0].process, "blkbench");
    EXPECT_STREQ(shell.supervised[0].slot, "blkbench");
    EXPECT_EQ(shell.supervised[0].process_index, 1u);
    EXPECT_STREQ(shell.supervised[1].process, "devmgr");
    EXPECT_STREQ(shell.supervised[1].slot, "dm");
    EXPECT_EQ(shell.supervised[1].process_index, 0u);

    ASSERT_EQ(provider_names(m), (Names{"nvme0", "vnet"}));
    const Provider& nvme = m.providers[0];
    EXPECT_STREQ(nvme.program.module, "nvme");
    EXPECT_EQ(nvme.match, DeviceClass::NvmeController);
    EXPECT_TRUE(nvme.has_pci);
    EXPECT_EQ(nvme.pci.segment, 0);
    EXPECT_EQ(nvme.pci.bus, 0);
    EXPECT_EQ(nvme.pci.device, 4);
    EXPECT_EQ(nvme.pci.function, 0);
    EXPECT_FALSE(nvme.has_vendor);
    EXPECT_FALSE(nvme.has_device);
    ASSERT_EQ(nvme.bar_count, 2u);
    EXPECT_EQ(nvme.bars[0].bar, 0);
    EXPECT_EQ(nvme.bars[0].offset, 0u);
    EXPECT_EQ(nvme.bars[0].length, 0x1000u);
    EXPECT_EQ(nvme.bars[0].mode, BarMode::Filtered);
    EXPECT_EQ(nvme.bars[1].offset, 0x1000u);
    EXPECT_EQ(nvme.bars[1].length, 4096u);
    EXPECT_EQ(nvme.bars[1].mode, BarMode::Direct);
    EXPECT_EQ(nvme.vectors, 2u);
    EXPECT_EQ(nvme.dma_pool, 4u << 20);
    EXPECT_EQ(nvme.backend, DmaBackend::Bounce);
    EXPECT_EQ(nvme.program.restart.mode, RestartMode::OnFailure);
    ASSERT_EQ(nvme.served_count, 1u);
    EXPECT_STREQ(nvme.served[0].consumer, "blkbench");
    EXPECT_EQ(nvme.served[0].consumer_index, 1u);
    ASSERT_EQ(nvme.program.cap_count, 1u);
    EXPECT_EQ(nvme.program.caps[0].rights, kRightSignal);
    EXPECT_EQ(nvme.program.caps[0].object_index, 1u);
    EXPECT_EQ(nvme.program.kernel_memory, 0x300u << 10);

    const Provider& vnet = m.providers[1];
    EXPECT_STREQ(vnet.program.module, "virtio-net");
    EXPECT_EQ(vnet.match, DeviceClass::VirtioNet);
    EXPECT_FALSE(vnet.has_pci);
    EXPECT_TRUE(vnet.has_vendor);
    EXPECT_EQ(vnet.vendor, 0x1af4);
    EXPECT_TRUE(vnet.has_device);
    EXPECT_EQ(vnet.device, 0x1041);
    ASSERT_EQ(vnet.bar_count, 1u);
    EXPECT_EQ(vnet.bars[0].bar, 4);
    EXPECT_EQ(vnet.bars[0].offset, 0u);
    EXPECT_EQ(vnet.bars[0].length, 0u);  // to the end of the BAR
    EXPECT_EQ(vnet.bars[0].mode, BarMode::Direct);
    EXPECT_EQ(vnet.vectors, 3u);
    EXPECT_EQ(vnet.dma_pool, 2u << 20);
    EXPECT_EQ(vnet.backend, DmaBackend::Auto);
    EXPECT_EQ(vnet.served_count, 0u);
    EXPECT_EQ(vnet.program.kernel_memory, kDefaultKernelMemory);

    EXPECT_EQ(find_object(m, "blk_ring"), &m.objects[2]);
    EXPECT_EQ(find_process(m, "shell"), &m.processes[2]);
    EXPECT_EQ(find_provider(m, "vnet"), &m.providers[1]);
    EXPECT_EQ(find_object(m, "shell"), nullptr);
    EXPECT_EQ(find_process(m, "blk"), nullptr);
}

TEST(ManifestParse, EmptyBlankAndCommentOnlyInputsAreValidAndEmpty) {
    for (const char* text : {"", "\n\n", "# nothing\n   # still nothing\n\t\n", "   "}) {
        const Parsed p = parse(text);
        EXPECT_EQ(p.status, Status::Ok) << errors_text(p.e);
        EXPECT_EQ(p.m->object_count + p.m->process_count + p.m->provider_count, 0u);
    }
}

TEST(ManifestParse, NumbersAcceptDecimalHexAndSizeSuffixes) {
    const Parsed p = parse(
        "[memory a]\nsize = 4096\n[memory b]\nsize = 0x2000\n[memory c]\nsize = 16k\n"
        "[memory d]\nsize = 1M\n[memory e]\nsize = 2G\n[memory f]\nsize = 0x10K\n[memory g]\nsize = 00004096\n"
        "[process p]\nmodule = p\npriority = 0x1f\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    const u64 expected[] = {4096, 0x2000, 16384, 1u << 20, u64{2} << 30, 16 * 1024, 4096};
    ASSERT_EQ(p.m->object_count, 7u);
    for (u32 i = 0; i < 7; i++) EXPECT_EQ(p.m->objects[i].size, expected[i]) << i;
    EXPECT_EQ(p.m->processes[0].program.priority, 31);
}

TEST(ManifestParse, ProcessNamesMayBeForwardReferences) {
    const Parsed p = parse(
        "[process boss]\nmodule = boss\nsupervise = worker\ncap = ep rights=call\n"
        "[process worker]\nmodule = worker\n[endpoint ep]\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_EQ(p.m->processes[0].supervised[0].process_index, 1u);
    EXPECT_EQ(p.m->processes[0].program.caps[0].object_index, 0u);
}

TEST(ManifestParse, PciAddressForms) {
    const Parsed p = parse(
        "[provider a]\nmodule = a\nmatch = AnyFunction\npci = 0001:3a:1f.7\n"
        "[provider b]\nmodule = b\nmatch = DmaCapable\npci = 0:2.1\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_EQ(p.m->providers[0].pci.segment, 1);
    EXPECT_EQ(p.m->providers[0].pci.bus, 0x3a);
    EXPECT_EQ(p.m->providers[0].pci.device, 0x1f);
    EXPECT_EQ(p.m->providers[0].pci.function, 7);
    EXPECT_EQ(p.m->providers[1].match, DeviceClass::DmaCapable);
    EXPECT_EQ(p.m->providers[1].pci.device, 2);
    EXPECT_EQ(p.m->providers[1].pci.function, 1);
}

TEST(ManifestParse, ConsoleIsAnObjectKindFromTheKernel) {
    const Parsed p = parse(
        "[console tty]\n[process shell]\nmodule = shell\ncap = tty rights=read|write|wait\n"
        "[process bad]\nmodule = bad\ncap = tty rights=map\n");
    ASSERT_EQ(p.m->object_count, 1u);
    EXPECT_EQ(p.m->objects[0].kind, ObjectKind::Console);
    ASSERT_EQ(p.m->process_count, 1u);
    EXPECT_EQ(p.m->processes[0].program.caps[0].rights, kRightRead | kRightWrite | kRightWait);
    EXPECT_EQ(p.e.count, 1u);  // 'map' does not apply to a console: process bad refused
}

TEST(ManifestParse, AllRightsAndTheirKinds) {
    const Parsed p = parse(
        "[endpoint e]\n[notification n]\n[memory m]\nsize = 4K\n[process p]\nmodule = p\n"
        "cap = e rights=call|serve|wait|inspect|manage|duplicate|transfer|revoke\n"
        "cap = n rights=signal|wait as=n2\n"
        "cap = m rights=read|write|map|execute\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    const Program& prog = p.m->processes[0].program;
    EXPECT_EQ(prog.caps[0].rights, rights_allowed_for(ObjectKind::Endpoint));
    EXPECT_EQ(prog.caps[1].rights, kRightSignal | kRightWait);
    EXPECT_EQ(prog.caps[2].rights, kRightRead | kRightWrite | kRightMap | kRightExecute);
    char buf[128];
    format_rights(kAllRights, buf, sizeof(buf));
    EXPECT_STREQ(buf, "read|write|map|execute|call|serve|signal|wait|inspect|manage|duplicate|transfer|revoke");
    EXPECT_STREQ(right_name(kRightInspect), "inspect");
    EXPECT_STREQ(right_name(kRightRead | kRightWrite), "?");
}

// ---------------------------------------------------------------------------
// Syntax errors: each at its line and column, the rest still loads.

void expect_frame_loaded(const Parsed& p) {
    EXPECT_EQ(find_object(*p.m, "before") != nullptr, true) << errors_text(p.e);
    EXPECT_EQ(find_process(*p.m, "after") != nullptr, true) << errors_text(p.e);
}

TEST(ManifestSyntax, HeaderWithoutClosingBracket) {
    const Parsed p = parse(framed("\n[process ping\nmodule = ping"));
    EXPECT_TRUE(only_error(p, 3, 14, "missing ']'"));
    expect_frame_loaded(p);
    EXPECT_EQ(find_process(*p.m, "ping"), nullptr);
}

TEST(ManifestSyntax, HeaderShapes) {
    struct Case {
        const char* header;
        u32 column;
        const char* message;
    } cases[] = {
        {"[process]", 9, "section [process] needs a name: [process NAME]"},
        {"[]", 2, "expected a section kind after '[', found ']'"},
        {"[ ", 2, "expected a section kind after '[', found the end of the line"},
        {"[process a b]", 12, "expected ']' after the name, found 'b'"},
        {"[process a] x", 13, "unexpected 'x' after ']'"},
        {"[process \"a\"]", 10, "expected a name after 'process', found \"a\""},
        {"[process 9a]", 10, "invalid name '9a': a name starts with a letter or '_'"},
        {"[process a:b]", 11, "invalid character ':' in name 'a:b'"},
        {"[process a,b]", 11, "unexpected character ','"},
    };
    for (const Case& c : cases) {
        const Parsed p = parse(framed(std::string("\n\n") + c.header + "\nmodule = x"));
        EXPECT_TRUE(only_error(p, 4, c.column, c.message)) << c.header;
        expect_frame_loaded(p);
        EXPECT_EQ(p.m->process_count, 1u) << c.header;
    }
}

TEST(ManifestSyntax, UnknownSectionKindSkipsItsBody) {
    const Parsed p = parse(framed("\n\n[daemon d]\nwhatever = 1\nmore nonsense \"\n"));
    EXPECT_TRUE(only_error(p, 4, 2,
                           "unknown section kind 'daemon'; expected endpoint, notification, memory, console, resource, "
                           "devices, manifest, process"));
    expect_frame_loaded(p);
}

TEST(ManifestSyntax, UnknownKey) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\ncolour = red"));
    EXPECT_TRUE(only_error(p, 4, 1, "unknown key 'colour' in process 'ping'"));
    expect_frame_loaded(p);
    EXPECT_EQ(find_process(*p.m, "ping"), nullptr);  // refused
}

TEST(ManifestSyntax, KeyOfAnotherSectionKind) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\n  match = VirtioNet"));
    EXPECT_TRUE(only_error(p, 4, 3, "key 'match' does not belong in process sections"));
    expect_frame_loaded(p);
    EXPECT_EQ(p.m->process_count, 1u);
}

TEST(ManifestSyntax, MissingEquals) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\npriority 3"));
    EXPECT_TRUE(only_error(p, 4, 10, "expected '=' after 'priority', found '3'"));
    expect_frame_loaded(p);
    EXPECT_EQ(p.m->process_count, 1u);
}

TEST(ManifestSyntax, MissingValue) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\npriority =   # later"));
    EXPECT_TRUE(only_error(p, 4, 11, "missing value for 'priority'"));
}

TEST(ManifestSyntax, UnterminatedString) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\nargs = \"--verbose"));
    EXPECT_TRUE(only_error(p, 4, 8, "unterminated string"));
    expect_frame_loaded(p);
    EXPECT_EQ(p.m->process_count, 1u);
    // a backslash cannot escape the end of the line
    EXPECT_TRUE(only_error(parse(framed("[process ping]\nmodule = ping\nargs = \"a\\")), 4, 8, "unterminated string"));
}

TEST(ManifestSyntax, InvalidEscape) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\nargs = \"a\\nb\""));
    EXPECT_TRUE(only_error(p, 4, 10, "invalid escape '\\n' in string"));
}

TEST(ManifestSyntax, SingleQuotesAreNotStrings) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\nargs = 'x'"));
    EXPECT_TRUE(only_error(p, 4, 8, "strings use double quotes"));
}

TEST(ManifestSyntax, ValueWhereNoneIsExpected) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\npriority = 3 4"));
    EXPECT_TRUE(only_error(p, 4, 14, "unexpected '4' after the value of 'priority'"));
}

TEST(ManifestSyntax, LineThatIsNeitherHeaderNorKey) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\n= 3"));
    EXPECT_TRUE(only_error(p, 4, 1, "expected [kind name] or key = value, found '='"));
}

TEST(ManifestSyntax, KeyOutsideAnySection) {
    const Parsed p = parse("module = x\n[process p]\nmodule = p\n");
    EXPECT_TRUE(only_error(p, 1, 1, "'module' is outside any section"));
    EXPECT_EQ(p.m->process_count, 1u);
}

TEST(ManifestSyntax, BadNumber) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\npriority = 1x"));
    EXPECT_TRUE(only_error(p, 4, 12, "invalid number '1x' for priority"));
    expect_frame_loaded(p);
    EXPECT_EQ(p.m->process_count, 1u);
    for (const char* bad : {"-1", "0x", "K", "1.5", "1_000", "0xg"})
        EXPECT_TRUE(only_error(parse(framed(std::string("[memory m]\n\nsize = ") + bad)), 4, 8, "invalid number"))
            << bad;
}

TEST(ManifestSyntax, NumberOverflow) {
    const Parsed p =
        parse(framed("[process ping]\nrestart = on-failure\nrestart_limit = 99999999999999999999999\nmodule = ping"));
    EXPECT_TRUE(only_error(p, 4, 17, "number '99999999999999999999999' is too large (more than 64 bits)"));
    expect_frame_loaded(p);
    EXPECT_EQ(p.m->process_count, 1u);
    EXPECT_TRUE(only_error(parse(framed("[memory m]\n\nsize = 0x10000000000000000")), 4, 8, "too large"));
    // fits in 64 bits, not after the suffix
    EXPECT_TRUE(only_error(parse(framed("[memory m]\n\nsize = 0x4000000000000G")), 4, 8, "too large"));
}

TEST(ManifestSyntax, OutOfRangePriority) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\npriority = 32"));
    EXPECT_TRUE(only_error(p, 4, 12, "priority 32 is out of range 0..31"));
    expect_frame_loaded(p);
    EXPECT_EQ(p.m->process_count, 1u);
}

TEST(ManifestSyntax, SizeSuffixOnlyForSizes) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\npriority = 1K"));
    EXPECT_TRUE(only_error(p, 4, 12, "priority takes a plain number; K, M and G are for sizes"));
}

TEST(ManifestSyntax, NulBytesAndControlCharacters) {
    std::string text = framed("[process ping]\nmodule = ping\nargs = \"a");
    text.insert(text.find("\"a") + 2, std::string("\0b\"", 3));
    const Parsed p = parse(text);
    EXPECT_TRUE(only_error(p, 4, 10, "control character 0x00"));
    expect_frame_loaded(p);
    EXPECT_EQ(p.m->process_count, 1u);

    // a NUL in a header refuses the header and its body (which would
    // otherwise land in the previous section)
    std::string h = framed("[process ping]\nmodule = ping\n[process po\x01ng]\nmodule = pong");
    const Parsed q = parse(h);
    EXPECT_TRUE(only_error(q, 4, 12, "control character 0x01"));
    EXPECT_EQ(process_names(*q.m), (Names{"ping", "after"}));

    std::string nul_header = "[endpoint a]\n[process b";
    nul_header += '\0';
    nul_header += "]\nmodule = b\n";
    const Parsed r = parse(nul_header);
    EXPECT_TRUE(only_error(r, 2, 11, "control character 0x00"));
    EXPECT_EQ(object_names(*r.m), (Names{"a"}));
    EXPECT_EQ(r.m->process_count, 0u);

    EXPECT_TRUE(only_error(parse("[endpoint a]\x7f\n"), 1, 13, "control character 0x7f"));
    EXPECT_TRUE(only_error(parse("# comment \x1b[1m\n"), 1, 11, "control character 0x1b"));
}

TEST(ManifestSyntax, NonAsciiOnlyInStringsAndComments) {
    const Parsed ok = parse("# caf\xc3\xa9\n[process p]\nmodule = p\nargs = \"na\xc3\xafve\"\n");
    ASSERT_EQ(ok.status, Status::Ok) << errors_text(ok.e);
    EXPECT_STREQ(ok.m->processes[0].program.args, "na\xc3\xafve");
    EXPECT_TRUE(only_error(parse("[process p\xc3\xa9]\n"), 1, 11, "unexpected byte 0xc3 outside a string or comment"));
}

// ---------------------------------------------------------------------------
// Validation beyond syntax

TEST(ManifestValidation, UnknownRight) {
    const Parsed p =
        parse("[endpoint ep]\n[process p]\nmodule = p\ncap = ep rights=call|fly\n[process q]\nmodule = q\n");
    EXPECT_TRUE(only_error(p, 4, 22, "unknown right 'fly'; expected read, write, map"));
    EXPECT_EQ(process_names(*p.m), (Names{"q"}));
    EXPECT_EQ(object_names(*p.m), (Names{"ep"}));
}

TEST(ManifestValidation, RightsListShapes) {
    const char* pre = "[endpoint ep]\n[process p]\nmodule = p\n";
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=call||serve\n"), 4, 22, "empty right"));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=call|\n"), 4, 22, "empty right"));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=call|call\n"), 4, 22, "right 'call' given twice"));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=call | serve\n"), 4, 22, "no spaces"));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep\n"), 4, 7, "cap 'ep' needs rights="));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep call\n"), 4, 10, "expected NAME=VALUE, found 'call'"));
    EXPECT_TRUE(
        only_error(parse(std::string(pre) + "cap = ep rights=\n"), 4, 17, "missing value for attribute 'rights'"));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=call rights=serve\n"), 4, 22,
                           "attribute 'rights' given twice"));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=call slot=x\n"), 4, 22,
                           "unknown attribute 'slot' for 'cap'; expected rights or as"));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=\"call\"\n"), 4, 17, "rights must be bare words"));
}

TEST(ManifestValidation, RightThatDoesNotApplyToTheObject) {
    const Parsed p = parse("[endpoint ep]\n[process p]\nmodule = p\ncap = ep rights=call|map\n");
    EXPECT_TRUE(only_error(p, 4, 17, "right 'map' does not apply to endpoint 'ep'"));
    EXPECT_EQ(p.m->process_count, 0u);
}

TEST(ManifestValidation, CapToUndefinedObject) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\ncap = nowhere rights=call"));
    EXPECT_TRUE(only_error(p, 4, 7, "cap names 'nowhere', which is not defined"));
    expect_frame_loaded(p);
    EXPECT_EQ(p.m->process_count, 1u);
}

TEST(ManifestValidation, CapToAProcess) {
    const Parsed p = parse("[process a]\nmodule = a\n[process b]\nmodule = b\ncap = a rights=manage\n");
    EXPECT_TRUE(only_error(p, 5, 7, "cap names process 'a'; a cap names an endpoint, notification or memory object"));
    EXPECT_EQ(process_names(*p.m), (Names{"a"}));
}

TEST(ManifestValidation, CapToRefusedObjectRefusesTheProcess) {
    const Parsed p =
        parse("[memory buf]\nsize = 100\n[process p]\nmodule = p\ncap = buf rights=read\n[process q]\nmodule = q\n");
    ASSERT_EQ(p.e.total, 2u) << errors_text(p.e);
    EXPECT_TRUE(error_at(p, 0, 2, 8, "size 100 is not a multiple of 4K"));
    EXPECT_TRUE(error_at(p, 1, 5, 7, "cap names memory 'buf', which was refused (line 1)"));
    EXPECT_EQ(p.m->object_count, 0u);
    EXPECT_EQ(process_names(*p.m), (Names{"q"}));
}

TEST(ManifestValidation, RefusalCascadesThroughSupervisionAndServe) {
    // top supervises mid supervises leaf; leaf's cap is bad; the provider
    // serves mid. Declared in an order that needs more than one pass.
    const Parsed p = parse(
        "[process top]\nmodule = top\nsupervise = mid\n"                                 // 1-3
        "[provider drv]\nmodule = drv\nmatch = VirtioBlk\nserve = mid\nserve = other\n"  // 4-8
        "[process mid]\nmodule = mid\nsupervise = leaf\n"                                // 9-11
        "[process leaf]\nmodule = leaf\ncap = ghost rights=call\n"                       // 12-14
        "[process other]\nmodule = other\n");                                            // 15-16
    ASSERT_EQ(p.e.total, 4u) << errors_text(p.e);
    EXPECT_TRUE(error_at(p, 0, 3, 13, "supervises process 'mid', which was refused (line 9)"));
    EXPECT_TRUE(error_at(p, 1, 7, 9, "serves process 'mid', which was refused (line 9)"));
    EXPECT_TRUE(error_at(p, 2, 11, 13, "supervises process 'leaf', which was refused (line 12)"));
    EXPECT_TRUE(error_at(p, 3, 14, 7, "cap names 'ghost', which is not defined"));
    EXPECT_EQ(process_names(*p.m), (Names{"other"}));
    EXPECT_EQ(p.m->provider_count, 0u);
}

TEST(ManifestValidation, SuperviseAndServeNameProcesses) {
    const Parsed p = parse(
        "[endpoint ep]\n[process a]\nmodule = a\nsupervise = ep\n"
        "[process b]\nmodule = b\nsupervise = b\n"
        "[process c]\nmodule = c\nsupervise = nobody\n"
        "[provider d]\nmodule = d\nmatch = AnyFunction\nserve = d\n"
        "[provider e]\nmodule = e\nmatch = AnyFunction\nserve = c\n");
    ASSERT_EQ(p.e.total, 5u) << errors_text(p.e);
    EXPECT_TRUE(error_at(p, 0, 4, 13, "supervises endpoint 'ep'; only a process can be named here"));
    EXPECT_TRUE(error_at(p, 1, 7, 13, "a process cannot supervise itself"));
    EXPECT_TRUE(error_at(p, 2, 10, 13, "supervises 'nobody', which is not defined"));
    EXPECT_TRUE(error_at(p, 3, 14, 9, "serves provider 'd'; only a process can be named here"));
    EXPECT_TRUE(error_at(p, 4, 18, 9, "serves process 'c', which was refused (line 8)"));
    EXPECT_EQ(object_names(*p.m), (Names{"ep"}));
    EXPECT_EQ(p.m->process_count + p.m->provider_count, 0u);
}

TEST(ManifestValidation, DuplicateName) {
    const Parsed p = parse("[endpoint ep]\n[process p]\nmodule = p\n[memory ep]\nsize = 4K\n[process q]\nmodule = q\n");
    EXPECT_TRUE(only_error(p, 4, 9, "duplicate name 'ep' (already the endpoint on line 1)"));
    EXPECT_EQ(object_names(*p.m), (Names{"ep"}));
    EXPECT_EQ(p.m->objects[0].kind, ObjectKind::Endpoint);
    EXPECT_EQ(process_names(*p.m), (Names{"p", "q"}));
}

TEST(ManifestValidation, DuplicateOfARefusedEntryIsStillADuplicate) {
    const Parsed p = parse("[process p]\nmodule = p\npriority = 99\n[process p]\nmodule = p2\n");
    ASSERT_EQ(p.e.total, 2u) << errors_text(p.e);
    EXPECT_TRUE(error_at(p, 0, 3, 12, "out of range"));
    EXPECT_TRUE(error_at(p, 1, 4, 10, "duplicate name 'p' (already the process on line 1)"));
    EXPECT_EQ(p.m->process_count, 0u);
}

TEST(ManifestValidation, DuplicateKey) {
    const Parsed p = parse(framed("[process ping]\nmodule = ping\nmodule = pong"));
    EXPECT_TRUE(only_error(p, 4, 1, "duplicate key 'module' (first set on line 3)"));
    expect_frame_loaded(p);
    EXPECT_EQ(p.m->process_count, 1u);
}

TEST(ManifestValidation, MissingRequiredKeys) {
    const Parsed p = parse(
        "[process ping]\npriority = 3\n"
        "[memory buf]\n"
        "[provider nic]\nmodule = nic\n"
        "[process ok]\nmodule = ok\n");
    ASSERT_EQ(p.e.total, 3u) << errors_text(p.e);
    EXPECT_TRUE(error_at(p, 0, 1, 10, "process 'ping' needs a module"));
    EXPECT_TRUE(error_at(p, 1, 3, 9, "memory 'buf' needs a size"));
    EXPECT_TRUE(error_at(p, 2, 4, 11, "provider 'nic' needs match = DEVICE-CLASS"));
    EXPECT_EQ(process_names(*p.m), (Names{"ok"}));
    EXPECT_EQ(p.m->object_count + p.m->provider_count, 0u);
}

TEST(ManifestValidation, AKeyLineWithAnErrorStillCountsAsGiven) {
    // no spurious "needs a module" after a bad module line
    const Parsed p = parse("[process p]\nmodule = \"\"\n");
    EXPECT_TRUE(only_error(p, 2, 10, "module name is empty"));
}

TEST(ManifestValidation, ModuleNames) {
    EXPECT_EQ(parse("[process p]\nmodule = \"9p.v2_x-y\"\n").status, Status::Ok);
    EXPECT_EQ(parse("[process p]\nmodule = 9p\n").status, Status::Ok);
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = _x\n"), 2, 10, "starts with a letter or digit"));
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = a:b\n"), 2, 11, "invalid character in module name 'a:b'"));
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = \"a b\"\n"), 2, 10, "invalid character in module name"));
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = " + std::string(65, 'm') + "\n"), 2, 10,
                           "is longer than 64 characters"));
    EXPECT_EQ(parse("[process p]\nmodule = " + std::string(64, 'm') + "\n").status, Status::Ok);
}

TEST(ManifestValidation, NamesAndSlots) {
    const std::string n31(31, 'n');
    EXPECT_EQ(parse("[endpoint " + n31 + "]\n").status, Status::Ok);
    EXPECT_TRUE(only_error(parse("[endpoint " + n31 + "x]\n"), 1, 11, "is longer than 31 characters"));
    EXPECT_EQ(parse("[endpoint _a.b-c9]\n").status, Status::Ok);
    const char* pre = "[endpoint ep]\n[process p]\nmodule = p\n";
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=call\ncap = ep rights=serve\n"), 5, 7,
                           "slot 'ep' is already used on line 4; name another with as=NAME"));
    EXPECT_EQ(parse(std::string(pre) + "cap = ep rights=call\ncap = ep rights=serve as=ep2\n").status, Status::Ok);
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=call as=9\n"), 4, 25, "invalid slot name '9'"));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = \"ep\" rights=call\n"), 4, 7,
                           "object name must be a bare name, not a string"));
    // supervise and cap slots share one namespace
    EXPECT_TRUE(only_error(parse(std::string(pre) + "cap = ep rights=call as=kid\nsupervise = q as=kid\n"
                                                    "[process q]\nmodule = q\n"),
                           5, 18, "slot 'kid' is already used on line 4"));
    EXPECT_TRUE(only_error(parse(std::string(pre) + "supervise = q\nsupervise = q as=again\n[process q]\nmodule = q\n"),
                           5, 13, "'q' is already supervised on line 4"));
}

TEST(ManifestValidation, RestartKeys) {
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = p\nrestart = always\n"), 3, 11,
                           "unknown restart policy 'always'; expected never or on-failure"));
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = p\nrestart_limit = 3\n"), 3, 1,
                           "restart_limit only applies with restart = on-failure"));
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = p\nrestart = never\nrestart_backoff_ms = 3\n"), 4, 1,
                           "restart_backoff_ms only applies with restart = on-failure"));
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = p\nrestart = on-failure\nrestart_limit = 0\n"), 4, 17,
                           "restart_limit 0 is out of range 1..1000"));
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = p\nrestart = on-failure\nrestart_backoff_ms = 3600001\n"), 4,
                           22, "restart_backoff_ms 3600001 is out of range 0..3600000"));
    // order does not matter
    const Parsed p = parse("[process p]\nmodule = p\nrestart_limit = 7\nrestart = on-failure\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_EQ(p.m->processes[0].program.restart.limit, 7u);
}

TEST(ManifestValidation, Escrow) {
    const Parsed p = parse("[process p]\nmodule = p\nescrow = 12\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_EQ(p.m->processes[0].escrow, 12u);
    EXPECT_EQ(parse("[process p]\nmodule = p\n").m->processes[0].escrow, 0u);
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = p\nescrow = 0\n"), 3, 10, "escrow 0 is out of range 1..512"));
    EXPECT_TRUE(
        only_error(parse("[process p]\nmodule = p\nescrow = 513\n"), 3, 10, "escrow 513 is out of range 1..512"));
    EXPECT_TRUE(only_error(parse("[provider v]\nmodule = v\nmatch = VirtioBlk\nescrow = 4\n"), 4, 1,
                           "key 'escrow' does not belong in provider sections"));
}

TEST(ManifestValidation, Sizes) {
    EXPECT_TRUE(only_error(parse("[memory m]\nsize = 0\n"), 2, 8, "size must not be 0"));
    EXPECT_TRUE(only_error(parse("[memory m]\nsize = 6000\n"), 2, 8, "size 6000 is not a multiple of 4K"));
    EXPECT_TRUE(only_error(parse("[memory m]\nsize = 1025G\n"), 2, 8, "size 1025G is larger than 1024G"));
    EXPECT_EQ(parse("[memory m]\nsize = 1024G\n").status, Status::Ok);
    EXPECT_TRUE(only_error(parse("[memory m]\nsize = \"4K\"\n"), 2, 8, "size takes a number, not a string"));
    EXPECT_TRUE(
        only_error(parse("[endpoint e]\nsize = 4K\n"), 2, 1, "key 'size' does not belong in endpoint sections"));
}

TEST(ManifestValidation, KernelMemory) {
    // A size, like dma_pool, in process and provider sections alike.
    EXPECT_TRUE(
        only_error(parse(framed("[process p]\nmodule = p\nkernel_memory = 0")), 4, 17, "kernel_memory must not be 0"));
    EXPECT_TRUE(only_error(parse(framed("[process p]\nmodule = p\nkernel_memory = 6000")), 4, 17,
                           "kernel_memory 6000 is not a multiple of 4K (the page size)"));
    EXPECT_TRUE(only_error(parse(framed("[process p]\nmodule = p\nkernel_memory = 2T")), 4, 17,
                           "invalid number '2T' for kernel_memory"));
    EXPECT_TRUE(only_error(parse(framed("[process p]\nmodule = p\nkernel_memory = 1025G")), 4, 17,
                           "kernel_memory 1025G is larger than 1024G"));
    EXPECT_TRUE(only_error(parse(framed("[process p]\nmodule = p\nkernel_memory = \"4M\"")), 4, 17,
                           "kernel_memory takes a number, not a string"));
    EXPECT_TRUE(only_error(parse(framed("[process p]\nmodule = p\nkernel_memory = 4M\nkernel_memory = 8M")), 5, 1,
                           "duplicate key 'kernel_memory' (first set on line 4)"));
    EXPECT_TRUE(only_error(parse(framed("[memory m]\nsize = 4K\nkernel_memory = 4M")), 4, 1,
                           "key 'kernel_memory' does not belong in memory sections"));
    // The offending entry is refused, the frame around it still loads.
    const Parsed bad = parse(framed("[process p]\nmodule = p\nkernel_memory = 0"));
    EXPECT_EQ(process_names(*bad.m), (Names{"after"}));
    EXPECT_EQ(bad.m->processes[0].program.kernel_memory, kDefaultKernelMemory);

    const Parsed ok = parse(
        "[process p]\nmodule = p\nkernel_memory = 768K\n[provider d]\nmodule = d\n"
        "match = AnyFunction\nkernel_memory = 1G\n");
    ASSERT_EQ(ok.status, Status::Ok) << errors_text(ok.e);
    EXPECT_EQ(ok.m->processes[0].program.kernel_memory, 768u << 10);
    EXPECT_EQ(ok.m->providers[0].program.kernel_memory, u64{1} << 30);
    // Written back in canonical form, and read again the same.
    const std::string text = written(*ok.m);
    EXPECT_NE(text.find("[process p]\nmodule = p\npriority = 16\nkernel_memory = 768K\n"), std::string::npos) << text;
    EXPECT_NE(text.find("kernel_memory = 1G\n"), std::string::npos) << text;
    const Parsed again = parse(text);
    ASSERT_EQ(again.status, Status::Ok) << errors_text(again.e) << text;
    EXPECT_EQ(again.m->processes[0].program.kernel_memory, 768u << 10);
    EXPECT_EQ(again.m->providers[0].program.kernel_memory, u64{1} << 30);
}

TEST(ManifestValidation, ProviderKeys) {
    const std::string pre = "[provider d]\nmodule = d\nmatch = VirtioBlk\n";
    EXPECT_TRUE(only_error(parse("[provider d]\nmodule = d\nmatch = virtioblk\n"), 3, 9,
                           "unknown device class 'virtioblk'; expected NvmeController, VirtioNet"));
    EXPECT_TRUE(only_error(parse(pre + "pci = 00:20.0\n"), 4, 7, "PCI device 20 is out of range 0..1f"));
    EXPECT_TRUE(only_error(parse(pre + "pci = 00:01.8\n"), 4, 7, "PCI function 8 is out of range 0..7"));
    EXPECT_TRUE(only_error(parse(pre + "pci = 100:01.0\n"), 4, 7, "PCI bus 100 is out of range 0..ff"));
    for (const char* bad :
         {"1.0", "00:01", "00:01.0.1", "1:2:3:4.0", ":01.0", "00:.0", "00:01.", "00000:01:02.0", "0g:01.0", "00.01:0"})
        EXPECT_TRUE(only_error(parse(pre + "pci = " + bad + "\n"), 4, 7, "invalid PCI address")) << bad;
    EXPECT_TRUE(only_error(parse(pre + "vendor = 0xffff\n"), 4, 10, "0xffff is not a vendor ID"));
    EXPECT_TRUE(only_error(parse(pre + "vendor = 0x10000\n"), 4, 10, "vendor 0x10000 is out of range 0..65535"));
    EXPECT_TRUE(only_error(parse(pre + "device = 0x1001\n"), 4, 1, "device needs vendor too"));
    EXPECT_TRUE(only_error(parse(pre + "vectors = 2049\n"), 4, 11, "vectors 2049 is out of range 0..2048"));
    EXPECT_TRUE(only_error(parse(pre + "dma_pool = 0\n"), 4, 12, "dma_pool must not be 0"));
    EXPECT_TRUE(
        only_error(parse(pre + "backend = vtd\n"), 4, 11, "unknown backend 'vtd'; expected auto, bounce or iommu"));
    // interrupts= accepts the remapped lane without interrupt remapping;
    // it means nothing on another backend
    EXPECT_TRUE(only_error(parse(pre + "backend = bounce interrupts=unremapped\n"), 4, 18,
                           "interrupts= applies to backend = iommu only"));
    EXPECT_TRUE(only_error(parse(pre + "backend = iommu interrupts=maybe\n"), 4, 28,
                           "unknown interrupts 'maybe'; expected remapped or unremapped"));
    EXPECT_TRUE(only_error(parse(pre + "backend = iommu irqs=unremapped\n"), 4, 17,
                           "unknown attribute 'irqs' for 'backend'; expected interrupts"));
    EXPECT_TRUE(
        only_error(parse(pre + "supervise = x\n"), 4, 1, "key 'supervise' does not belong in provider sections"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c\nserve = c\n[process c]\nmodule = c\n"), 5, 9,
                           "'c' is already served on line 4"));
    const Parsed two =
        parse(pre + "pci = 00:03.0\n[provider e]\nmodule = e\nmatch = AnyFunction\npci = 0000:00:03.0\n");
    EXPECT_TRUE(only_error(two, 8, 1, "PCI function 0000:00:03.0 is already claimed by provider 'd' (line 1)"));
    EXPECT_EQ(provider_names(*two.m), (Names{"d"}));
}

TEST(ManifestValidation, BarWindows) {
    const std::string pre = "[provider d]\nmodule = d\nmatch = NvmeController\n";
    EXPECT_TRUE(only_error(parse(pre + "bar = 6 mode=direct\n"), 4, 7, "bar index 6 is out of range 0..5"));
    EXPECT_TRUE(only_error(parse(pre + "bar = 0\n"), 4, 7, "bar 0 needs mode=direct or mode=filtered"));
    EXPECT_TRUE(
        only_error(parse(pre + "bar = 0 mode=rw\n"), 4, 14, "unknown bar mode 'rw'; expected direct or filtered"));
    EXPECT_TRUE(
        only_error(parse(pre + "bar = 0 offset=100 mode=direct\n"), 4, 16, "offset 100 is not a multiple of 4K"));
    EXPECT_TRUE(only_error(parse(pre + "bar = 0 size=4K mode=direct\n"), 4, 9,
                           "unknown attribute 'size' for 'bar'; expected offset, length or mode"));
    EXPECT_TRUE(only_error(parse(pre + "bar = 0 length=8K mode=direct\nbar = 0 offset=4K mode=filtered\n"), 5, 7,
                           "this bar 0 window overlaps the one on line 4"));
    EXPECT_TRUE(only_error(parse(pre + "bar = 0 offset=8K mode=direct\nbar = 0 length=12K mode=filtered\n"), 5, 7,
                           "overlaps the one on line 4"));
    const Parsed ok =
        parse(pre + "bar = 0 length=8K mode=direct\nbar = 0 offset=8K mode=filtered\nbar = 2 mode=direct\n");
    ASSERT_EQ(ok.status, Status::Ok) << errors_text(ok.e);
    EXPECT_EQ(ok.m->providers[0].bar_count, 3u);
}

TEST(ManifestValidation, ErrorsAreSortedByPosition) {
    // the reference error (line 2) is found after the parse error (line 5)
    const Parsed p = parse("[process a]\nmodule = a\ncap = ghost rights=call\n[process b]\npriority = x\nmodule = b\n");
    ASSERT_EQ(p.e.count, 2u) << errors_text(p.e);
    EXPECT_TRUE(error_at(p, 0, 3, 7, "ghost"));
    EXPECT_TRUE(error_at(p, 1, 5, 12, "invalid number"));
}

TEST(ManifestValidation, EveryErrorInOneEntryIsReported) {
    const Parsed p = parse("[process a]\npriority = 99\nargs = 3\ncolour = red\ncap = x rights=read\n");
    ASSERT_EQ(p.e.total, 5u) << errors_text(p.e);
    EXPECT_TRUE(error_at(p, 0, 1, 10, "needs a module"));
    EXPECT_TRUE(error_at(p, 1, 2, 12, "priority 99"));
    EXPECT_TRUE(error_at(p, 2, 3, 8, "args must be a quoted string"));
    EXPECT_TRUE(error_at(p, 3, 4, 1, "unknown key 'colour'"));
    EXPECT_TRUE(error_at(p, 4, 5, 7, "cap names 'x', which is not defined"));
}

// ---------------------------------------------------------------------------
// Limits: never silent.

TEST(ManifestLimits, TooManyProcesses) {
    std::string text;
    for (u32 i = 0; i <= kMaxProcesses; i++) text += "[process p" + std::to_string(i) + "]\nmodule = m\n";
    text += "[endpoint still_here]\n";
    const Parsed p = parse(text);
    EXPECT_TRUE(only_error(p, 2 * kMaxProcesses + 1, 10, "no room for process 'p32': at most 32 processes"));
    EXPECT_EQ(p.m->process_count, kMaxProcesses);
    EXPECT_STREQ(p.m->processes[kMaxProcesses - 1].name, "p31");
    EXPECT_EQ(object_names(*p.m), (Names{"still_here"}));
}

TEST(ManifestLimits, TooManyObjectsAndProviders) {
    std::string text;
    for (u32 i = 0; i <= kMaxObjects; i++) text += "[notification n" + std::to_string(i) + "]\n";
    for (u32 i = 0; i <= kMaxProviders; i++)
        text += "[provider d" + std::to_string(i) + "]\nmodule = d\nmatch = AnyFunction\n";
    const Parsed p = parse(text);
    ASSERT_EQ(p.e.total, 2u) << errors_text(p.e);
    EXPECT_TRUE(error_at(p, 0, kMaxObjects + 1, 15, "no room for notification 'n64': at most 64 endpoints"));
    EXPECT_TRUE(error_at(p, 1, kMaxObjects + 1 + 3 * kMaxProviders + 1, 11, "no room for provider 'd16'"));
    EXPECT_EQ(p.m->object_count, kMaxObjects);
    EXPECT_EQ(p.m->provider_count, kMaxProviders);
}

TEST(ManifestLimits, TooManyCapsSupervisionsServesAndBars) {
    std::string text = "[endpoint ep]\n[process p]\nmodule = p\n";
    for (u32 i = 0; i <= kMaxCaps; i++) text += "cap = ep rights=call as=s" + std::to_string(i) + "\n";
    const Parsed caps = parse(text);
    EXPECT_TRUE(only_error(caps, 3 + kMaxCaps + 1, 1, "too many caps: at most 16 per process"));
    EXPECT_EQ(caps.m->process_count, 0u);

    text = "[process boss]\nmodule = b\n";
    for (u32 i = 0; i <= kMaxSupervised; i++) text += "supervise = w" + std::to_string(i) + "\n";
    for (u32 i = 0; i <= kMaxSupervised; i++) text += "[process w" + std::to_string(i) + "]\nmodule = w\n";
    EXPECT_TRUE(only_error(parse(text), 2 + kMaxSupervised + 1, 1, "too many supervise lines: at most 8"));

    text = "[provider d]\nmodule = d\nmatch = AnyFunction\n";
    for (u32 i = 0; i <= kMaxServed; i++) text += "serve = c" + std::to_string(i) + "\n";
    for (u32 i = 0; i <= kMaxServed; i++) text += "[process c" + std::to_string(i) + "]\nmodule = c\n";
    EXPECT_TRUE(only_error(parse(text), 3 + kMaxServed + 1, 1, "too many serve lines: at most 8"));

    text = "[provider d]\nmodule = d\nmatch = AnyFunction\n";
    for (u32 i = 0; i <= kMaxBarWindows; i++)
        text += "bar = 0 offset=" + std::to_string(i * 4) + "K length=4K mode=direct\n";
    EXPECT_TRUE(only_error(parse(text), 3 + kMaxBarWindows + 1, 1, "too many bar windows: at most 8"));
}

TEST(ManifestLimits, ErrorsBeyondTheRecordedOnesAreCounted) {
    std::string text;
    for (u32 i = 0; i < 40; i++) text += "bogus line " + std::to_string(i) + "\n";
    const Parsed p = parse(text);
    EXPECT_EQ(p.status, Status::Malformed);
    EXPECT_EQ(p.e.count, kMaxErrors);
    EXPECT_EQ(p.e.total, 40u);
    EXPECT_EQ(p.e.items[kMaxErrors - 1].line, kMaxErrors);
}

TEST(ManifestLimits, StringLength) {
    const std::string s127(127, 's');
    const Parsed ok = parse("[process p]\nmodule = p\nargs = \"" + s127 + "\"\n");
    ASSERT_EQ(ok.status, Status::Ok) << errors_text(ok.e);
    EXPECT_EQ(std::string(ok.m->processes[0].program.args), s127);
    // escapes count once
    EXPECT_EQ(parse("[process p]\nmodule = p\nargs = \"" + std::string(126, 's') + "\\\"\"\n").status, Status::Ok);
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = p\nargs = \"" + s127 + "x\"\n"), 3, 8,
                           "args is longer than 127 bytes"));
}

TEST(ManifestLimits, InputLargerThanTheLimitIsRefusedWhole) {
    std::string text = "[endpoint ep]\n" + std::string(kMaxInputSize, '#');
    const Parsed p = parse(text);
    EXPECT_TRUE(only_error(p, 1, 1, "the limit is 1048576"));
    EXPECT_EQ(p.m->object_count, 0u);
}

// ---------------------------------------------------------------------------
// Input shapes

TEST(ManifestInput, CrlfLineEndingsParseLikeLf) {
    std::string crlf;
    for (const char* c = kFull; *c != '\0'; c++) {
        if (*c == '\n') crlf += '\r';
        crlf += *c;
    }
    const Parsed lf = parse(kFull);
    const Parsed p = parse(crlf);
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_EQ(written(*p.m), written(*lf.m));
    EXPECT_EQ(p.m->processes[1].program.caps[2].pos.column, lf.m->processes[1].program.caps[2].pos.column);
    // a column reported on a CRLF line is the same as on an LF line
    EXPECT_TRUE(only_error(parse("[process p]\r\nmodule = p\r\npriority = 99\r\n"), 3, 12, "out of range"));
    // a missing ']' is reported where the line ends, before the CR
    EXPECT_TRUE(only_error(parse("[process p\r\n"), 1, 11, "missing ']'"));
}

TEST(ManifestInput, BareCarriageReturnIsAControlCharacter) {
    EXPECT_TRUE(only_error(parse("[process p]\rmodule = p\n"), 1, 12, "control character 0x0d"));
}

TEST(ManifestInput, NoTrailingNewline) {
    const Parsed p = parse("[memory m]\nsize = 8K");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_EQ(p.m->objects[0].size, 8192u);
    EXPECT_EQ(parse("[endpoint e]").status, Status::Ok);
    EXPECT_EQ(parse("[endpoint e]\r").status, Status::Ok);
    EXPECT_TRUE(only_error(parse("[memory m]\nsize = 8K 9"), 2, 11, "unexpected '9'"));
    EXPECT_TRUE(only_error(parse("[process p]\nmodule = p\nargs = \"x"), 3, 8, "unterminated string"));
}

TEST(ManifestInput, VeryLongLines) {
    const std::string pad(200000, ' ');
    const Parsed p =
        parse("[process p]\nmodule = p" + pad + "# " + std::string(100000, 'c') + "\n" + pad + "priority = 3\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_EQ(p.m->processes[0].program.priority, 3);

    const std::string huge_name(50000, 'n');
    const Parsed q = parse("[endpoint " + huge_name + "]\n[endpoint ok]\n");
    EXPECT_TRUE(only_error(q, 1, 11, "is longer than 31 characters"));
    EXPECT_LE(strlen(q.e.items[0].message), kMaxMessageLength);
    EXPECT_NE(std::string(q.e.items[0].message).find("..."), std::string::npos);  // the name is cut in the message
    EXPECT_EQ(object_names(*q.m), (Names{"ok"}));

    const Parsed r = parse("[process p]\nmodule = p\npriority = " + std::string(30000, '9') + "\n");
    EXPECT_TRUE(only_error(r, 3, 12, "is too large"));

    const Parsed s = parse("[process p]\nmodule = p\nargs = \"" + std::string(70000, 'a') + "\"\n");
    EXPECT_TRUE(only_error(s, 3, 8, "args is longer than 127 bytes"));

    const Parsed t = parse("[process p]\nmodule = p\n" + pad + "priority = 40\n");
    EXPECT_TRUE(only_error(t, 3, 200012, "priority 40"));
}

TEST(ManifestInput, TabsAndInlineComments) {
    const Parsed p = parse("\t[process\tp]\t# c\n\tmodule\t=\tp# c\n  priority=7#c\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_EQ(p.m->processes[0].program.priority, 7);
    EXPECT_EQ(p.m->processes[0].pos.column, 11u);
}

TEST(ManifestInput, ParsingResetsPreviousOutput) {
    Parsed p = parse(kFull);
    ASSERT_EQ(p.status, Status::Ok);
    const std::string text = "bad\n[endpoint x]\n";
    EXPECT_EQ(parse_manifest(ByteView(reinterpret_cast<const u8*>(text.data()), text.size()), *p.m, p.e).status(),
              Status::Malformed);
    EXPECT_EQ(object_names(*p.m), (Names{"x"}));
    EXPECT_EQ(p.m->process_count + p.m->provider_count, 0u);
    EXPECT_EQ(p.e.total, 1u);
}

// ---------------------------------------------------------------------------
// Writer and helpers

TEST(ManifestWriter, RoundTripIsStable) {
    const Parsed p = parse(kFull);
    ASSERT_EQ(p.status, Status::Ok);
    const std::string once = written(*p.m);
    const Parsed q = parse(once);
    ASSERT_EQ(q.status, Status::Ok) << errors_text(q.e) << once;
    EXPECT_EQ(written(*q.m), once);
    EXPECT_EQ(process_names(*q.m), process_names(*p.m));
    EXPECT_STREQ(q.m->processes[1].program.args, p.m->processes[1].program.args);
    EXPECT_NE(once.find("[provider nvme0]\nmodule = nvme\npriority = 16\nkernel_memory = 768K\nrestart = on-failure\n"
                        "restart_limit = 5\n"
                        "restart_backoff_ms = 100\ncap = blk_irq rights=signal\nmatch = NvmeController\n"
                        "pci = 0000:00:04.0\nbar = 0 offset=0 length=4K mode=filtered\n"
                        "bar = 0 offset=4K length=4K mode=direct\nvectors = 2\ndma_pool = 4M\nbackend = bounce\n"
                        "serve = blkbench\n"),
              std::string::npos)
        << once;
    EXPECT_NE(once.find("args = \"--depth 32 --label \\\"fast\\\" C:\\\\x\"\n"), std::string::npos) << once;
}

// The remapped lane's choices survive the writer: accepting unremapped
// interrupts, and restarting the provider on a DMA fault.
TEST(ManifestWriter, RemappedLaneChoicesRoundTrip) {
    const Parsed p = parse(
        "[provider d]\nmodule = d\nmatch = NvmeController\nbackend = iommu interrupts=unremapped\n"
        "on_dma_fault = restart\n[provider e]\nmodule = e\nmatch = VirtioBlk\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    EXPECT_TRUE(p.m->providers[0].accept_unremapped_interrupts);
    EXPECT_EQ(p.m->providers[0].on_dma_fault, DmaFaultPolicy::Restart);
    EXPECT_FALSE(p.m->providers[1].accept_unremapped_interrupts);
    EXPECT_EQ(p.m->providers[1].on_dma_fault, DmaFaultPolicy::Log);  // the default
    const std::string once = written(*p.m);
    EXPECT_NE(once.find("backend = iommu interrupts=unremapped\non_dma_fault = restart\n"), std::string::npos) << once;
    const Parsed q = parse(once);
    ASSERT_EQ(q.status, Status::Ok) << errors_text(q.e) << once;
    EXPECT_TRUE(q.m->providers[0].accept_unremapped_interrupts);
    EXPECT_EQ(q.m->providers[0].on_dma_fault, DmaFaultPolicy::Restart);
    EXPECT_EQ(written(*q.m), once);
    EXPECT_TRUE(only_error(parse("[provider d]\nmodule = d\nmatch = VirtioBlk\non_dma_fault = panic\n"), 4, 16,
                           "unknown on_dma_fault 'panic'; expected log or restart"));
}

TEST(ManifestWriter, TruncatesLikeSnprintf) {
    const Parsed p = parse(kFull);
    const std::string full = written(*p.m);
    char small[40];
    EXPECT_EQ(write_manifest(*p.m, small, sizeof(small)), full.size());
    EXPECT_EQ(std::string(small), full.substr(0, sizeof(small) - 1));
}

TEST(ManifestWriter, FormatError) {
    ManifestError e;
    e.line = 12;
    e.column = 7;
    snprintf(e.message, sizeof(e.message), "cap names 'x', which is not defined");
    char buf[64];
    format_error(e, buf, sizeof(buf));
    EXPECT_STREQ(buf, "12:7: cap names 'x', which is not defined");
}

// ---------------------------------------------------------------------------
// Shipped manifests and documentation examples

TEST(ManifestExamples, DefaultManifestParses) {
    const Parsed p = parse(read_file(repo_path("manifests/default.manifest")));
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    const Process* shell = find_process(*p.m, "shell");
    ASSERT_NE(shell, nullptr);
    ASSERT_NE(find_process(*p.m, "hello"), nullptr);
    ASSERT_NE(find_process(*p.m, "devmgr"), nullptr);
    // The shell gets the console, the root resource and devmgr's service.
    ASSERT_EQ(shell->program.cap_count, 3u);
    EXPECT_EQ(p.m->objects[shell->program.caps[0].object_index].kind, ObjectKind::Console);
    EXPECT_STREQ(shell->program.caps[0].slot, "console");
    EXPECT_EQ(p.m->objects[shell->program.caps[1].object_index].kind, ObjectKind::Resource);
    EXPECT_EQ(shell->program.caps[1].rights, kRightInspect | kRightManage);
    EXPECT_EQ(shell->program.restart.mode, RestartMode::OnFailure);
}

TEST(ManifestExamples, DefaultManifestProvidersParseWhenSwitchedOn) {
    const std::string text = read_file(repo_path("manifests/default.manifest"));
    std::string on;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.size() >= 2 && line[0] == '#' && line[1] != ' ') line.erase(0, 1);
        on += line + "\n";
    }
    const Parsed p = parse(on);
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e) << on;
    EXPECT_EQ(provider_names(*p.m), (Names{"nvme0", "vblk0", "vnet0"}));
    EXPECT_EQ(process_names(*p.m), (Names{"shell", "devmgr", "hello", "netstack", "httpd"}));
    EXPECT_EQ(p.m->providers[0].served[0].consumer_index, 0u);  // nvme0 serves the shell
    EXPECT_EQ(p.m->providers[2].served[0].consumer_index, 3u);  // vnet0 serves the netstack
    // The netstack serves httpd TCP port 80 (and no other), and httpd may
    // call devmgr's endpoint for /status, nothing more.
    const Process* netstack = find_process(*p.m, "netstack");
    const Process* httpd = find_process(*p.m, "httpd");
    ASSERT_NE(netstack, nullptr);
    ASSERT_NE(httpd, nullptr);
    ASSERT_EQ(netstack->served_count, 2u);  // the shell (no ports) and httpd
    EXPECT_STREQ(netstack->served[1].consumer, "httpd");
    ASSERT_EQ(netstack->served[1].port_count, 1u);
    EXPECT_EQ(netstack->served[1].ports[0], 80u);
    ASSERT_EQ(httpd->program.cap_count, 1u);
    EXPECT_STREQ(httpd->program.caps[0].slot, "devmgr");
    EXPECT_EQ(httpd->program.caps[0].rights, kRightCall);
}

// Every ```manifest block in docs/manifest.md parses without errors; every
// ```manifest-error block produces errors, exactly as the plain ``` block
// that follows it shows them.
TEST(ManifestExamples, DocumentationExamplesParse) {
    const std::string doc = read_file(repo_path("docs/manifest.md"));
    u32 good = 0, bad = 0;
    usize pos = 0;
    while ((pos = doc.find("\n```manifest", pos)) != std::string::npos) {
        pos++;  // fences start a line; prose may mention them inline
        const usize eol = doc.find('\n', pos);
        const bool error_block = doc.compare(pos, eol - pos, "```manifest-error") == 0;
        const usize end = doc.find("\n```", eol);
        ASSERT_NE(end, std::string::npos);
        const std::string block = doc.substr(eol + 1, end - eol);
        const Parsed p = parse(block);
        if (error_block) {
            EXPECT_EQ(p.status, Status::Malformed) << block;
            const usize shown = doc.find("\n```\n", end + 4);
            ASSERT_NE(shown, std::string::npos);
            const usize shown_end = doc.find("\n```", shown + 5);
            ASSERT_NE(shown_end, std::string::npos);
            EXPECT_EQ(errors_text(p.e), doc.substr(shown + 5, shown_end - shown - 4));
            bad++;
        } else {
            EXPECT_EQ(p.status, Status::Ok) << errors_text(p.e) << block;
            good++;
        }
        pos = end + 4;
    }
    EXPECT_GE(good, 1u);
    EXPECT_GE(bad, 1u);
}

}  // namespace

// ---------------------------------------------------------------------------
// serve on a [process] (docs/manifest.md "Serving from a process")

TEST(ManifestProcessServe, ParsesPortsSocketsAndDefaults) {
    const Parsed p = parse(
        "[process netstack]\nmodule = netstack\n"
        "serve = web ports=80|8080 sockets=4\n"  // 3
        "serve = tool\n"                         // 4
        "[process web]\nmodule = web\n[process tool]\nmodule = tool\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    const Process& ns = p.m->processes[0];
    ASSERT_EQ(ns.served_count, 2u);
    EXPECT_STREQ(ns.served[0].consumer, "web");
    EXPECT_EQ(ns.served[0].consumer_index, 1u);
    ASSERT_EQ(ns.served[0].port_count, 2u);
    EXPECT_EQ(ns.served[0].ports[0], 80);
    EXPECT_EQ(ns.served[0].ports[1], 8080);
    EXPECT_EQ(ns.served[0].sockets, 4u);
    EXPECT_EQ(ns.served[0].pos.line, 3u);
    EXPECT_EQ(ns.served[0].pos.column, 9u);
    EXPECT_STREQ(ns.served[1].consumer, "tool");
    EXPECT_EQ(ns.served[1].consumer_index, 2u);
    EXPECT_EQ(ns.served[1].port_count, 0u);  // ephemeral ports only
    EXPECT_EQ(ns.served[1].sockets, kDefaultServeSockets);
    EXPECT_EQ(p.m->processes[1].served_count, 0u);
}

TEST(ManifestProcessServe, Errors) {
    const std::string pre = "[process s]\nmodule = s\n";  // the serve line is line 3
    const std::string post = "[process c]\nmodule = c\n";
    EXPECT_TRUE(only_error(parse(pre + "serve = nobody\n"), 3, 9, "serves 'nobody', which is not defined"));
    EXPECT_TRUE(only_error(parse(pre + "serve = s\n"), 3, 9, "a process cannot serve itself"));
    EXPECT_TRUE(
        only_error(parse(pre + "serve = c\nserve = c ports=7\n" + post), 4, 9, "'c' is already served on line 3"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c ports=0\n" + post), 3, 17, "port 0 is out of range 1..65535"));
    EXPECT_TRUE(
        only_error(parse(pre + "serve = c ports=80|65536\n" + post), 3, 20, "port 65536 is out of range 1..65535"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c ports=80|7|80\n" + post), 3, 22, "port 80 given twice"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c ports=80||7\n" + post), 3, 20, "empty port"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c ports=http\n" + post), 3, 17, "invalid port 'http'"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c ports=\"80\"\n" + post), 3, 17, "ports must be bare numbers"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c ports=1|2|3|4|5|6|7|8|9\n" + post), 3, 33,
                           "too many ports: at most 8 per serve line"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c sockets=0\n" + post), 3, 19, "sockets 0 is out of range 1..32"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c sockets=33\n" + post), 3, 19, "sockets 33 is out of range 1..32"));
    EXPECT_TRUE(only_error(parse(pre + "serve = c quota=3\n" + post), 3, 11,
                           "unknown attribute 'quota' for 'serve'; expected ports or sockets"));
    // The slots a server finds its endpoint and client table under are its own.
    EXPECT_TRUE(only_error(parse("[endpoint e]\n" + pre + "serve = c\ncap = e rights=call as=service\n" + post), 5, 7,
                           "slot 'service' is where a serving process finds its service endpoint"));
    EXPECT_TRUE(only_error(parse(pre + "supervise = c as=clients\nserve = c\n" + post), 3, 13,
                           "slot 'clients' is where a serving process finds its client table"));
    EXPECT_EQ(parse("[endpoint e]\n" + pre + "cap = e rights=call as=service\n" + post).status, Status::Ok);
    // svc.<server> is init's to grant: a cap may not pose as a server there.
    EXPECT_TRUE(only_error(parse("[endpoint e]\n" + pre + "cap = e rights=call as=svc.netstack\n" + post), 4, 24,
                           "slot 'svc.netstack' is reserved"));
    // A provider's serve line takes no policy: its device protocol has its own.
    EXPECT_TRUE(only_error(parse("[provider d]\nmodule = d\nmatch = AnyFunction\nserve = c ports=80\n" + post), 4, 11,
                           "attribute 'ports' applies to a process's serve line"));
}

TEST(ManifestProcessServe, TooManyServeLines) {
    std::string text = "[process s]\nmodule = s\n";
    for (u32 i = 0; i <= kMaxServed; i++) text += "serve = c" + std::to_string(i) + "\n";
    for (u32 i = 0; i <= kMaxServed; i++) text += "[process c" + std::to_string(i) + "]\nmodule = c\n";
    EXPECT_TRUE(only_error(parse(text), 2 + kMaxServed + 1, 1, "too many serve lines: at most 8 per process"));
}

TEST(ManifestProcessServe, RefusalCascades) {
    // A refused consumer refuses its server (as for a provider's serve); a
    // refused server takes nothing from its consumers: they still start,
    // with no service to call.
    const Parsed p = parse(
        "[process s]\nmodule = s\nserve = c\n"                 // 1-3
        "[process c]\nmodule = c\nbogus = 1\n"                 // 4-6
        "[process t]\nmodule = t\npriority = 99\nserve = u\n"  // 7-10
        "[process u]\nmodule = u\n");                          // 11-12
    EXPECT_TRUE(error_at(p, 0, 3, 9, "serves process 'c', which was refused (line 4)"));
    EXPECT_TRUE(error_at(p, 1, 6, 1, "unknown key 'bogus'"));
    EXPECT_TRUE(error_at(p, 2, 9, 12, "priority 99 is out of range"));
    EXPECT_EQ(p.e.total, 3u) << errors_text(p.e);
    EXPECT_EQ(process_names(*p.m), (Names{"u"}));
}

TEST(ManifestProcessServe, WriterRoundTrip) {
    const Parsed p = parse(
        "[process s]\nmodule = s\nserve = c ports=7|80 sockets=2\nserve = d\n[process c]\nmodule = c\n"
        "[process d]\nmodule = d\n");
    ASSERT_EQ(p.status, Status::Ok) << errors_text(p.e);
    const std::string once = written(*p.m);
    EXPECT_NE(once.find("serve = c ports=7|80 sockets=2\nserve = d sockets=8\n"), std::string::npos) << once;
    const Parsed q = parse(once);
    ASSERT_EQ(q.status, Status::Ok) << errors_text(q.e) << once;
    EXPECT_EQ(written(*q.m), once);
    EXPECT_EQ(q.m->processes[0].served[0].consumer_index, 1u);
    EXPECT_EQ(q.m->processes[0].served[1].consumer_index, 2u);
}
