// SPDX-License-Identifier: MIT
// Unit tests of reserve/fill/commit, abort, reservations committed in any order, retained frames, and memory
// freed by releases in any order.
#include <algorithm>
#include <numeric>
#include <random>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Frame;
using zerobuffer::FrameInfo;
using zerobuffer::FrameReservation;
using zerobuffer::Reader;
using zerobuffer::Writer;

constexpr std::size_t kRing = 16384;

class Reserve : public RingTest {};
class OutOfOrderRelease : public RingTest {};

FrameInfo pts_info(std::int64_t pts)
{
    FrameInfo info;
    info.pts = pts;
    return info;
}

TEST_F(Reserve, ReserveFillCommitRoundTripsAndCountsAsInPlace)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    auto reservation = writer->reserve(100, 20);
    ASSERT_TRUE(is_ok(reservation));
    ASSERT_TRUE(reservation->valid());
    ASSERT_EQ(reservation->payload().size(), 100u);
    ASSERT_EQ(reservation->metadata().size(), 20u);
    fill_pattern(reservation->payload(), 1);
    fill_pattern(reservation->metadata(), 2);
    ASSERT_TRUE(is_ok(writer->commit(*reservation, pts_info(5))));
    EXPECT_FALSE(reservation->valid());

    auto frame = reader->acquire(1s);
    ASSERT_TRUE(is_ok(frame));
    EXPECT_EQ(frame->info().pts, 5);
    ASSERT_EQ(frame->payload().size(), 100u);
    ASSERT_EQ(frame->metadata().size(), 20u);
    EXPECT_FALSE(pattern_mismatch(frame->payload(), 1));
    EXPECT_FALSE(pattern_mismatch(frame->metadata(), 2));
    EXPECT_EQ(writer->counters().frames_in_place, 1u);
    EXPECT_EQ(writer->counters().frames_copied, 0u);
}

TEST_F(Reserve, AbortPublishesNothingAndFreesTheSpace)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    ASSERT_TRUE(is_ok(writer->write({}, pts_info(1))));
    {
        auto reservation = writer->reserve(writer->max_payload_size() / 2);
        ASSERT_TRUE(is_ok(reservation));
        reservation->abort();
        EXPECT_FALSE(reservation->valid());
        reservation->abort(); // twice is harmless
    }
    {
        auto dropped = writer->reserve(writer->max_payload_size() / 2);
        ASSERT_TRUE(is_ok(dropped));
        // Destroyed uncommitted: aborted.
    }
    ASSERT_TRUE(is_ok(writer->write({}, pts_info(2))));
    auto first = reader->acquire(1s);
    ASSERT_TRUE(is_ok(first));
    EXPECT_EQ(first->info().pts, 1);
    auto second = reader->acquire(1s);
    ASSERT_TRUE(is_ok(second));
    EXPECT_EQ(second->info().pts, 2) << "aborted reservations must not be delivered";
    EXPECT_EQ(second->frames_skipped(), 0u) << "an aborted reservation is not a lost frame";
    EXPECT_TRUE(is_error(reader->acquire(0ns), Errc::Timeout));
    first->release();
    second->release();
    EXPECT_EQ(writer->counters().frames_aborted, 2u);
    EXPECT_EQ(writer->counters().frames_written, 2u);
    // Nothing of the aborted regions stays pinned: the whole ring is available.
    auto whole = reserve_while_readers_wait(*writer, {&*reader}, writer->max_payload_size());
    EXPECT_TRUE(is_ok(whole));
}

TEST_F(Reserve, ReservationsCommittedInAnyOrderBecomeVisibleEachAtItsCommit)
{
    const auto name = ring_name();
    auto options = small_ring(256 * 1024);
    options.max_outstanding = 8;
    auto writer = Writer::create(name, options);
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));

    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    std::mt19937_64 rng(seed);
    std::int64_t next_pts = 0;
    std::uint64_t next_sequence = 0;
    for (int round = 0; round < 200; ++round) {
        const std::size_t count = 1 + rng() % 8;
        std::vector<FrameReservation> reservations;
        std::vector<std::int64_t> pts;
        for (std::size_t i = 0; i < count; ++i) {
            auto reservation = writer->reserve(rng() % 3000, rng() % 100);
            ASSERT_TRUE(is_ok(reservation));
            fill_pattern(reservation->payload(), static_cast<std::uint64_t>(next_pts));
            reservations.push_back(std::move(*reservation));
            pts.push_back(next_pts++);
        }
        std::vector<std::size_t> order(count);
        std::iota(order.begin(), order.end(), 0);
        if (round % 3 == 0)
            std::reverse(order.begin(), order.end());
        else
            std::shuffle(order.begin(), order.end(), rng);
        for (std::size_t k : order) {
            ASSERT_TRUE(is_ok(writer->commit(reservations[k], pts_info(pts[k]))));
            // Visible at once, with the next sequence number, whatever is still open.
            auto frame = reader->acquire(0ns);
            ASSERT_TRUE(is_ok(frame)) << "reservation " << k << " of round " << round << " committed but not visible";
            EXPECT_EQ(frame->info().pts, pts[k]);
            EXPECT_FALSE(pattern_mismatch(frame->payload(), static_cast<std::uint64_t>(pts[k])));
            EXPECT_EQ(frame->sequence(), next_sequence++) << "sequence numbers follow the commits";
            EXPECT_TRUE(is_error(reader->acquire(0ns), Errc::Timeout)) << "an open reservation became visible";
        }
    }
    EXPECT_EQ(writer->counters().waits, 0u);
}

TEST_F(Reserve, AnOldOpenReservationHoldsBackNothing)
{
    // A reservation kept open for long (a decoder's reference frame) while many frames flow past it.
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    auto kept = writer->reserve(kRing / 4);
    ASSERT_TRUE(is_ok(kept));
    fill_pattern(kept->payload(), 999);
    for (std::int64_t pts = 0; pts < 200; ++pts) {
        std::vector<std::byte> data(kRing / 4);
        fill_pattern(data, static_cast<std::uint64_t>(pts));
        ASSERT_TRUE(is_ok(writer->write(data, pts_info(pts), {}))) << "frame " << pts;
        auto frame = reader->acquire(0ns);
        ASSERT_TRUE(is_ok(frame));
        ASSERT_EQ(frame->info().pts, pts);
        ASSERT_FALSE(pattern_mismatch(frame->payload(), static_cast<std::uint64_t>(pts)));
    }
    EXPECT_FALSE(pattern_mismatch(kept->payload(), 999)) << "no frame was placed over the open reservation";
    ASSERT_TRUE(is_ok(writer->commit(*kept, pts_info(1000))));
    auto last = reader->acquire(0ns);
    ASSERT_TRUE(is_ok(last));
    EXPECT_EQ(last->info().pts, 1000);
    EXPECT_EQ(last->sequence(), 200u);
    EXPECT_FALSE(pattern_mismatch(last->payload(), 999));
    EXPECT_EQ(writer->counters().waits, 0u);
}

TEST_F(Reserve, RetainedFramesKeepTheirMemoryUntilReleased)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    zerobuffer::ReaderOptions latest;
    latest.policy = zerobuffer::ReaderPolicy::Latest;
    auto reader = Reader::attach(name, latest);
    ASSERT_TRUE(is_ok(reader));
    // Two retained frames (upstream still references them), then many frames through the other half.
    std::vector<zerobuffer::RetainedFrame> retained;
    for (std::uint64_t i = 0; i < 2; ++i) {
        auto reservation = writer->reserve(kRing / 4);
        ASSERT_TRUE(is_ok(reservation));
        fill_pattern(reservation->payload(), 500 + i);
        auto kept = writer->commit_retained(*reservation, pts_info(static_cast<std::int64_t>(500 + i)), kRing / 4, 0);
        ASSERT_TRUE(is_ok(kept));
        EXPECT_TRUE(kept->valid());
        EXPECT_EQ(kept->sequence(), i);
        retained.push_back(std::move(*kept));
    }
    auto seen = reader->acquire(0ns);
    ASSERT_TRUE(is_ok(seen)) << "a retained frame is visible like any other";
    EXPECT_EQ(seen->info().pts, 501);
    seen->release();
    Frame last;
    for (std::int64_t pts = 0; pts < 100; ++pts) {
        std::vector<std::byte> data(kRing / 4);
        fill_pattern(data, static_cast<std::uint64_t>(pts));
        ASSERT_TRUE(is_ok(writer->write(data, pts_info(pts), {}))) << "frame " << pts;
        auto frame = reader->acquire(0ns);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_FALSE(pattern_mismatch(frame->payload(), static_cast<std::uint64_t>(pts)));
        last = std::move(*frame);
    }
    EXPECT_EQ(writer->counters().frames_retained, 2u);
    EXPECT_EQ(writer->counters().waits, 0u);
    // Their memory was never reused: two retained, one held and one open reservation fill the ring...
    auto a = writer->reserve(kRing / 4, 0, 0ns);
    ASSERT_TRUE(is_ok(a));
    EXPECT_TRUE(is_error(writer->reserve(kRing / 4, 0, 20ms), Errc::Timeout)) << "two retained, one held, one open";
    EXPECT_FALSE(pattern_mismatch(last.payload(), 99));
    // ... until one is released.
    retained[0].release();
    EXPECT_FALSE(retained[0].valid());
    EXPECT_TRUE(is_ok(writer->reserve(kRing / 4, 0, 0ns))) << "a released retained frame's memory is free";
}

TEST_F(Reserve, AbortAmongOutstandingReservationsDoesNotBlockLaterCommits)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));

    std::vector<std::int64_t> got;
    std::vector<std::size_t> sizes;
    auto take = [&](int count) {
        for (int i = 0; i < count; ++i) {
            auto frame = reader->acquire(1s);
            ASSERT_TRUE(is_ok(frame)) << "frame " << got.size();
            got.push_back(frame->info().pts);
            sizes.push_back(frame->payload().size());
            EXPECT_EQ(frame->frames_skipped(), 0u) << "aborted reservations are not lost frames";
        }
    };
    // Middle one aborted, the last committed before the first.
    {
        auto r0 = writer->reserve(10);
        auto r1 = writer->reserve(20);
        auto r2 = writer->reserve(30);
        ASSERT_TRUE(is_ok(r0) && is_ok(r1) && is_ok(r2));
        r1->abort();
        ASSERT_TRUE(is_ok(writer->commit(*r2, pts_info(2))));
        ASSERT_NO_FATAL_FAILURE(take(1));
        ASSERT_TRUE(is_ok(writer->commit(*r0, pts_info(0))));
    }
    ASSERT_NO_FATAL_FAILURE(take(1));
    // Oldest one aborted after a later one was committed.
    {
        auto r3 = writer->reserve(40);
        auto r4 = writer->reserve(50);
        ASSERT_TRUE(is_ok(r3) && is_ok(r4));
        ASSERT_TRUE(is_ok(writer->commit(*r4, pts_info(4))));
        r3->abort();
    }
    ASSERT_NO_FATAL_FAILURE(take(1));
    EXPECT_EQ(got, (std::vector<std::int64_t>{2, 0, 4}));
    EXPECT_EQ(sizes, (std::vector<std::size_t>{30, 10, 50}));
    EXPECT_TRUE(is_error(reader->acquire(0ns), Errc::Timeout));
    EXPECT_EQ(writer->counters().frames_aborted, 2u);
}

TEST_F(Reserve, MaxOutstandingIsEnforced)
{
    const auto name = ring_name();
    auto options = small_ring(64 * 1024);
    options.max_outstanding = 4;
    auto writer = Writer::create(name, options);
    ASSERT_TRUE(is_ok(writer));
    std::vector<FrameReservation> open;
    for (int i = 0; i < 4; ++i) {
        auto reservation = writer->reserve(16);
        ASSERT_TRUE(is_ok(reservation));
        open.push_back(std::move(*reservation));
    }
    EXPECT_TRUE(is_error(writer->reserve(16, 0, 0ns), Errc::InvalidState));
    ASSERT_TRUE(is_ok(writer->commit(open[0], {})));
    auto fifth = writer->reserve(16);
    EXPECT_TRUE(is_ok(fifth)) << "a commit frees an outstanding slot";
}

TEST_F(Reserve, CommitMayShrinkButNotGrowTheFrame)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    {
        auto reservation = writer->reserve(1000, 100);
        ASSERT_TRUE(is_ok(reservation));
        fill_pattern(reservation->payload(), 3);
        fill_pattern(reservation->metadata(), 4);
        ASSERT_TRUE(is_ok(writer->commit(*reservation, pts_info(1), 10, 5)));
    }
    {
        auto reservation = writer->reserve(1000, 100);
        ASSERT_TRUE(is_ok(reservation));
        ASSERT_TRUE(is_ok(writer->commit(*reservation, pts_info(2), 0, 0)));
    }
    {
        auto reservation = writer->reserve(1000, 100);
        ASSERT_TRUE(is_ok(reservation));
        EXPECT_TRUE(is_error(writer->commit(*reservation, pts_info(3), 1001, 0), Errc::InvalidArgument));
        EXPECT_TRUE(is_error(writer->commit(*reservation, pts_info(3), 10, 101), Errc::InvalidArgument));
        // Whatever state the failed commit left, dropping the reservation must be safe.
    }
    ASSERT_TRUE(is_ok(writer->write({}, pts_info(4))));

    auto small = reader->acquire(1s);
    ASSERT_TRUE(is_ok(small));
    EXPECT_EQ(small->info().pts, 1);
    ASSERT_EQ(small->payload().size(), 10u);
    ASSERT_EQ(small->metadata().size(), 5u);
    EXPECT_FALSE(pattern_mismatch(small->payload(), 3)) << "the kept bytes are the first ones";
    EXPECT_FALSE(pattern_mismatch(small->metadata(), 4));
    auto empty = reader->acquire(1s);
    ASSERT_TRUE(is_ok(empty));
    EXPECT_EQ(empty->info().pts, 2);
    EXPECT_EQ(empty->payload().size(), 0u);
    EXPECT_EQ(empty->metadata().size(), 0u);
    auto last = reader->acquire(1s);
    ASSERT_TRUE(is_ok(last));
    EXPECT_EQ(last->info().pts, 4) << "a failed commit must not publish a frame";
    EXPECT_EQ(reader->counters().bytes_read, 10u);
}

TEST_F(Reserve, CommittingASpentOrEmptyReservationFails)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    FrameReservation empty;
    EXPECT_FALSE(empty.valid());
    EXPECT_TRUE(is_error_in(writer->commit(empty, {}), {Errc::InvalidArgument, Errc::InvalidState}));
    auto reservation = writer->reserve(8);
    ASSERT_TRUE(is_ok(reservation));
    ASSERT_TRUE(is_ok(writer->commit(*reservation, pts_info(1))));
    EXPECT_TRUE(is_error_in(writer->commit(*reservation, pts_info(2)), {Errc::InvalidArgument, Errc::InvalidState}));
    auto aborted = writer->reserve(8);
    ASSERT_TRUE(is_ok(aborted));
    aborted->abort();
    EXPECT_TRUE(is_error_in(writer->commit(*aborted, pts_info(3)), {Errc::InvalidArgument, Errc::InvalidState}));
    auto frame = reader->acquire(1s);
    ASSERT_TRUE(is_ok(frame));
    EXPECT_EQ(frame->info().pts, 1);
    EXPECT_TRUE(is_error(reader->acquire(0ns), Errc::Timeout)) << "exactly one frame was published";
}

TEST_F(OutOfOrderRelease, EachReleasedFramesMemoryIsReusedWhateverTheOrder)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::size_t quarter = kRing / 4; // payload of a frame of exactly a quarter ring
    for (int i = 0; i < 4; ++i) {
        std::vector<std::byte> data(quarter);
        fill_pattern(data, static_cast<std::uint64_t>(i));
        ASSERT_TRUE(is_ok(writer->write(data, pts_info(i)))) << "four quarter-ring frames fill the ring exactly";
    }
    std::vector<Frame> held;
    for (int i = 0; i < 4; ++i) {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        ASSERT_EQ(frame->info().pts, i);
        held.push_back(std::move(*frame));
    }
    EXPECT_TRUE(is_error(writer->reserve(quarter, 0, 20ms), Errc::Timeout));
    // Release the newest first: its quarter is free at once (v1 waited for the oldest).
    held[3].release();
    for (int i = 4; i < 10; ++i) {
        std::vector<std::byte> data(quarter);
        fill_pattern(data, static_cast<std::uint64_t>(i));
        ASSERT_TRUE(is_ok(writer->write(data, pts_info(i)))) << "frame " << i << " in the released quarter";
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(frame->info().pts, i);
        EXPECT_FALSE(pattern_mismatch(frame->payload(), static_cast<std::uint64_t>(i)));
    }
    // The frames still held are intact.
    for (int i = 0; i < 3; ++i) {
        EXPECT_FALSE(pattern_mismatch(held[static_cast<std::size_t>(i)].payload(), static_cast<std::uint64_t>(i)));
    }
    held[1].release();
    held[0].release();
    held[2].release();
    for (int i = 10; i < 14; ++i) {
        std::vector<std::byte> data(quarter);
        ASSERT_TRUE(is_ok(writer->write(data, pts_info(i)))) << "all four quarters are free again";
    }
    EXPECT_TRUE(is_error(writer->reserve(1, 0, 20ms), Errc::Timeout)) << "ring full of unread frames";
}

TEST_F(OutOfOrderRelease, RandomReleaseOrderFreesExactlyTheReleasedFrames)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    std::mt19937_64 rng(seed);
    constexpr std::size_t kParts = 8;
    const std::size_t part = kRing / kParts; // memory of each held frame
    const int rounds = 12 * soak_factor();
    for (int round = 0; round < rounds; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const auto name = ring_name(std::to_string(round));
        auto writer = Writer::create(name, small_ring(kRing));
        ASSERT_TRUE(is_ok(writer));
        auto reader = Reader::attach(name);
        ASSERT_TRUE(is_ok(reader));
        for (std::size_t i = 0; i < kParts; ++i) {
            std::vector<std::byte> data(part);
            fill_pattern(data, i);
            ASSERT_TRUE(is_ok(writer->write(data, pts_info(static_cast<std::int64_t>(i)))));
        }
        std::vector<Frame> held;
        for (std::size_t i = 0; i < kParts; ++i) {
            auto frame = reader->acquire(1s);
            ASSERT_TRUE(is_ok(frame));
            held.push_back(std::move(*frame));
        }
        std::vector<std::size_t> order(kParts);
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<bool> released(kParts, false);
        for (std::size_t k : order) {
            held[k].release();
            released[k] = true;
            // The longest run of released parts is the largest frame that fits; one part more does not.
            std::size_t longest = 0;
            for (std::size_t i = 0, run = 0; i < kParts; ++i) {
                run = released[i] ? run + 1 : 0;
                longest = std::max(longest, run);
            }
            for (std::size_t i = 0; i < kParts; ++i) {
                if (!released[i]) {
                    ASSERT_FALSE(pattern_mismatch(held[i].payload(), i)) << "held frame " << i << " was overwritten";
                }
            }
            if (longest < kParts) {
                EXPECT_TRUE(is_error(writer->reserve((longest + 1) * part, 0, 2ms), Errc::Timeout))
                    << "a reservation of " << longest + 1 << " parts fit in runs of at most " << longest;
            }
            auto fits = writer->reserve(longest * part, 0, 0ns);
            EXPECT_TRUE(is_ok(fits)) << "a run of " << longest << " released parts must be reusable";
            if (fits.has_value()) {
                fill_pattern(fits->payload(), 777);
                fits->abort();
            }
        }
    }
}

} // namespace
