// Result<T> and TRY (lib/util/result.h).
#include "util/result.h"

#include <gtest/gtest.h>

namespace {

struct Counted {
    static inline int live = 0;
    Counted() { live++; }
    Counted(const Counted&) { live++; }
    ~Counted() { live--; }
};

Result<int> half(int x) {
    if (x % 2) return Status::InvalidArgument;
    return x / 2;
}

Result<int> quarter(int x) { return TRY(half(TRY(half(x)))); }

TEST(Result, TryPropagatesTheFirstError) {
    EXPECT_EQ(quarter(8).value(), 2);
    EXPECT_EQ(quarter(6).status(), Status::InvalidArgument);
    EXPECT_EQ(quarter(5).status(), Status::InvalidArgument);
}

// A handler that "returns Status::Ok" from a function declared Result<T>
// would otherwise claim a value it never built.
TEST(Result, StatusOkCarriesNoValueSoItIsAnError) {
    Counted::live = 0;
    {
        Result<Counted> r(Status::Ok);
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.status(), Status::InvalidArgument);
    }
    EXPECT_EQ(Counted::live, 0) << "nothing was built, nothing destroyed";
    Result<void> v(Status::Ok);
    EXPECT_TRUE(v.ok()) << "Result<void> has no value to miss";
}

}  // namespace
