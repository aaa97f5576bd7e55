// nvme::QueuePair (lib/nvme/queue_pair.h), the broker's queue-pair logic,
// against a fake controller in host memory (tests/support/
// fake_nvme_controller.h): submission validation, command-id states, the
// bounded stash (issue 11, finding 1), the broker's own command slot and
// its retirement on timeout (finding 9), and every kind of completion a
// device can get wrong.
// GoogleTest's <cxxabi.h> would declare `namespace abi` as an alias of
// __cxxabiv1, which clashes with our ABI's namespace (lib/abi/nvme.h); it
// only serves typed tests' type names, which this file has none of.
#define GTEST_HAS_CXXABI_H_ 0
#include <gtest/gtest.h>

#include "../support/fake_nvme_controller.h"
#include "nvme/completion.h"

namespace {

using fake_nvme::Buffer;
using fake_nvme::Controller;
using IdState = nvme::QueuePair::IdState;

constexpr u32 kBuf = 7;      // a buffer handle
constexpr u32 kLedger = 41;  // its ledger entry
constexpr u64 kBufAddress = 0x12340000;
constexpr u64 kBufSize = 1u << 20;

abi::NvmeCommand read(u16 cid, u32 nsid, u32 blocks, u64 offset = 0, u32 buffer = kBuf) {
    abi::NvmeCommand c{};
    c.opcode = nvme::kIoRead;
    c.cid = cid;
    c.nsid = nsid;
    c.cdw12 = blocks - 1;
    c.buffer = buffer;
    c.offset = offset;
    c.length = u64{blocks} << (nsid == 2 ? 12 : 9);
    return c;
}

abi::NvmeCommand get_features(u16 cid, u8 fid = nvme::kFeatureTemperatureThreshold) {
    abi::NvmeCommand c{};
    c.opcode = nvme::kAdminGetFeatures;
    c.cid = cid;
    c.cdw10 = fid;
    return c;
}

nvme::Sqe internal_command(u8 opcode = nvme::kAdminCreateCq) {
    nvme::Sqe e{};
    e.cdw0 = opcode;
    e.prp1 = 0x99000;
    return e;
}

class QueuePairTest : public ::testing::Test {
protected:
    // One fake per test: the arrays are large for the stack.
    std::unique_ptr<Controller> dev = std::make_unique<Controller>();

    void io_queue(u16 entries = 16, u16 list_pages = 4) {
        ASSERT_TRUE(dev->init(1, entries, static_cast<u16>(2 * entries), list_pages).ok());
        dev->host.buffers[kBuf] = Buffer{kBufAddress, kLedger, kBufSize};
    }
    void admin_queue(u16 entries = 8) {
        ASSERT_TRUE(dev->init(0, entries, entries, 0).ok());
        dev->host.buffers[kBuf] = Buffer{kBufAddress, kLedger, kBufSize};
    }
    Result<u32> submit(const abi::NvmeCommand& c) { return dev->qp.submit(&c, 1, dev->host); }
    std::vector<abi::NvmeCompletion> complete(u32 max = 256) {
        std::vector<abi::NvmeCompletion> out(max);
        out.resize(dev->qp.complete(out.data(), max, dev->host));
        return out;
    }
    void expect_consistent() {
        const char* why = "";
        EXPECT_TRUE(dev->qp.check_invariants(&why).ok()) << why;
        EXPECT_FALSE(dev->host.unbalanced);
    }
};

// --- Submission ---

TEST_F(QueuePairTest, ReadBuildsTheEntryAndHoldsItsBuffer) {
    io_queue();
    ASSERT_TRUE(submit(read(3, 1, 8, 512)).ok());
    EXPECT_EQ(dev->qp.sq_tail(), 1);
    const nvme::Sqe& e = dev->sq[0];
    EXPECT_EQ(nvme::cdw0_opcode(e.cdw0), nvme::kIoRead);
    EXPECT_EQ(nvme::cdw0_cid(e.cdw0), 3);
    EXPECT_EQ(e.cdw0 & 0xff00u, 0u) << "FUSE and PSDT are always 0";
    EXPECT_EQ(e.prp1, kBufAddress + 512);
    EXPECT_EQ(e.prp2, kBufAddress + 4096) << "4 KiB from offset 512 crosses one page boundary";
    EXPECT_EQ(e.mptr, 0u);
    EXPECT_EQ(dev->host.holds[kLedger], 1);
    EXPECT_EQ(dev->qp.id_state(3), IdState::Outstanding);
    EXPECT_EQ(dev->qp.in_flight(), 1u);
    expect_consistent();

    dev->fetch();
    dev->answer_cid(3, 0, 0xabcd);
    auto done = complete();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].cid, 3);
    EXPECT_EQ(done[0].result, 0xabcdu);
    EXPECT_EQ(done[0].status, 0);
    EXPECT_EQ(dev->host.holds[kLedger], 0);
    EXPECT_EQ(dev->qp.id_state(3), IdState::Free);
    EXPECT_TRUE(dev->qp.take_cq_moved());
    EXPECT_FALSE(dev->qp.take_cq_moved());
    expect_consistent();
}

TEST_F(QueuePairTest, LongTransferTakesAListPageUntilItCompletes) {
    io_queue(16, 1);
    ASSERT_TRUE(submit(read(0, 1, 64, 100 * 4)).ok());  // 32 KiB from an offset inside the first page
    const nvme::Sqe& e = dev->sq[0];
    EXPECT_EQ(e.prp1, kBufAddress + 400);
    EXPECT_EQ(e.prp2, Controller::kListsDeviceAddress);
    for (u32 i = 0; i < 8; i++) EXPECT_EQ(dev->lists[i], kBufAddress + (i + 1) * 4096u) << i;
    // The one list page is taken: a second long transfer waits.
    EXPECT_EQ(submit(read(1, 1, 64)).status(), Status::Busy);
    EXPECT_TRUE(submit(read(1, 1, 8)).ok()) << "a two-page transfer needs no list";
    dev->fetch();
    dev->answer_cid(0);
    EXPECT_EQ(complete().size(), 1u);
    EXPECT_TRUE(submit(read(2, 1, 64)).ok()) << "the page came back";
    expect_consistent();
}

TEST_F(QueuePairTest, ARefusedCommandRefusesTheWholeBatch) {
    io_queue(16, 1);
    abi::NvmeCommand batch[3] = {read(0, 1, 64), read(1, 1, 1), read(2, 1, 1, kBufSize)};  // the last is past the end
    EXPECT_EQ(dev->qp.submit(batch, 3, dev->host).status(), Status::OutOfBounds);
    EXPECT_EQ(dev->qp.sq_tail(), 0) << "nothing written";
    EXPECT_EQ(dev->host.total_holds(), 0);
    EXPECT_EQ(dev->qp.in_flight(), 0u);
    EXPECT_TRUE(submit(read(5, 1, 64)).ok()) << "the list page the refused batch took came back";
    expect_consistent();
}

TEST_F(QueuePairTest, ValidationRefusals) {
    io_queue();
    auto c = read(0, 1, 8);
    c.length = 512;  // the command moves 4 KiB
    EXPECT_EQ(submit(c).status(), Status::InvalidArgument);
    c = read(0, 1, 1);
    c.buffer = 0;
    EXPECT_EQ(submit(c).status(), Status::InvalidArgument) << "no PRP1 = 0";
    abi::NvmeCommand flush{};
    flush.opcode = nvme::kIoFlush;
    flush.nsid = 1;
    flush.buffer = kBuf;
    EXPECT_EQ(submit(flush).status(), Status::InvalidArgument) << "a buffer on a command without data";
    flush.buffer = 0;
    EXPECT_TRUE(submit(flush).ok());
    EXPECT_EQ(submit(read(1, 99, 1)).status(), Status::NotFound);
    EXPECT_EQ(submit(read(1, 3, 1)).status(), Status::Unsupported);
    EXPECT_EQ(submit(read(1, 1, 1, 0, 99)).status(), Status::BadHandle);
    abi::NvmeCommand vendor{};
    vendor.opcode = nvme::kIoVendorFirst;
    vendor.cid = 1;
    EXPECT_EQ(submit(vendor).status(), Status::Forbidden);
    EXPECT_EQ(dev->qp.submit(&flush, 0, dev->host).status(), Status::InvalidArgument);
    EXPECT_EQ(dev->qp.sq_tail(), 1);
    expect_consistent();
}

TEST_F(QueuePairTest, BusyIds) {
    io_queue(8, 0);
    EXPECT_EQ(submit(read(8, 1, 1)).status(), Status::Busy) << "beyond the queue";
    ASSERT_TRUE(submit(read(2, 1, 1)).ok());
    EXPECT_EQ(submit(read(2, 1, 1)).status(), Status::Busy) << "outstanding";
    abi::NvmeCommand twice[2] = {read(4, 1, 1), read(4, 1, 1)};
    EXPECT_EQ(dev->qp.submit(twice, 2, dev->host).status(), Status::Busy) << "twice in one batch";
    // Capacity: 7 of 8 entries (one slot stays empty).
    for (u16 cid = 0; cid < 8; cid++)
        if (cid != 2 && cid != 7) ASSERT_TRUE(submit(read(cid, 1, 1)).ok()) << cid;
    EXPECT_EQ(dev->qp.in_flight(), 7u);
    EXPECT_EQ(submit(read(7, 1, 1)).status(), Status::Busy) << "the SQ is full";
    expect_consistent();
}

TEST_F(QueuePairTest, AFailedHoldTakesNothing) {
    io_queue(16, 2);
    dev->host.hold_fails = Status::TornDown;
    abi::NvmeCommand batch[2] = {read(0, 1, 64), read(1, 1, 1)};
    EXPECT_EQ(dev->qp.submit(batch, 2, dev->host).status(), Status::TornDown);
    EXPECT_EQ(dev->qp.sq_tail(), 0);
    dev->host.hold_fails = Status::Ok;
    abi::NvmeCommand two_lists[2] = {read(0, 1, 64), read(1, 1, 64)};
    EXPECT_TRUE(dev->qp.submit(two_lists, 2, dev->host).ok()) << "both list pages are free again";
    expect_consistent();
}

TEST_F(QueuePairTest, AdminTransfersAreSizedFromTheCommand) {
    admin_queue();
    abi::NvmeCommand identify{};
    identify.opcode = nvme::kAdminIdentify;
    identify.cdw10 = nvme::kIdentifyController;
    identify.buffer = kBuf;
    identify.length = 512;
    EXPECT_EQ(submit(identify).status(), Status::InvalidArgument) << "Identify moves 4096 bytes";
    identify.length = 4096;
    EXPECT_TRUE(submit(identify).ok());
    abi::NvmeCommand log{};
    log.opcode = nvme::kAdminGetLogPage;
    log.cid = 1;
    log.cdw10 = 0x0fffu << 16;  // NUMDL 4095: 16 KiB, needs a PRP list
    log.buffer = kBuf;
    log.length = 16384;
    EXPECT_EQ(submit(log).status(), Status::Unsupported) << "no PRP lists on the admin queue";
    abi::NvmeCommand create = get_features(1);
    create.opcode = nvme::kAdminCreateSq;
    EXPECT_EQ(submit(create).status(), Status::Forbidden);
    EXPECT_EQ(submit(get_features(7)).status(), Status::Busy) << "the broker's id";
    expect_consistent();
}

// --- Completions a device gets wrong ---

TEST_F(QueuePairTest, OutOfPhaseEntriesAreNotNew) {
    io_queue();
    ASSERT_TRUE(submit(read(1, 1, 1)).ok());
    dev->fetch();
    nvme::Cqe stale = dev->entry(1);
    stale.status ^= 1;  // last pass's phase
    dev->cq[0] = stale;
    EXPECT_TRUE(complete().empty());
    EXPECT_FALSE(dev->qp.take_cq_moved());
    EXPECT_TRUE(dev->host.bad.empty());
    EXPECT_EQ(dev->qp.id_state(1), IdState::Outstanding);
    dev->answer_cid(1);
    EXPECT_EQ(complete().size(), 1u);
    expect_consistent();
}

TEST_F(QueuePairTest, WrongQueueUnknownAndDuplicateEntriesAreSkipped) {
    io_queue();
    ASSERT_TRUE(submit(read(1, 1, 1)).ok());
    ASSERT_TRUE(submit(read(2, 1, 1)).ok());
    dev->fetch();
    dev->post_raw(dev->entry(1, 0, 0, /*sq_id=*/5));  // another queue's
    dev->post_raw(dev->entry(9));                     // never issued
    dev->post_raw(dev->entry(200));                   // beyond the queue
    dev->answer_cid(1);
    dev->post_raw(dev->entry(1));  // a duplicate: late, after the real one
    dev->answer_cid(2);
    auto done = complete();
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0].cid, 1);
    EXPECT_EQ(done[1].cid, 2);
    ASSERT_EQ(dev->host.bad.size(), 4u);
    EXPECT_EQ(dev->host.bad[0].second, Status::InvalidArgument);
    EXPECT_EQ(dev->host.bad[1].second, Status::InvalidArgument);
    EXPECT_EQ(dev->host.bad[2].second, Status::OutOfBounds);
    EXPECT_EQ(dev->host.bad[3].second, Status::InvalidArgument);
    EXPECT_EQ(dev->host.total_holds(), 0);
    // A late duplicate after the id was reused completes nothing else: it is
    // taken for the reused command only if that one is outstanding, which
    // is all a device-visible id can tell.
    expect_consistent();
}

TEST_F(QueuePairTest, ErrorStatusIsPassedThrough) {
    io_queue();
    ASSERT_TRUE(submit(read(4, 1, 1)).ok());
    dev->fetch();
    dev->answer_cid(4, 0x0281);  // media error, unrecovered read
    auto done = complete();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].status, 0x0281);
    EXPECT_EQ(dev->host.total_holds(), 0);
}

TEST_F(QueuePairTest, PhaseFlipsOnEveryPassOfTheCompletionQueue) {
    io_queue(4, 0);  // CQ of 8
    for (u32 round = 0; round < 40; round++) {
        u16 cid = static_cast<u16>(round % 3);
        ASSERT_TRUE(submit(read(cid, 1, 1)).ok());
        dev->fetch();
        dev->answer_cid(cid);
        auto done = complete(1);
        ASSERT_EQ(done.size(), 1u) << round;
        EXPECT_EQ(done[0].cid, cid);
    }
    EXPECT_EQ(dev->qp.cq_head(), 40 % 8);
    EXPECT_EQ(dev->qp.phase(), (40 / 8) % 2 == 0);
    expect_consistent();
}

TEST_F(QueuePairTest, AFullPassOfBadEntriesIsSkipped) {
    io_queue(4, 0);  // CQ of 8
    ASSERT_TRUE(submit(read(0, 1, 1)).ok());
    dev->fetch();
    for (u32 i = 0; i < 8; i++) dev->post_raw(dev->entry(3));  // never issued, every slot
    EXPECT_TRUE(complete().empty());
    EXPECT_EQ(dev->host.bad.size(), 8u);
    EXPECT_EQ(dev->qp.cq_head(), 0);
    EXPECT_FALSE(dev->qp.phase()) << "one whole pass";
    dev->answer_cid(0);
    auto done = complete();
    ASSERT_EQ(done.size(), 1u) << "the real answer after them still counts";
    EXPECT_EQ(done[0].cid, 0);
    expect_consistent();
}

TEST_F(QueuePairTest, ReleaseAllGivesEveryHoldBack) {
    io_queue(16, 2);
    ASSERT_TRUE(submit(read(0, 1, 64)).ok());
    ASSERT_TRUE(submit(read(1, 1, 8)).ok());
    EXPECT_EQ(dev->host.holds[kLedger], 2);
    dev->qp.release_all(dev->host);
    EXPECT_EQ(dev->host.holds[kLedger], 0);
    EXPECT_EQ(dev->qp.in_flight(), 0u);
    expect_consistent();
}

// --- The stash and the broker's own commands (findings 1 and 9) ---

TEST_F(QueuePairTest, StashedIdsAreNotReusableUntilTaken) {
    admin_queue(8);  // provider ids 0..6, 6 at once
    for (u16 cid = 0; cid < 6; cid++) ASSERT_TRUE(submit(get_features(cid)).ok());
    ASSERT_TRUE(dev->qp.start_internal(internal_command()).ok());
    dev->fetch();
    for (u16 cid = 0; cid < 6; cid++) dev->answer_cid(cid, 0, 0x0101);
    dev->answer(0);  // the broker's
    auto answer = dev->qp.poll_internal(dev->host);
    ASSERT_TRUE(answer.ok());
    EXPECT_EQ(answer.value().cid, 7);
    EXPECT_EQ(dev->qp.stashed(), 6u);
    EXPECT_EQ(dev->qp.in_flight(), 0u);
    for (u16 cid = 0; cid < 6; cid++) EXPECT_EQ(dev->qp.id_state(cid), IdState::Completed);
    expect_consistent();

    // The provider never took them: its ids stay taken.
    EXPECT_EQ(submit(get_features(0)).status(), Status::Busy);
    EXPECT_TRUE(submit(get_features(6)).ok()) << "a free id still works";
    // A second internal command meets nothing new; the stash does not grow.
    ASSERT_TRUE(dev->qp.start_internal(internal_command(nvme::kAdminCreateSq)).ok());
    dev->fetch();
    dev->answer_cid(7);
    ASSERT_TRUE(dev->qp.poll_internal(dev->host).ok());
    EXPECT_EQ(dev->qp.stashed(), 6u);

    // Taken in the order they came, then reusable.
    auto done = complete(4);
    ASSERT_EQ(done.size(), 4u);
    for (u16 i = 0; i < 4; i++) {
        EXPECT_EQ(done[i].cid, i);
        EXPECT_EQ(done[i].result, 0x0101u);
    }
    EXPECT_TRUE(submit(get_features(0)).ok());
    EXPECT_EQ(submit(get_features(5)).status(), Status::Busy) << "still in the stash";
    done = complete();
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0].cid, 4);
    EXPECT_EQ(done[1].cid, 5);
    expect_consistent();
}

TEST_F(QueuePairTest, StashNeverOutgrowsTheIds) {
    // The finding-1 sequence, many rounds: submit every free id, never
    // complete, let internal commands run. The stash holds at most one
    // completion per id (7 on an 8-entry admin queue); every reuse is refused.
    admin_queue(8);
    u32 refused = 0;
    for (u32 round = 0; round < 100; round++) {
        for (u16 cid = 0; cid < 7; cid++) {
            auto r = submit(get_features(cid));
            if (!r.ok()) {
                EXPECT_EQ(r.status(), Status::Busy);
                refused++;
            }
        }
        ASSERT_TRUE(dev->qp.start_internal(internal_command()).ok());
        dev->fetch();
        while (!dev->fetched.empty()) dev->answer(0);
        ASSERT_TRUE(dev->qp.poll_internal(dev->host).ok()) << round;
        EXPECT_LE(dev->qp.stashed(), 7u);
        expect_consistent();
    }
    // Round 0 takes 6 (the queue's room), round 1 the seventh id; from then
    // on every id waits in the stash.
    EXPECT_EQ(dev->qp.stashed(), 7u);
    EXPECT_EQ(refused, 1u + 6u + 98u * 7u);
    EXPECT_EQ(complete().size(), 7u);
}

TEST_F(QueuePairTest, InternalAnswerBeforeTheProvidersLeavesThemInTheQueue) {
    admin_queue(8);
    ASSERT_TRUE(submit(get_features(0)).ok());
    ASSERT_TRUE(submit(get_features(1)).ok());
    ASSERT_TRUE(dev->qp.start_internal(internal_command()).ok());
    dev->fetch();
    dev->answer_cid(0);
    dev->answer_cid(7);  // the broker's, out of order
    dev->answer_cid(1);
    ASSERT_TRUE(dev->qp.poll_internal(dev->host).ok());
    EXPECT_EQ(dev->qp.stashed(), 1u) << "only what came before the answer";
    auto done = complete();
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0].cid, 0);  // from the stash
    EXPECT_EQ(done[1].cid, 1);  // from the queue
    expect_consistent();
}

TEST_F(QueuePairTest, InternalAnswerMetByCompleteIsKept) {
    // Should the wait ever let the provider run (a sleeping wait), its
    // complete() may meet the broker's answer first: it is kept for
    // poll_internal(), not reported as bad.
    admin_queue(8);
    ASSERT_TRUE(submit(get_features(2)).ok());
    ASSERT_TRUE(dev->qp.start_internal(internal_command()).ok());
    dev->fetch();
    dev->answer_cid(7, 0, 0x55);
    dev->answer_cid(2);
    auto done = complete();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].cid, 2);
    EXPECT_TRUE(dev->host.bad.empty());
    auto answer = dev->qp.poll_internal(dev->host);
    ASSERT_TRUE(answer.ok());
    EXPECT_EQ(answer.value().dw0, 0x55u);
}

TEST_F(QueuePairTest, AnAbandonedInternalCommandRetiresTheSlot) {
    admin_queue(8);
    EXPECT_EQ(dev->qp.poll_internal(dev->host).status(), Status::InvalidArgument) << "none waiting";
    ASSERT_TRUE(dev->qp.start_internal(internal_command(nvme::kAdminIdentify)).ok());
    EXPECT_EQ(dev->qp.start_internal(internal_command()).status(), Status::Busy) << "one at a time";
    dev->fetch();
    EXPECT_EQ(dev->qp.poll_internal(dev->host).status(), Status::NotFound);
    dev->qp.abandon_internal();  // the owner's deadline passed
    EXPECT_TRUE(dev->qp.internal_lost());
    EXPECT_EQ(dev->qp.start_internal(internal_command()).status(), Status::Timeout)
        << "no later command may get the late answer";
    EXPECT_EQ(dev->qp.sq_tail(), 1) << "nothing more written";
    // The late answer arrives: reported as such, taken for nothing.
    dev->answer_cid(7, 0, 0xdead);
    ASSERT_TRUE(submit(get_features(0)).ok());
    dev->fetch();
    dev->answer_cid(0);
    auto done = complete();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].cid, 0);
    ASSERT_EQ(dev->host.bad.size(), 1u);
    EXPECT_EQ(dev->host.bad[0].first.dw0, 0xdeadu);
    EXPECT_EQ(dev->host.bad[0].second, Status::Timeout);
    EXPECT_EQ(dev->qp.poll_internal(dev->host).status(), Status::InvalidArgument);
    expect_consistent();
}

TEST_F(QueuePairTest, AnUnaskedInternalAnswerIsBad) {
    admin_queue(8);
    dev->post_raw(dev->entry(7));
    EXPECT_TRUE(complete().empty());
    ASSERT_EQ(dev->host.bad.size(), 1u);
    EXPECT_EQ(dev->host.bad[0].second, Status::OutOfBounds);
    // And one for the broker's id on another queue is not its answer.
    ASSERT_TRUE(dev->qp.start_internal(internal_command()).ok());
    dev->fetch();
    dev->post_raw(dev->entry(7, 0, 0, /*sq_id=*/1));
    EXPECT_EQ(dev->qp.poll_internal(dev->host).status(), Status::NotFound);
    EXPECT_EQ(dev->host.bad.size(), 2u);
    dev->answer_cid(7);
    EXPECT_TRUE(dev->qp.poll_internal(dev->host).ok());
}

TEST_F(QueuePairTest, IoQueuesHaveNoInternalSlot) {
    io_queue();
    EXPECT_EQ(dev->qp.start_internal(internal_command()).status(), Status::WrongType);
    EXPECT_TRUE(submit(read(15, 1, 1)).ok()) << "every id is the provider's";
}

TEST_F(QueuePairTest, ImpossibleShapesAreRefused) {
    nvme::QueuePair qp;
    nvme::Sqe sq[4];
    nvme::Cqe cq[8];
    u64 lists[512];
    auto init = [&](u16 qid, u16 sq_entries, u16 cq_entries, u16 pages, bool with_lists = true) {
        return qp.init({qid, sq_entries, cq_entries, pages}, {sq, cq, with_lists ? lists : nullptr, 0x1000}).status();
    };
    EXPECT_EQ(init(1, 1, 2, 0), Status::InvalidArgument);
    EXPECT_EQ(init(1, 257, 512, 0), Status::InvalidArgument);
    EXPECT_EQ(init(1, 4, 2, 0), Status::InvalidArgument) << "CQ smaller than the SQ";
    EXPECT_EQ(init(1, 4, 8, 65), Status::InvalidArgument);
    EXPECT_EQ(init(1, 4, 8, 1, false), Status::InvalidArgument);
    EXPECT_EQ(init(0, 4, 4, 1), Status::InvalidArgument) << "admin queues get no list pages";
    EXPECT_EQ(init(1, 4, 8, 1), Status::Ok);
}

}  // namespace
