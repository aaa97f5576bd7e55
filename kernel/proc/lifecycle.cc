#include "proc/lifecycle.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/idt.h"
#include "arch/x86_64/user_copy.h"
#include "boot/modules.h"
#include "console/log.h"
#include "debug/profiler.h"
#include "elf/elf64.h"
#include "object/console.h"
#include "object/device_root.h"
#include "object/handles.h"
#include "object/log.h"
#include "object/memory_object.h"
#include "object/resource.h"
#include "sched/scheduler.h"

namespace proc {
namespace {

Result<void> load_segments(object::Process* p, ByteView file, const elf::Image& image) {
    for (u32 i = 0; i < image.segment_count; i++) {
        const elf::Segment& s = image.segments[i];
        u64 first = s.vaddr & ~0xfffull;
        u64 last = (s.vaddr + s.memsz + 0xfff) & ~0xfffull;
        TRY(p->map_anonymous(first, (last - first) / 4096, mm::MapFlags{s.write, s.exec, false}));
        ByteView bytes = TRY(file.sub(s.file_offset, s.filesz));
        TRY(p->write_memory(s.vaddr, bytes.data(), bytes.size()));
    }
    return {};
}

[[noreturn]] void end_current(const object::ExitReason& why) {
    object::Process* p = sched::current()->process;
    p->terminate(why);  // may free p: do not touch it after this line
    sched::switch_away();
    __builtin_unreachable();
}

}  // namespace

Result<object::RefPtr<object::Process>> load_module(const char* module, usize len, u64 kernel_memory) {
    auto file = modules::find(module, len);
    if (!file.ok()) {
        LOG_ERROR("proc: no boot module '%.*s'", static_cast<int>(len), module);
        return file.status();
    }
    const char* reason = nullptr;
    auto image =
        elf::parse_executable(file.value(), elf::Policy{kImageMin, kStackTop - (kStackPages + 1) * 4096}, &reason);
    if (!image.ok()) {
        LOG_ERROR("proc: module '%.*s' refused: %s (%s)", static_cast<int>(len), module, reason,
                  status_name(image.status()));
        return image.status();
    }
    auto created = object::Process::create(module, len, kernel_memory);
    if (!created.ok()) {
        LOG_ERROR("proc: cannot create a process for '%.*s' (kernel memory limit %llu KiB): %s", static_cast<int>(len),
                  module, static_cast<unsigned long long>(kernel_memory >> 10), status_name(created.status()));
        return created.status();
    }
    object::RefPtr<object::Process> p = created.release_value();
    auto fail = [&](Status s, const char* what) -> Result<object::RefPtr<object::Process>> {
        LOG_ERROR("proc: cannot load '%.*s': %s: %s", static_cast<int>(len), module, what, status_name(s));
        p->terminate(object::ExitReason{object::ExitReason::Kind::Killed, 0, 0, 0, 0});
        return s;  // p's reference goes on return
    };
    if (auto r = load_segments(p.get(), file.value(), image.value()); !r.ok())
        return fail(r.status(), "loading segments");
    u64 stack_base = kStackTop - kStackPages * 4096;
    if (auto r = p->map_anonymous(stack_base, kStackPages, mm::MapFlags{true, false, false}); !r.ok())
        return fail(r.status(), "mapping the stack");
    p->set_entry(image.value().entry);
    return p;
}

Result<void> start(object::Process* p, const abi::StartupBlock& given, u8 priority) {
    abi::StartupBlock block = given;
    // The clock's calibration, so that user programs read ClockGet's time
    // without entering the kernel (rt::clock_ns); whatever a spawner put
    // there is overwritten.
    block.tsc_hz = clock::tsc_hz();
    block.tsc_base = clock::tsc_base();
    TRY(p->map_anonymous(kStartupAddress, 1, mm::MapFlags{false, false, false}));
    TRY(p->write_memory(kStartupAddress, reinterpret_cast<const u8*>(&block), sizeof block));
    TRY(p->spawn_thread(p->entry(), kStackTop - 16, kStartupAddress, priority));
    LOG_INFO("proc: started pid %u '%s' entry 0x%llx", p->pid(), p->name(),
             static_cast<unsigned long long>(p->entry()));
    return {};
}

Result<object::RefPtr<object::Process>> spawn_init(const char* module, usize len) {
    u64 limit = mm::init_limit();
    object::RefPtr<object::Process> p = TRY(load_module(module, len, limit));
    LOG_INFO("proc: init '%.*s' has a kernel memory limit of %llu KiB", static_cast<int>(len), module,
             static_cast<unsigned long long>(limit >> 10));
    abi::StartupBlock block{};
    block.magic = abi::kStartupMagic;
    block.pid = p->pid();
    for (usize i = 0; i < len && i + 1 < sizeof block.name; i++) block.name[i] = module[i];
    auto give = [&](const char* name, object::RefPtr<object::Object> object, cap::Rights rights) -> Result<void> {
        u32 h = TRY(kcap::install(p.get(), std::move(object), rights));
        abi::StartupHandle& sh = block.handles[block.handle_count++];
        for (usize i = 0; name[i] && i + 1 < sizeof sh.name; i++) sh.name[i] = name[i];
        sh.handle = h;
        sh.rights = rights;
        return {};
    };
    Status s = Status::Ok;
    if (auto r = give("log", object::RefPtr<object::Log>::adopt(new object::Log()), object::Log::kDefaultRights);
        !r.ok())
        s = r.status();
    if (auto r = give("resource", object::RefPtr<object::Resource>::adopt(new object::Resource()),
                      object::Resource::kDefaultRights);
        !r.ok())
        s = r.status();
    // The device root also carries refusal events (events/refusals.h):
    // its holder waits for them.
    auto root = object::RefPtr<object::DeviceRoot>::adopt(new object::DeviceRoot());
    refusals::set_listener(root.get());
    if (auto r = give("devices", std::move(root), object::DeviceRoot::kDefaultRights); !r.ok()) s = r.status();
    // The serial console: from now on user space reads the keyboard.
    auto console = object::RefPtr<object::Console>::adopt(new object::Console());
    object::Console::set_instance(console.get());
    console->ref();  // the kernel keeps the instance (never dropped)
    if (auto r = give("console", std::move(console), object::Console::kDefaultRights); !r.ok()) s = r.status();
    // The boot manifest, if GRUB loaded one: a read-only MemoryObject in
    // the abi::BootFileHeader layout (exact length, then the text).
    if (auto text = modules::find("manifest", 8); text.ok() && s == Status::Ok) {
        auto mo = object::MemoryObject::create(sizeof(abi::BootFileHeader) + text.value().size(), p->kmem());
        if (!mo.ok()) {
            s = mo.status();
        } else {
            abi::BootFileHeader header{text.value().size()};
            mo.value()->write(0, reinterpret_cast<const u8*>(&header), sizeof header);
            mo.value()->write(sizeof header, text.value().data(), text.value().size());
            // Read-only: narrower than a MemoryObject's default rights.
            if (auto r = give("manifest", mo.release_value(), cap::kRightRead | cap::kRightMap | object::kPassRights);
                !r.ok())
                s = r.status();
        }
    }
    if (s == Status::Ok) {
        if (auto r = start(p.get(), block, 16); !r.ok()) s = r.status();
    }
    if (s != Status::Ok) {
        p->terminate(object::ExitReason{object::ExitReason::Kind::Killed, 0, 0, 0, 0});
        p.reset();
        kcap::finish();
        return s;
    }
    return p;
}

void user_fault(const InterruptFrame& f) {
    object::Process* p = sched::current()->process;
    u64 address = f.vector == 14 ? cpu::read_cr2() : f.rip;
    LOG_WARN("proc: pid %u '%s' faulted: %s at rip 0x%llx address 0x%llx error 0x%llx", p->pid(), p->name(),
             idt::exception_name(f.vector), static_cast<unsigned long long>(f.rip),
             static_cast<unsigned long long>(address), static_cast<unsigned long long>(f.error_code));
    end_current(object::ExitReason{object::ExitReason::Kind::Faulted, 0, f.vector, address, f.rip});
}

void exit_current(i64 code) {
    object::Process* p = sched::current()->process;
    LOG_INFO("proc: pid %u '%s' exited with %lld (kernel memory peak %llu of %llu KiB)", p->pid(), p->name(),
             static_cast<long long>(code), static_cast<unsigned long long>(p->kmem()->peak() >> 10),
             static_cast<unsigned long long>(p->kmem()->limit() >> 10));
    profiler::dump(p->name());
    end_current(object::ExitReason{object::ExitReason::Kind::Exited, code, 0, 0, 0});
}

}  // namespace proc
