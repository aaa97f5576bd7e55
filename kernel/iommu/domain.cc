#include "iommu/domain.h"

#include "console/log.h"
#include "iommu/remapping.h"
#include "iommu/vtd_units.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"

namespace iommu {

Result<vtd::TableSource::Table> Domain::Frames::allocate() {
    u64 phys = TRY(frames::alloc());
    u64* virt = direct_map::to_virt<u64>(phys);
    for (u32 i = 0; i < 512; i++) virt[i] = 0;
    return Table{phys, virt};
}

void Domain::Frames::free(const Table& t) { frames::free(t.phys); }

void Domain::Frames::flush(const u64* first, u32 count) { remapping::flush(m_unit, first, u64{count} * 8); }

Domain::Domain(u32 function, u32 unit, u16 id, u32 levels, u32 iova_bits)
    : m_function(function),
      m_unit(unit),
      m_id(id),
      m_iova_bits(iova_bits),
      m_frames(unit),
      m_table(m_frames, levels, iova_bits) {}

Result<Domain*> Domain::create(u32 function) {
    const u32 unit = TRY(remapping::unit_of(function));
    const vtd_units::Unit& u = *vtd_units::unit(unit);
    const u16 id = TRY(remapping::allocate_domain(unit));
    auto* d = new (std::nothrow) Domain(function, unit, id, u.levels, vtd::iova_bits(u.cap, u.levels));
    if (!d) {
        remapping::free_domain(unit, id);
        return Status::NoMemory;
    }
    auto root = d->m_table.root();
    auto attached =
        root.ok() ? remapping::attach(unit, function, id, root.value(), u.levels) : Result<void>{root.status()};
    if (!attached.ok()) {
        d->release();  // nothing attached: detach has nothing to do
        return attached.status();
    }
    d->m_attached = true;
    return d;
}

void Domain::release() {
    // Tables are freed only once no context entry points at them.
    if (!detach().ok()) {
        LOG_ERROR("vtd: domain %u: the unit did not confirm its detach: its %u table frames are kept", m_id,
                  m_table.tables());
        return;
    }
    delete this;
}

Domain::~Domain() {
    m_table.destroy();
    remapping::free_domain(m_unit, m_id);
}

Result<void> Domain::map(u64 iova, u64 phys, u64 bytes, u64 perms) {
    // A failed map may have mapped part of the range and unmapped it again:
    // the unit may have cached none of it (nothing was reachable before the
    // map returned), yet a stale entry costs one invalidation to rule out.
    auto mapped = m_table.map(iova, phys, bytes, perms);
    if (!mapped.ok() && mapped.status() == Status::NoMemory && m_attached &&
        !remapping::invalidate(m_unit, m_id, iova, bytes).ok())
        return Status::Timeout;  // the unit's state is unknown: the caller keeps the frames out of use
    // A unit in caching mode (CAP.CM: an emulated one, for its host) may
    // have cached the pages as not present: it is told they now are.
    if (mapped.ok() && m_attached && vtd_units::unit(m_unit)->cap.caching_mode()) {
        if (auto told = remapping::invalidate(m_unit, m_id, iova, bytes); !told.ok()) {
            m_table.unmap(iova, bytes);
            return Status::Timeout;  // the unit's state is unknown: the caller keeps the frames out of use
        }
    }
    return mapped;
}

Result<void> Domain::unmap(u64 iova, u64 bytes) {
    if (m_table.unmap(iova, bytes) == 0) return {};
    if (!m_attached) return {};  // detach invalidated the domain: nothing cached can be used
    return remapping::invalidate(m_unit, m_id, iova, bytes);
}

Result<void> Domain::detach() {
    if (!m_attached) return {};
    TRY(remapping::detach(m_unit, m_function, m_id));
    m_attached = false;
    return {};
}

}  // namespace iommu
