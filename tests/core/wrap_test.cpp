// SPDX-License-Identifier: MIT
// Unit tests of the frame area's edges: largest frames, wrap-around at every distance from the end, many laps,
// rewinds that keep the memory in use small.
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <thread>
#include <vector>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Frame;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;

constexpr std::size_t kRing = 16384;

class Wrap : public RingTest {};

/// Writes one frame and reads it back at once (lockstep), checking everything. The reader waits in acquire()
/// on another thread while the writer reserves, as a real reader does.
void roundtrip(Writer& writer, Reader& reader, StreamModel& stream, std::size_t payload, std::size_t metadata = 0)
{
    SCOPED_TRACE("frame index " + std::to_string(stream.written()) + ", payload " + std::to_string(payload) +
                 ", metadata " + std::to_string(metadata));
    FrameSpec spec;
    spec.payload_size = payload;
    spec.metadata_size = metadata;
    zerobuffer::Result<Frame> got = zerobuffer::make_error(Errc::InvalidState, "not acquired");
    std::thread acquirer([&] { got = reader.acquire(bound(3000ms)); });
    auto written = stream.write(writer, spec, bound(2000ms));
    acquirer.join();
    ASSERT_TRUE(is_ok(written));
    ASSERT_TRUE(is_ok(got));
    ASSERT_EQ(stream.check(*got), "");
}

TEST_F(Wrap, MaxPayloadSizeFollowsTheRingGeometry)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    // Design: a frame's memory is its metadata area aligned to 64, then the payload; the largest fills the ring.
    EXPECT_EQ(writer->max_payload_size(0), kRing);
    for (std::size_t m : {1u, 63u, 64u, 65u, 1000u}) {
        EXPECT_EQ(writer->max_payload_size(m), kRing - align64(m)) << "metadata " << m;
    }
    EXPECT_EQ(writer->max_payload_size(kRing), 0u) << "metadata that cannot fit leaves no payload";
}

TEST_F(Wrap, RingSizeIsRoundedUpToAPage)
{
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(2 * page + 1));
    ASSERT_TRUE(is_ok(writer));
    EXPECT_EQ(writer->max_payload_size(0), 3 * page);
    EXPECT_EQ(writer->ring_size(), 3 * page);
}

TEST_F(Wrap, LargestFrameFitsAndOneByteMoreIsFrameTooLarge)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    StreamModel stream(11, 0, 0);
    for (std::size_t m : {0u, 1u, 64u, 100u, 1000u}) {
        const std::size_t max = writer->max_payload_size(m);
        ASSERT_GT(max, 0u);
        // Largest frame from the ring start, then after a small frame (so it must wrap), twice.
        for (int round = 0; round < 2; ++round) {
            ASSERT_NO_FATAL_FAILURE(roundtrip(*writer, *reader, stream, max, m));
            ASSERT_NO_FATAL_FAILURE(roundtrip(*writer, *reader, stream, 1 + static_cast<std::size_t>(round) * 300, m));
        }
        EXPECT_TRUE(is_error(writer->reserve(max + 1, m), Errc::FrameTooLarge)) << "metadata " << m;
        EXPECT_TRUE(is_error(writer->reserve(max + 1, m, 0ns), Errc::FrameTooLarge));
        std::vector<std::byte> too_big(max + 1);
        std::vector<std::byte> meta(m);
        EXPECT_TRUE(is_error(writer->write(too_big, {}, meta), Errc::FrameTooLarge));
        EXPECT_TRUE(is_error(writer->reserve(std::size_t{1} << 40, m), Errc::FrameTooLarge));
    }
    // The refusals published nothing.
    EXPECT_TRUE(is_error(reader->acquire(0ns), Errc::Timeout));
    ASSERT_NO_FATAL_FAILURE(roundtrip(*writer, *reader, stream, 5));
}

TEST_F(Wrap, LargestFrameAfterAWrapWithAnIdleLosslessReaderThatReadEverything)
{
    // Single thread: the lossless reader has read and released every frame and is not inside acquire() when
    // the writer reserves. Nothing unread is left for it, so per the Writer contract ("reserve() waits only for
    // lossless readers and frames held or retained that leave no room") the largest frame must fit, even though
    // the small frame lies in its way (it is the newest frame, which the writer gives up only for lack of room).
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::byte small[100] = {};
    ASSERT_TRUE(is_ok(writer->write(small)));
    {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
    }
    EXPECT_TRUE(is_error(reader->acquire(0ns), Errc::Timeout)) << "everything was read";
    auto largest = writer->reserve(writer->max_payload_size(), 0, 300ms);
    EXPECT_TRUE(is_ok(largest)) << "an idle lossless reader with nothing unread must not block the writer";
}

TEST_F(Wrap, OneByteFramesThroughManyLaps)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    auto ring = zerobuffer::inspect_ring(name);
    ASSERT_TRUE(is_ok(ring));
    // Unread frames are limited by memory (64 bytes each) and by the descriptors (frame_slots).
    const std::size_t capacity = std::min<std::size_t>(kRing / extent_size(1), ring->frame_slots);
    StreamModel stream(12, 0, 0);
    const std::size_t laps = 60 * static_cast<std::size_t>(soak_factor());
    const std::size_t frames = laps * kRing / extent_size(1);
    // Lockstep: one frame in the ring at a time.
    for (std::size_t i = 0; i < frames; ++i) {
        ASSERT_NO_FATAL_FAILURE(roundtrip(*writer, *reader, stream, 1));
    }
    EXPECT_GE(writer->counters().wraps, laps - 1) << "each lap wraps the write position once";
    // Pipelined: fill the ring completely with 1-byte frames, then drain it, lap after lap.
    for (std::size_t lap = 0; lap < laps; ++lap) {
        FrameSpec spec;
        spec.payload_size = 1;
        std::size_t batch = 0;
        while (stream.write(*writer, spec, 0ns).has_value()) {
            ++batch;
            ASSERT_LE(batch, capacity) << "more frames accepted than the ring can hold";
        }
        ASSERT_EQ(batch, capacity) << "a ring whose frames were all read must take them all again";
        for (std::size_t i = 0; i < batch; ++i) {
            auto frame = reader->acquire(1s);
            ASSERT_TRUE(is_ok(frame));
            ASSERT_EQ(stream.check(*frame), "");
        }
    }
}

TEST_F(Wrap, PowerOfTwoSizesAroundTheRingSize)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    StreamModel stream(13, 0, 0);
    for (int pass = 0; pass < 3; ++pass) {
        for (std::size_t m : {0u, 64u, 65u}) {
            for (int k = 0; k <= 15; ++k) {
                const std::size_t power = std::size_t{1} << k;
                for (std::size_t p : {power - 1, power, power + 1}) {
                    const std::size_t size = pass == 1 ? (std::size_t{1} << (15 - k)) + (p - power) + 1 : p;
                    if (size <= writer->max_payload_size(m)) {
                        ASSERT_NO_FATAL_FAILURE(roundtrip(*writer, *reader, stream, size, m));
                    } else {
                        EXPECT_TRUE(is_error(writer->reserve(size, m, 0ns), Errc::FrameTooLarge))
                            << "payload " << size << " metadata " << m;
                    }
                }
            }
        }
    }
}

TEST_F(Wrap, RecordsAtEveryDistanceFromTheRingEnd)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    StreamModel stream(14, 0, 0);
    const std::size_t max = writer->max_payload_size(0);

    // Where the next frame starts, per the design's placement rules (next fit; a frame that does not fit before
    // the end of the area starts at its beginning). Only used to aim; every frame is verified however the
    // implementation places it.
    std::size_t pos = 0;
    auto put = [&](std::size_t payload) {
        roundtrip(*writer, *reader, stream, payload);
        const std::size_t extent = extent_size(payload);
        if (pos + extent > kRing) {
            pos = 0;
        }
        pos = (pos + extent) % kRing;
    };
    auto move_to = [&](std::size_t target) {
        for (int guard = 0; pos != target && guard < 8; ++guard) {
            if (target > pos) {
                put(target - pos); // lands exactly on target
            } else {
                put(kRing - pos); // ends exactly at the end of the area
            }
            if (::testing::Test::HasFatalFailure()) {
                return;
            }
        }
        ASSERT_EQ(pos, target);
    };

    for (std::size_t gap = 64; gap <= 2048; gap += 64) {
        std::vector<std::size_t> candidates = {1, 63, 64, kRing / 2, max - 1, max};
        candidates.push_back(gap);     // ends exactly at the end of the area
        candidates.push_back(gap + 1); // one byte too long: starts at the beginning
        if (gap > 64) {
            candidates.push_back(gap - 64); // leaves a 64-byte gap
        }
        for (std::size_t payload : candidates) {
            SCOPED_TRACE("gap " + std::to_string(gap) + " before a frame of " + std::to_string(payload));
            ASSERT_NO_FATAL_FAILURE(move_to((kRing - gap) % kRing));
            ASSERT_NO_FATAL_FAILURE(put(payload));
        }
    }
    // Frames without memory (no payload, no metadata) take none: nothing moves.
    ASSERT_NO_FATAL_FAILURE(move_to(kRing / 2));
    ASSERT_NO_FATAL_FAILURE(put(0));
    ASSERT_NO_FATAL_FAILURE(put(kRing / 2));
}

TEST_F(Wrap, MixedSizesManyLapsWithHeldFramesReleasedOutOfOrder)
{
    const std::uint64_t seed = test_seed();
    RecordProperty("seed", std::to_string(seed));
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    const std::size_t ring = 64 * 1024;
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(ring));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    StreamModel stream(seed, ring / 3, 300);
    Rng rng(seed);
    std::deque<Frame> held;
    std::uint64_t bytes = 0;
    const std::uint64_t target = 400 * ring * static_cast<std::uint64_t>(soak_factor());
    int stuck = 0;
    while (bytes < target) {
        // Writer: a random burst, stopping when the ring is full.
        const auto burst = rng.range(1, 12);
        std::uint64_t wrote = 0;
        for (std::uint64_t i = 0; i < burst; ++i) {
            const std::size_t size = stream.next_spec().payload_size;
            if (!stream.write(*writer, 0ns).has_value()) {
                break;
            }
            bytes += size;
            ++wrote;
        }
        // Reader: a random number of frames, holding some of them a while.
        const auto take = rng.range(0, 10);
        for (std::uint64_t i = 0; i < take && stream.unread() > 0; ++i) {
            auto frame = reader->acquire(1s);
            ASSERT_TRUE(is_ok(frame)) << "frame index " << stream.read() << " of " << stream.written();
            ASSERT_EQ(stream.check(*frame), "");
            if (held.size() < 6 && rng.range(0, 2) == 0) {
                held.push_back(std::move(*frame));
            }
        }
        // Release held frames in random order.
        while (!held.empty() && rng.range(0, 1) == 0) {
            const auto at = static_cast<std::ptrdiff_t>(rng.range(0, held.size() - 1));
            held.erase(held.begin() + at);
        }
        if (wrote == 0 && take == 0) {
            ASSERT_LT(++stuck, 10000) << "no progress";
        }
        if (wrote == 0 && stream.unread() == 0 && !held.empty()) {
            held.clear(); // only held frames block the writer: let it go on
        }
    }
    held.clear();
    while (stream.unread() > 0) {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        ASSERT_EQ(stream.check(*frame), "");
    }
    EXPECT_EQ(writer->counters().frames_written, stream.written());
    EXPECT_EQ(reader->counters().frames_read, stream.read());
}

} // namespace

namespace {

/// Where a frame's payload lies in the ring, as an offset from the first frame's payload.
std::ptrdiff_t offset_from(const Frame& frame, const std::byte* first) { return frame.payload().data() - first; }

} // namespace

TEST_F(Wrap, WriterRewindsToTheRingStartWhileReadersKeepUp)
{
    // Design: far enough into a lap (a frame and 1 MiB), when the first gap that fits from the start of the area
    // lies lower, the next frame goes there: the memory in use stays small. The newest frame is kept for latest
    // readers, so frames alternate between the first two places.
    constexpr std::size_t kBigRing = std::size_t{8} << 20;
    constexpr std::size_t kFrame = std::size_t{3} << 19; // 1.5 MiB: five fit in one lap without rewinds
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kBigRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::vector<std::byte> payload(kFrame, std::byte{0x5a});

    const std::byte* first = nullptr;
    for (int i = 0; i < 12; ++i) {
        ASSERT_TRUE(is_ok(writer->write(payload)));
        auto frame = reader->acquire(bound(1000ms));
        ASSERT_TRUE(is_ok(frame));
        if (first == nullptr)
            first = frame->payload().data();
        EXPECT_EQ(offset_from(*frame, first), i % 2 == 0 ? 0 : static_cast<std::ptrdiff_t>(kFrame)) << "frame " << i;
        EXPECT_EQ(frame->sequence(), static_cast<std::uint64_t>(i));
    }
    EXPECT_GE(writer->counters().rewinds, 5u);
    EXPECT_LE(zerobuffer::inspect_ring(name)->bytes_in_use, 2 * kFrame) << "two frames' memory in use";

    // A held frame keeps the writer from rewinding over it: the next frames go around it, nothing is overwritten.
    ASSERT_TRUE(is_ok(writer->write(payload)));
    auto held = reader->acquire(bound(1000ms));
    ASSERT_TRUE(is_ok(held));
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(is_ok(writer->write(payload)));
        auto next = reader->acquire(bound(1000ms));
        ASSERT_TRUE(is_ok(next));
        const auto distance = offset_from(*next, held->payload().data());
        EXPECT_TRUE(distance >= static_cast<std::ptrdiff_t>(kFrame) || distance <= -static_cast<std::ptrdiff_t>(kFrame))
            << "frame placed over the held one";
    }
    EXPECT_TRUE(std::all_of(held->payload().begin(), held->payload().end(), [](std::byte b) { return b == std::byte{0x5a}; }));
    EXPECT_EQ(writer->counters().waits, 0u);
}
