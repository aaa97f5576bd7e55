// One remapping domain (issue 15): the second-level page tables of one DMA
// grant, attached to the context entry of the function that holds it. A
// device reaches exactly what is mapped here; unmapping returns only once
// the unit has dropped its cached translations (DESIGN §5 step 4), so the
// caller may then reuse the frames.
//
// The brokered lane maps each DMA range at its own physical address
// (kdma::Session: the broker still writes every address the device sees);
// the remapped lane's providers will get IOVAs from lib/iommu's allocator.
#pragma once

#include "iommu/io_page_table.h"
#include "util/result.h"

namespace iommu {

class Domain {
public:
    // A domain for pci_enum function `function`, attached (empty: the device
    // reaches nothing yet). NotFound when no translating unit covers the
    // function; Unsupported when the DMAR cannot say which does.
    static Result<Domain*> create(u32 function);
    // Detached, its tables freed and its id given back — unless the unit
    // did not confirm the detach: then the tables (which its context entry
    // may still name) are kept for ever, and logged.
    void release();
    Domain(const Domain&) = delete;
    Domain& operator=(const Domain&) = delete;

    // [iova, iova + bytes) -> [phys, phys + bytes), 4 KiB aligned; perms
    // vtd::kSlRead | vtd::kSlWrite. As vtd::IoPageTable::map, and Timeout
    // when a unit in caching mode did not confirm the invalidation a new
    // mapping needs there (nothing is mapped then, but the frames must not
    // be reused: the unit's state is unknown).
    Result<void> map(u64 iova, u64 phys, u64 bytes, u64 perms);
    // Unmapped and, while attached, invalidated: returns once the unit
    // confirmed (an error: it did not, and the frames must not be reused).
    Result<void> unmap(u64 iova, u64 bytes);
    // The context entry cleared and invalidated: the device reaches nothing
    // (DESIGN §5 step 4). Idempotent.
    Result<void> detach();

    u16 id() const { return m_id; }
    u32 unit() const { return m_unit; }
    u32 iova_bits() const { return m_iova_bits; }
    u64 mapped_pages() const { return m_table.mapped_pages(); }
    bool attached() const { return m_attached; }

private:
    // Table frames from the frame allocator, flushed for the unit.
    class Frames final : public vtd::TableSource {
    public:
        explicit Frames(u32 unit) : m_unit(unit) {}
        Result<Table> allocate() override;
        void free(const Table& t) override;
        void flush(const u64* first, u32 count) override;

    private:
        u32 m_unit;
    };

    Domain(u32 function, u32 unit, u16 id, u32 levels, u32 iova_bits);
    ~Domain();

    u32 m_function;
    u32 m_unit;
    u16 m_id;
    u32 m_iova_bits;
    bool m_attached = false;
    Frames m_frames;
    vtd::IoPageTable m_table;
};

}  // namespace iommu
