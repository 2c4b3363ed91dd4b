// SPDX-License-Identifier: MIT
// Unit tests of reader policies: lossless readers make the writer wait, latest readers never do (whatever they
// hold), get the newest frame and count what they skip.
#include <thread>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Frame;
using zerobuffer::FrameInfo;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::ReaderPolicy;
using zerobuffer::Writer;

constexpr std::size_t kRing = 16384;
constexpr std::size_t kQuarter = kRing / 4; // payload of a frame taking exactly a quarter of the ring

class Policy : public RingTest {};

ReaderOptions latest_options(std::uint64_t max_lag = 0)
{
    ReaderOptions options;
    options.policy = ReaderPolicy::Latest;
    options.max_lag_frames = max_lag;
    return options;
}

zerobuffer::Result<void> write_pts(Writer& writer, std::int64_t pts, std::size_t size,
                                   std::chrono::nanoseconds timeout)
{
    auto reservation = writer.reserve(size, 0, timeout);
    if (!reservation) {
        return tl::unexpected(reservation.error());
    }
    fill_pattern(reservation->payload(), static_cast<std::uint64_t>(pts));
    FrameInfo info;
    info.pts = pts;
    return writer.commit(*reservation, info);
}

TEST_F(Policy, LosslessReaderMakesTheWriterWaitUpToReaderTimeout)
{
    const auto name = ring_name();
    auto options = small_ring(kRing);
    options.reader_timeout = 300ms;
    auto writer = Writer::create(name, options);
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    std::vector<std::byte> data(kQuarter);
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(is_ok(writer->write(data)));
    }
    const auto waits_before = writer->counters().waits;
    const auto start = std::chrono::steady_clock::now();
    auto blocked = writer->reserve(kQuarter);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(is_error(blocked, Errc::Timeout));
    EXPECT_GE(waited, 270ms) << "reserve() without a timeout waits reader_timeout for a lossless reader";
    EXPECT_TRUE(is_error(writer->write(data), Errc::Timeout)) << "write() waits the same way";
    EXPECT_GT(writer->counters().waits, waits_before);
    EXPECT_GE(writer->counters().timeouts, 2u);

    // The reader reads one frame: exactly one quarter becomes free.
    {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
    }
    EXPECT_TRUE(is_ok(writer->write(data)));
    EXPECT_TRUE(is_error(writer->reserve(1, 0, 0ns), Errc::Timeout));
    EXPECT_TRUE(is_ok(writer->reserve(0, 0, 0ns))) << "a frame without payload or metadata needs no memory";

    // A writer blocked in reserve() wakes when the reader releases.
    std::thread consumer([&] {
        std::this_thread::sleep_for(50ms);
        auto frame = reader->acquire(1s);
        EXPECT_TRUE(is_ok(frame));
    });
    auto woken = writer->reserve(kQuarter, 0, bound(5000ms));
    consumer.join();
    EXPECT_TRUE(is_ok(woken));
}

TEST_F(Policy, WriterWithoutReadersNeverBlocks)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    for (int i = 0; i < 80; ++i) {
        ASSERT_TRUE(is_ok(write_pts(*writer, i, kQuarter, 0ns))) << "frame " << i;
    }
    EXPECT_EQ(writer->counters().timeouts, 0u);
    // A reader attaching now starts with the next frame.
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    ASSERT_TRUE(is_ok(write_pts(*writer, 80, 10, 0ns)));
    auto frame = reader->acquire(1s);
    ASSERT_TRUE(is_ok(frame));
    EXPECT_EQ(frame->info().pts, 80);
}

TEST_F(Policy, LatestReaderNeverBlocksTheWriterAndCountsExactlyWhatItMissed)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name, latest_options());
    ASSERT_TRUE(is_ok(reader));

    // One frame read normally first, so that the reader knows where it stands.
    ASSERT_TRUE(is_ok(write_pts(*writer, 0, kQuarter, 0ns)));
    std::uint64_t base_sequence = 0;
    {
        auto first = reader->acquire(1s);
        ASSERT_TRUE(is_ok(first));
        EXPECT_EQ(first->info().pts, 0);
        base_sequence = first->sequence();
    }
    std::int64_t pts = 1;
    // Ten laps while the latest reader sleeps: the writer never waits.
    for (; pts <= 40; ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, kQuarter, 0ns))) << "frame " << pts;
    }
    auto newest = reader->acquire(1s);
    ASSERT_TRUE(is_ok(newest));
    EXPECT_EQ(newest->info().pts, 40) << "a latest reader gets the newest frame";
    EXPECT_EQ(newest->frames_skipped(), 39u) << "frames 1..39 were missed";
    EXPECT_EQ(newest->sequence(), base_sequence + 40);
    EXPECT_FALSE(pattern_mismatch(newest->payload(), 40));
    EXPECT_EQ(reader->counters().frames_skipped, 39u);
    newest->release();

    // Two frames, read at once: only the newest, the other one is skipped.
    for (int i = 0; i < 2; ++i, ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, kQuarter, 0ns)));
    }
    {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(frame->info().pts, 42);
        EXPECT_EQ(frame->frames_skipped(), 1u);
        EXPECT_EQ(frame->sequence(), base_sequence + 42);
    }
    // One frame at a time: each one, no skips.
    for (int i = 0; i < 3; ++i, ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, kQuarter, 0ns)));
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(frame->info().pts, pts);
        EXPECT_EQ(frame->frames_skipped(), 0u);
    }
    EXPECT_TRUE(is_error(reader->acquire(0ns), Errc::Timeout)) << "nothing newer than what it got";

    // Behind by a known amount again.
    for (int i = 0; i < 13; ++i, ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, kQuarter, 0ns)));
    }
    auto jumped = reader->acquire(1s);
    ASSERT_TRUE(is_ok(jumped));
    EXPECT_EQ(jumped->info().pts, pts - 1);
    EXPECT_EQ(jumped->frames_skipped(), 12u);
    EXPECT_EQ(reader->counters().frames_skipped, 39u + 1u + 12u);
    EXPECT_EQ(reader->counters().frames_read, 7u);
    EXPECT_EQ(reader->counters().sequence_gaps, 0u) << "drops of a latest reader are skips, not gaps";
    EXPECT_EQ(writer->counters().waits, 0u) << "a latest reader must never make the writer wait";
    EXPECT_EQ(writer->counters().timeouts, 0u);
}

TEST_F(Policy, LatestReaderCountsFramesMissedBeforeItsFirstFrame)
{
    // The reader attached (StartAt::NextFrame) before frame 0 and was overrun before its first acquire():
    // frames 0..38 were committed after it attached and it never saw them, so they are drops.
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name, latest_options());
    ASSERT_TRUE(is_ok(reader));
    for (std::int64_t pts = 0; pts < 40; ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, kQuarter, 0ns)));
    }
    auto newest = reader->acquire(1s);
    ASSERT_TRUE(is_ok(newest));
    EXPECT_EQ(newest->info().pts, 39);
    EXPECT_EQ(newest->frames_skipped(), 39u);
    EXPECT_EQ(reader->counters().frames_skipped, 39u);
}

TEST_F(Policy, FramesHeldByALatestReaderNeverStopTheWriter)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name, latest_options());
    ASSERT_TRUE(is_ok(reader));
    ASSERT_TRUE(is_ok(write_pts(*writer, 0, kQuarter, 0ns)));
    auto held = reader->acquire(1s);
    ASSERT_TRUE(is_ok(held));
    // Three more quarters beside the held frame: the writer goes around it for as long as it likes.
    for (std::int64_t pts = 1; pts <= 100; ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, kQuarter, 0ns))) << "frame " << pts;
        EXPECT_FALSE(pattern_mismatch(held->payload(), 0)) << "the held frame was overwritten at frame " << pts;
    }
    // A second hold: two quarters stay free for the writer, still no wait.
    auto second = reader->acquire(1s);
    ASSERT_TRUE(is_ok(second));
    EXPECT_EQ(second->info().pts, 100);
    for (std::int64_t pts = 101; pts <= 200; ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, kQuarter, 0ns))) << "frame " << pts;
    }
    EXPECT_FALSE(pattern_mismatch(held->payload(), 0));
    EXPECT_FALSE(pattern_mismatch(second->payload(), 100));
    EXPECT_EQ(held->info().pts, 0);
    EXPECT_EQ(writer->counters().waits, 0u);
    EXPECT_GT(writer->counters().frames_passed, 0u) << "the writer went around the held frames";
    // Four quarters, three held (a third hold) and one reservation open: nothing else fits, the writer waits.
    auto third = reader->acquire(1s);
    ASSERT_TRUE(is_ok(third));
    auto open = writer->reserve(kQuarter, 0, 0ns);
    ASSERT_TRUE(is_ok(open)) << "held frames plus one fit";
    EXPECT_TRUE(is_error(writer->reserve(kQuarter, 0, 20ms), Errc::Timeout)) << "held frames plus two do not";
    held->release();
    EXPECT_TRUE(is_ok(writer->reserve(kQuarter, 0, 0ns))) << "a released frame's memory is free at once";
}

TEST_F(Policy, LatestReaderGetsTheNewestFrameEvenWhileItHoldsOthers)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name, latest_options());
    ASSERT_TRUE(is_ok(reader));
    std::vector<Frame> held;
    for (std::int64_t pts = 0; pts < 30; ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, 1000, 0ns)));
        if (pts % 10 == 9) {
            auto frame = reader->acquire(1s);
            ASSERT_TRUE(is_ok(frame));
            EXPECT_EQ(frame->info().pts, pts);
            EXPECT_FALSE(pattern_mismatch(frame->payload(), static_cast<std::uint64_t>(pts)));
            held.push_back(std::move(*frame));
        }
    }
    for (const Frame& frame : held) {
        EXPECT_FALSE(pattern_mismatch(frame.payload(), static_cast<std::uint64_t>(frame.info().pts)));
    }
    auto ring = zerobuffer::inspect_ring(name);
    ASSERT_TRUE(is_ok(ring));
    ASSERT_EQ(ring->readers.size(), 1u);
    EXPECT_EQ(ring->readers[0].held_frames, 3u);
    EXPECT_EQ(ring->readers[0].held_bytes, 3 * extent_size(1000));
    EXPECT_GE(ring->readers[0].oldest_hold_age_ns, 0);
    EXPECT_EQ(writer->counters().waits, 0u);
}

TEST_F(Policy, MaxLagFramesReadsInOrderWhileCloseAndJumpsWhenFarBehind)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(256 * 1024));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name, latest_options(5));
    ASSERT_TRUE(is_ok(reader));
    std::int64_t pts = 0;
    for (; pts < 3; ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, 100, 0ns)));
    }
    for (std::int64_t want = 0; want < 3; ++want) {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(frame->info().pts, want) << "lag 3 < max_lag_frames 5: in order";
        EXPECT_EQ(frame->frames_skipped(), 0u);
    }
    for (; pts < 23; ++pts) { // 20 frames: far behind, but all still in the ring
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, 100, 0ns)));
    }
    auto jumped = reader->acquire(1s);
    ASSERT_TRUE(is_ok(jumped));
    EXPECT_EQ(jumped->info().pts, 22) << "lag 20 > max_lag_frames 5: jump to the newest";
    EXPECT_EQ(jumped->frames_skipped(), 19u);
    EXPECT_EQ(reader->counters().frames_skipped, 19u);

    // A reader with a lag limit beyond the backlog reads it all in order ("in order until overrun").
    auto patient = Reader::attach(name, latest_options(1000));
    ASSERT_TRUE(is_ok(patient));
    for (std::int64_t i = 0; i < 20; ++i) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts + i, 100, 0ns)));
    }
    for (std::int64_t i = 0; i < 20; ++i) {
        auto frame = patient->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(frame->info().pts, pts + i);
        EXPECT_EQ(frame->frames_skipped(), 0u);
    }
    pts += 20;
    // Overrun: a writer that needs the room takes frames an in-order reader has not read yet, and the reader
    // jumps to the newest, counting what it lost.
    for (std::int64_t i = 0; i < 400; ++i, ++pts) {
        ASSERT_TRUE(is_ok(write_pts(*writer, pts, 4000, 0ns)));
    }
    auto overrun = patient->acquire(1s);
    ASSERT_TRUE(is_ok(overrun));
    EXPECT_EQ(overrun->info().pts, pts - 1);
    EXPECT_GT(patient->counters().overruns, 0u);
    EXPECT_EQ(overrun->frames_skipped(), 399u);
    EXPECT_EQ(writer->counters().waits, 0u);
}

TEST_F(Policy, LosslessAndLatestReadersTogether)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(64 * 1024));
    ASSERT_TRUE(is_ok(writer));
    auto lossless = Reader::attach(name);
    ASSERT_TRUE(is_ok(lossless));
    auto latest = Reader::attach(name, latest_options());
    ASSERT_TRUE(is_ok(latest));
    StreamModel stream(seed, 8000, 64);
    Rng rng(seed);
    std::uint64_t first_latest_pts = 0;
    std::uint64_t last_latest_pts = 0;
    bool latest_started = false;
    std::uint64_t latest_read = 0;
    std::uint64_t skipped_after_first = 0;
    std::uint64_t skipped_total = 0;
    const std::uint64_t total = 3000 * static_cast<std::uint64_t>(soak_factor());
    while (stream.written() < total) {
        // The writer waits only for the lossless reader, never for the latest one.
        const auto burst = rng.range(1, 20);
        for (std::uint64_t i = 0; i < burst && stream.written() < total; ++i) {
            if (!stream.write(*writer, 0ns).has_value()) {
                break; // only the lossless reader may cause this
            }
        }
        for (auto n = rng.range(0, 20); n > 0 && stream.unread() > 0; --n) {
            auto frame = lossless->acquire(1s);
            ASSERT_TRUE(is_ok(frame));
            ASSERT_EQ(stream.check(*frame), "");
        }
        if (rng.range(0, 3) == 0) {
            auto frame = latest->acquire(0ns);
            if (frame.has_value()) {
                const auto pts = static_cast<std::uint64_t>(frame->info().pts);
                ASSERT_TRUE(!latest_started || pts > last_latest_pts) << "latest reader went backwards";
                if (latest_started) {
                    EXPECT_EQ(frame->frames_skipped(), pts - last_latest_pts - 1) << "pts " << pts;
                    skipped_after_first += frame->frames_skipped();
                } else {
                    first_latest_pts = pts;
                }
                EXPECT_FALSE(pattern_mismatch(frame->payload(), payload_seed(seed, pts))) << "pts " << pts;
                skipped_total += frame->frames_skipped();
                ++latest_read;
                last_latest_pts = pts;
                latest_started = true;
            } else {
                ASSERT_TRUE(is_error(frame, Errc::Timeout));
            }
        }
    }
    EXPECT_EQ(latest->counters().frames_read, latest_read);
    EXPECT_EQ(latest->counters().frames_skipped, skipped_total);
    EXPECT_TRUE(latest_started);
    EXPECT_EQ(latest_read + skipped_after_first, last_latest_pts - first_latest_pts + 1)
        << "every frame was either read or counted skipped";
    EXPECT_EQ(lossless->counters().frames_skipped, 0u);
    EXPECT_EQ(lossless->counters().sequence_gaps, 0u);
}

} // namespace
