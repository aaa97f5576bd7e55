#include "acpi/mcfg.h"

namespace acpi {

Result<McfgInfo> parse_mcfg(ByteView table) {
    const ByteView mcfg = TRY(open_table(table, "MCFG"));
    if (mcfg.size() < sizeof(McfgLayout)) return Status::Truncated;
    const ByteView entries = TRY(mcfg.tail(sizeof(McfgLayout)));
    if (entries.size() % sizeof(McfgEntryLayout) != 0) return Status::Malformed;

    McfgInfo info;
    for (usize offset = 0; offset < entries.size(); offset += sizeof(McfgEntryLayout)) {
        const ByteView e = TRY(entries.sub(offset, sizeof(McfgEntryLayout)));
        McfgInfo::Entry entry;
        entry.base = TRY(e.read_le<u64>(offsetof(McfgEntryLayout, base_address)));
        entry.segment = TRY(e.read_le<u16>(offsetof(McfgEntryLayout, segment)));
        entry.start_bus = TRY(e.read_le<u8>(offsetof(McfgEntryLayout, start_bus)));
        entry.end_bus = TRY(e.read_le<u8>(offsetof(McfgEntryLayout, end_bus)));
        // Checked for every entry, kept or not: a table that lies about one
        // range is not trusted for the others.
        if (entry.start_bus > entry.end_bus) return Status::Malformed;
        if (info.count == kMaxMcfgEntries) {
            info.truncated_lists = true;
            continue;
        }
        info.entries[info.count++] = entry;
    }
    return info;
}

}  // namespace acpi
