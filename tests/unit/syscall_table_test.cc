// The system call table (lib/abi/syscalls.def) as user space and the
// scenarios know it: numbers are ABI (a call is never renumbered), names
// appear in refusal lines the scenarios match ("syscall EndpointMint"), and
// the argument counts decide which registers the kernel reads. The table
// generates the enum, the names and the counts, so a line edited by
// mistake would change all three consistently; this pins them.
// GoogleTest's <cxxabi.h> would declare `namespace abi` as an alias of
// __cxxabiv1, which clashes with our ABI's namespace; this file has no
// typed tests, the only thing it serves (as in nvme_queue_pair_test.cc).
#define GTEST_HAS_CXXABI_H_ 0
#include <gtest/gtest.h>

#include "abi/syscall.h"

namespace {

struct Pinned {
    u64 number;
    const char* name;
    u32 argc;
};

constexpr Pinned kAbi[] = {
    {0, "LogWrite", 3},
    {1, "ProcessExit", 1},
    {2, "Yield", 0},
    {3, "ClockGet", 0},
    {4, "Sleep", 1},
    {5, "HandleClose", 1},
    {6, "HandleDuplicate", 2},
    {7, "HandleRevoke", 1},
    {8, "EndpointCreate", 0},
    {9, "EndpointMint", 3},
    {10, "EndpointCall", 2},
    {11, "EndpointReceive", 3},
    {12, "EndpointReply", 1},
    {13, "NotificationCreate", 0},
    {14, "NotificationSignal", 2},
    {15, "NotificationWait", 4},
    {16, "MemoryCreate", 1},
    {17, "MemoryMap", 3},
    {18, "MemoryUnmap", 2},
    {19, "WaitSetCreate", 0},
    {20, "WaitSetAdd", 4},
    {21, "WaitSetRemove", 2},
    {22, "WaitSetWait", 6},
    {23, "ProcessSpawn", 2},
    {24, "ProcessKill", 1},
    {25, "ProcessInfo", 2},
    {26, "SystemInfo", 4},
    {27, "ConsoleRead", 4},
    {28, "ConsoleWrite", 3},
    {29, "ProcessKillPid", 2},
    {30, "ThreadCreate", 4},
    {31, "ThreadExit", 0},
    {32, "DeviceList", 3},
    {33, "DeviceOpen", 2},
    {34, "PciConfigRead", 3},
    {35, "MmioCreate", 5},
    {36, "MmioMap", 1},
    {37, "MmioWrite", 4},
    {38, "DmaPoolCreate", 3},
    {39, "DmaBufferCreate", 2},
    {40, "DmaPoolInfo", 2},
    {41, "InterruptCreate", 2},
    {42, "InterruptAck", 1},
    {43, "InterruptMask", 2},
    {44, "NvmeQueueCreate", 5},
    {45, "NvmeSubmit", 3},
    {46, "NvmeComplete", 4},
    {47, "NvmeQueueMap", 1},
    {48, "VirtQueueCreate", 5},
    {49, "VirtQueueSubmit", 5},
    {50, "VirtQueueComplete", 3},
    {51, "VirtQueueMap", 1},
    {52, "MmioRead", 4},
    {53, "DeviceEvents", 3},
    {54, "MemorySize", 1},
    {55, "DmaBufferAddress", 1},
    {56, "SyscallCount", 0},
};

TEST(SyscallTable, NumbersNamesAndArgumentCountsArePinned) {
    ASSERT_EQ(sizeof kAbi / sizeof kAbi[0], static_cast<u64>(abi::Syscall::Count));
    for (const Pinned& p : kAbi) {
        SCOPED_TRACE(p.name);
        EXPECT_STREQ(abi::syscall_name(p.number), p.name);
        EXPECT_EQ(abi::syscall_argc(static_cast<abi::Syscall>(p.number)), p.argc);
    }
}

TEST(SyscallTable, NumbersOutsideTheTableAreUndefined) {
    constexpr u64 kCount = static_cast<u64>(abi::Syscall::Count);
    EXPECT_STREQ(abi::syscall_name(kCount), "undefined");
    EXPECT_STREQ(abi::syscall_name(kCount + 1), "undefined");
    EXPECT_STREQ(abi::syscall_name(~u64{0}), "undefined");
    EXPECT_EQ(abi::syscall_argc(abi::Syscall::Count), 0u);
}

TEST(SyscallTable, EnumeratorsMatchTheirNumbers) {
    // Spot checks through the enum itself (what rt::syscall<N> and the
    // kernel's dispatch switch use).
    EXPECT_EQ(static_cast<u64>(abi::Syscall::LogWrite), 0u);
    EXPECT_EQ(static_cast<u64>(abi::Syscall::EndpointMint), 9u);
    EXPECT_EQ(static_cast<u64>(abi::Syscall::WaitSetWait), 22u);
    EXPECT_EQ(abi::syscall_argc(abi::Syscall::WaitSetWait), 6u);
    EXPECT_EQ(static_cast<u64>(abi::Syscall::DeviceEvents), 53u);
}

}  // namespace
