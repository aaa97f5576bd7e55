#include "util/demangle.h"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string dm(const std::string& s, bool* ok = nullptr) {
    char buf[128];
    bool r = demangle(s.data(), s.size(), buf, sizeof buf);
    if (ok) *ok = r;
    return buf;
}

TEST(Demangle, NestedAndPlainNames) {
    EXPECT_EQ(dm("_ZN6kernel18trigger_test_faultEv"), "kernel::trigger_test_fault()");
    EXPECT_EQ(dm("_Z11kernel_mainjj"), "kernel_main(...)");
    EXPECT_EQ(dm("_ZN3pci4scanEh"), "pci::scan(...)");
    EXPECT_EQ(dm("_ZN12_GLOBAL__N_14stepEv"), "(anonymous)::step()");
    EXPECT_EQ(dm("_ZNK3Foo3getEv"), "Foo::get()");
}

TEST(Demangle, ConstructorsTemplatesAndStd) {
    EXPECT_EQ(dm("_ZN3FooC2Ev"), "Foo::Foo()");
    EXPECT_EQ(dm("_ZN3FooD1Ev"), "Foo::~Foo()");
    EXPECT_EQ(dm("_ZN6ResultIiEC2ES_"), "Result<>::Result(...)");
    EXPECT_EQ(dm("_ZNSt7nothrowE"), "std::nothrow");
}

TEST(Demangle, UnknownOrBrokenNamesPassThrough) {
    bool ok = true;
    EXPECT_EQ(dm("interrupt_common", &ok), "interrupt_common");
    EXPECT_FALSE(ok);
    EXPECT_EQ(dm("_ZN99shortE", &ok), "_ZN99shortE");
    EXPECT_FALSE(ok);
    EXPECT_EQ(dm("_ZN3FooIiE", &ok), "_ZN3FooIiE");
    EXPECT_FALSE(ok);
}

TEST(Demangle, SmallOutputBufferIsTerminated) {
    char buf[5];
    demangle("_ZN6kernel4mainEv", 17, buf, sizeof buf);
    EXPECT_EQ(std::string(buf), "kern");
}

}  // namespace
