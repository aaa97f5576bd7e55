// DeviceMmio: a window (BAR, offset, length) of one PCI function, mapped
// uncached into the holder (DESIGN §3). A *direct* window is mapped
// read/write (read-only for a holder without the Write right); a
// *filtered* one read-only, with writes through write() checked against
// the device class's register allow-list — a refusal is logged against the
// writer. Registers that hold device-visible addresses (devices::RegisterMap)
// are never inside a direct window, and never read by a provider (DESIGN
// §4): read() refuses them, and a filtered window with one on any of its
// pages is not mappable (devices::filtered_map_allowed) — its holder reads
// through read(). The MSI-X table and PBA are never inside a window
// (devices::check_window).
//
// The remapped lane (Model B) relaxes two rules while the function's grant
// is on it: a filtered window may write any register (write()), and a
// direct window may cover the device's doorbells — any page without an
// address register — so the provider rings them with a store, no system
// call. Such a window belongs to that grant: mapping it is refused once the
// grant ended, and teardown unmaps it from everyone at step 1.
#pragma once

#include "dma/session.h"
#include "object/mapping_list.h"
#include "object/pci_function.h"
#include "util/ref_ptr.h"

namespace object {

class DeviceMmio : public Object {
public:
    static constexpr Type kType = Type::DeviceMmio;
    // A subset of the PciFunction's rights (a mint may not widen them).
    static constexpr cap::Rights kDefaultRights =
        cap::kRightRead | cap::kRightWrite | cap::kRightMap | cap::kRightInspect | cap::kRightRevoke | kPassRights;

    // Validates the window; takes its own reference on fn.
    static Result<RefPtr<DeviceMmio>> create(PciFunction* fn, u8 bar, u64 offset, u64 length, bool filtered);
    ~DeviceMmio() override;

    // Uncached, read-only unless the window is direct and `writable` (the
    // holder has the Write right). NoRights for a filtered window over an
    // address register (logged against `process`).
    Result<u64> map(Process* process, u32 space_id, u32 handle, bool writable);
    // Window-relative offset; width 1, 2, 4 or 8, naturally aligned. The
    // class's allow-list decides, except on the remapped lane (the
    // function's grant confines every address the device is given), where
    // any register of the window may be written.
    Result<void> write(Process* writer, u64 offset, u32 width, u64 value);
    // The same offsets and widths, either kind of window; NoRights (logged
    // against the reader) for any byte of an address register.
    Result<u64> read(Process* reader, u64 offset, u32 width);
    void cap_released(u32 space_id, u32 handle) override { m_mappings.unmap_by_cap(space_id, handle); }

    bool filtered() const { return m_filtered; }
    // The remapped-lane grant the window was made under (null otherwise):
    // its relaxed rules hold only while that grant is active, and a direct
    // window over the doorbells is unmapped when it ends.
    const kdma::Session* grant() const { return m_grant.get(); }
    u64 length() const { return m_length; }

private:
    DeviceMmio() : Object(kType) {}
    Result<void> write_register(u64 offset, u32 width, u64 value);
    // Dropped deferred, as the release of a capability drops its object's.
    DeferredRef<PciFunction> m_function;
    u8 m_bar = 0;
    u64 m_offset = 0;
    u64 m_length = 0;
    u64 m_phys = 0;
    bool m_filtered = false;
    volatile u8* m_kernel_view = nullptr;  // for filtered writes and read() (direct windows: made on first use)
    util::RefPtr<kdma::Session> m_grant;
    MappingList m_mappings;
};

// Teardown step 1 of a remapped-lane grant: its direct windows unmapped
// from everyone (their doorbells are its device's). How many mappings.
u32 unmap_grant_windows(const kdma::Session* session);

}  // namespace object
