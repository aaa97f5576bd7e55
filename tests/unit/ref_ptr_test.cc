#include "util/ref_ptr.h"

#include <gtest/gtest.h>

#include <utility>

namespace {

// A counted object that records how it ends.
struct Log {
    int destroyed = 0;
    int underflows = 0;
};

class Counted : public util::RefCounted<Counted> {
public:
    explicit Counted(Log& log) : m_log(log) {}
    virtual ~Counted() = default;

private:
    friend class util::RefCounted<Counted>;
    void last_reference_gone() {
        m_log.destroyed++;
        delete this;
    }
    void reference_underflow() { m_log.underflows++; }
    Log& m_log;
};

class Derived : public Counted {
public:
    using Counted::Counted;
};

// Releases into a queue instead of at once (object::DeferredRef's shape).
struct Queue {
    static inline Counted* pending[4];
    static inline int count = 0;
    static void release(Counted* p) { pending[count++] = p; }
    static void drain() {
        while (count) pending[--count]->unref();
    }
};

}  // namespace

TEST(RefPtr, AdoptTakesTheCreatorsReference) {
    Log log;
    {
        auto p = util::RefPtr<Counted>::adopt(new Counted(log));
        EXPECT_EQ(p->refs(), 1u);
    }
    EXPECT_EQ(log.destroyed, 1);
}

TEST(RefPtr, ShareTakesAnotherAndTheLastOwnerDestroys) {
    Log log;
    auto a = util::RefPtr<Counted>::adopt(new Counted(log));
    {
        auto b = util::RefPtr<Counted>::share(a.get());
        EXPECT_EQ(a->refs(), 2u);
        EXPECT_EQ(b.get(), a.get());
    }
    EXPECT_EQ(a->refs(), 1u);
    EXPECT_EQ(log.destroyed, 0);
    a.reset();
    EXPECT_FALSE(a);
    EXPECT_EQ(log.destroyed, 1);
    a.reset();  // nothing left to give back
    EXPECT_EQ(log.destroyed, 1);
}

TEST(RefPtr, MoveTransfersWithoutCounting) {
    Log log;
    auto a = util::RefPtr<Counted>::adopt(new Counted(log));
    Counted* raw = a.get();
    util::RefPtr<Counted> b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), raw);
    EXPECT_EQ(raw->refs(), 1u);
    util::RefPtr<Counted> c;
    c = std::move(b);
    EXPECT_EQ(raw->refs(), 1u);
    util::RefPtr<Counted>& alias = c;
    c = std::move(alias);  // self-move keeps the reference (Process::thread_finished relies on it)
    EXPECT_EQ(c.get(), raw);
    EXPECT_EQ(log.destroyed, 0);
}

TEST(RefPtr, AssigningOverGivesTheOldReferenceBack) {
    Log first, second;
    auto a = util::RefPtr<Counted>::adopt(new Counted(first));
    a = util::RefPtr<Counted>::adopt(new Counted(second));
    EXPECT_EQ(first.destroyed, 1);
    EXPECT_EQ(second.destroyed, 0);
    a = nullptr;
    EXPECT_EQ(second.destroyed, 1);
}

TEST(RefPtr, UpcastMovesTheReference) {
    Log log;
    auto d = util::RefPtr<Derived>::adopt(new Derived(log));
    util::RefPtr<Counted> base = std::move(d);
    EXPECT_FALSE(d);
    EXPECT_EQ(base->refs(), 1u);
    base.reset();
    EXPECT_EQ(log.destroyed, 1);
}

TEST(RefPtr, LeakHandsTheReferenceOver) {
    Log log;
    auto a = util::RefPtr<Counted>::adopt(new Counted(log));
    Counted* owned = a.leak();
    EXPECT_FALSE(a);
    EXPECT_EQ(log.destroyed, 0);  // the reference went with the pointer
    EXPECT_EQ(owned->refs(), 1u);
    owned->unref();
    EXPECT_EQ(log.destroyed, 1);
}

TEST(RefPtr, ShareOfNullIsNull) {
    auto p = util::RefPtr<Counted>::share(nullptr);
    EXPECT_FALSE(p);
}

TEST(RefPtr, ReleasePolicyDecidesWhenTheReferenceGoes) {
    Log log;
    auto* raw = new Counted(log);
    { auto held = util::RefPtr<Counted, Queue>::adopt(raw); }
    EXPECT_EQ(log.destroyed, 0);  // queued, not dropped
    ASSERT_EQ(Queue::count, 1);
    Queue::drain();
    EXPECT_EQ(log.destroyed, 1);
}

TEST(RefCounted, UnderflowIsReportedNotWrapped) {
    Log log;
    // A counted object kept alive by hand, so a second drop finds zero.
    struct Immortal : util::RefCounted<Immortal> {
        int* underflows;
        int gone = 0;
        void last_reference_gone() { gone++; }
        void reference_underflow() { (*underflows)++; }
    } o;
    o.underflows = &log.underflows;
    o.unref();
    EXPECT_EQ(o.gone, 1);
    o.unref();
    EXPECT_EQ(log.underflows, 1);
    EXPECT_EQ(o.refs(), 0u);
}
