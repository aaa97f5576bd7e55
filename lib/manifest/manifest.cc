// Names, lookups and small formatting helpers for the manifest data model.
#include "manifest/manifest.h"

#include "manifest/names.h"
#include "util/format.h"

namespace manifest {

const Object* find_object(const Manifest& m, const char* name) {
    for (u32 i = 0; i < m.object_count; i++)
        if (detail::names_equal(m.objects[i].name, name)) return &m.objects[i];
    return nullptr;
}

const Process* find_process(const Manifest& m, const char* name) {
    for (u32 i = 0; i < m.process_count; i++)
        if (detail::names_equal(m.processes[i].name, name)) return &m.processes[i];
    return nullptr;
}

const Provider* find_provider(const Manifest& m, const char* name) {
    for (u32 i = 0; i < m.provider_count; i++)
        if (detail::names_equal(m.providers[i].name, name)) return &m.providers[i];
    return nullptr;
}

// Every object can be inspected, managed, duplicated, transferred and
// revoked; the operations themselves are per kind: an endpoint is called or
// served, a notification signalled or waited on, memory read, written,
// mapped or executed.
u32 rights_allowed_for(ObjectKind kind) {
    constexpr u32 kGeneric = kRightInspect | kRightManage | kRightDuplicate | kRightTransfer | kRightRevoke;
    switch (kind) {
        case ObjectKind::Endpoint: return kGeneric | kRightCall | kRightServe | kRightWait;
        case ObjectKind::Notification: return kGeneric | kRightSignal | kRightWait;
        case ObjectKind::Memory: return kGeneric | kRightRead | kRightWrite | kRightMap | kRightExecute;
        case ObjectKind::Console: return kGeneric | kRightRead | kRightWrite | kRightWait;
        case ObjectKind::Resource: return kGeneric;
        case ObjectKind::Devices: return kGeneric | kRightWait;  // waited on for refusal events
        case ObjectKind::BootManifest: return kGeneric | kRightRead | kRightMap;
    }
    return 0;
}

const char* object_kind_name(ObjectKind kind) {
    switch (kind) {
        case ObjectKind::Endpoint: return "endpoint";
        case ObjectKind::Notification: return "notification";
        case ObjectKind::Memory: return "memory";
        case ObjectKind::Console: return "console";
        case ObjectKind::Resource: return "resource";
        case ObjectKind::Devices: return "devices";
        case ObjectKind::BootManifest: return "manifest";
    }
    return "?";
}

const char* right_name(u32 right) {
    for (u32 i = 0; i < kRightCount; i++)
        if (right == (1u << i)) return detail::kRightNames[i];
    return "?";
}

const char* restart_mode_name(RestartMode mode) {
    switch (mode) {
        case RestartMode::Never: return "never";
        case RestartMode::OnFailure: return "on-failure";
    }
    return "?";
}

const char* device_class_name(DeviceClass c) {
    switch (c) {
        case DeviceClass::AnyFunction: return "AnyFunction";
        case DeviceClass::DmaCapable: return "DmaCapable";
        case DeviceClass::NvmeController: return "NvmeController";
        case DeviceClass::VirtioNet: return "VirtioNet";
        case DeviceClass::VirtioBlk: return "VirtioBlk";
    }
    return "?";
}

const char* bar_mode_name(BarMode mode) {
    switch (mode) {
        case BarMode::Direct: return "direct";
        case BarMode::Filtered: return "filtered";
    }
    return "?";
}

const char* dma_backend_name(DmaBackend backend) {
    switch (backend) {
        case DmaBackend::Auto: return "auto";
        case DmaBackend::Bounce: return "bounce";
        case DmaBackend::Iommu: return "iommu";
    }
    return "?";
}

usize format_rights(u32 rights, char* buf, usize cap) {
    usize len = 0;
    if (cap > 0) buf[0] = '\0';
    for (u32 i = 0; i < kRightCount; i++) {
        if (!(rights & (1u << i))) continue;
        const usize room = len < cap ? cap - len : 0;
        len += format(room > 0 ? buf + len : nullptr, room, "%s%s", len > 0 ? "|" : "", detail::kRightNames[i]);
    }
    return len;
}

usize format_error(const ManifestError& e, char* buf, usize cap) {
    return format(buf, cap, "%u:%u: %s", e.line, e.column, e.message);
}

}  // namespace manifest
