// SPDX-License-Identifier: MIT
// Unit tests of frame contents: payload and metadata sizes, FrameInfo fields, sequence, views and holding.
#include <time.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Frame;
using zerobuffer::FrameInfo;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;

class Frames : public RingTest {};

std::int64_t monotonic_now_ns()
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

TEST_F(Frames, ZeroAndOneByteFrames)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));

    // Zero bytes through write() (empty span) and through reserve(0).
    ASSERT_TRUE(is_ok(writer->write({})));
    {
        auto reservation = writer->reserve(0);
        ASSERT_TRUE(is_ok(reservation));
        EXPECT_EQ(reservation->payload().size(), 0u);
        EXPECT_EQ(reservation->metadata().size(), 0u);
        FrameInfo info;
        info.flags = zerobuffer::kFrameEndOfStream;
        ASSERT_TRUE(is_ok(writer->commit(*reservation, info)));
        EXPECT_FALSE(reservation->valid()) << "a committed reservation is spent";
    }
    const std::byte one[1] = {std::byte{0xA5}};
    ASSERT_TRUE(is_ok(writer->write(one)));

    auto first = reader->acquire(1s);
    ASSERT_TRUE(is_ok(first));
    EXPECT_EQ(first->payload().size(), 0u);
    EXPECT_EQ(first->metadata().size(), 0u);
    EXPECT_EQ(first->info().flags, 0u);
    EXPECT_EQ(first->info().pts, zerobuffer::kNoTimestamp) << "default FrameInfo round-trips as unset";
    auto second = reader->acquire(1s);
    ASSERT_TRUE(is_ok(second));
    EXPECT_EQ(second->payload().size(), 0u);
    EXPECT_EQ(second->info().flags, static_cast<std::uint32_t>(zerobuffer::kFrameEndOfStream));
    auto third = reader->acquire(1s);
    ASSERT_TRUE(is_ok(third));
    ASSERT_EQ(third->payload().size(), 1u);
    EXPECT_EQ(third->payload()[0], std::byte{0xA5});
    EXPECT_EQ(second->sequence(), first->sequence() + 1);
    EXPECT_EQ(third->sequence(), second->sequence() + 1);
}

TEST_F(Frames, ManyPayloadAndMetadataSizesRoundTrip)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(256 * 1024));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::vector<std::size_t> payloads = {0,   1,   2,   3,    7,    8,    9,    15,   16,    17,   63,
                                               64,  65,  127, 128,  129,  191,  192,  255,  256,   257,  511,
                                               512, 513, 999, 1000, 4095, 4096, 4097, 8191, 65536, 100003};
    const std::vector<std::size_t> metadata = {0, 1, 7, 63, 64, 65, 127, 128, 200, 1000, 4000};
    StreamModel stream(0x5eed, 0, 0);
    for (std::size_t m : metadata) {
        for (std::size_t p : payloads) {
            SCOPED_TRACE("payload " + std::to_string(p) + " metadata " + std::to_string(m));
            FrameSpec spec;
            spec.payload_size = p;
            spec.metadata_size = m;
            ASSERT_TRUE(is_ok(stream.write(*writer, spec)));
            auto frame = reader->acquire(1s);
            ASSERT_TRUE(is_ok(frame));
            ASSERT_EQ(stream.check(*frame), "");
        }
    }
}

TEST_F(Frames, FrameInfoFieldsRoundTripIncludingExtremes)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));

    std::vector<FrameInfo> infos;
    infos.push_back(FrameInfo{}); // all unset
    {
        FrameInfo info;
        info.pts = std::numeric_limits<std::int64_t>::max();
        info.dts = std::numeric_limits<std::int64_t>::min() + 1;
        info.duration = 0;
        info.offset = 0;
        info.offset_end = std::numeric_limits<std::uint64_t>::max() - 1;
        info.flags = 0xffffffffu;
        infos.push_back(info);
    }
    {
        FrameInfo info;
        info.pts = -1;
        info.dts = -123456789012345;
        info.duration = 1;
        info.offset = 0x0123456789abcdefULL;
        info.offset_end = 0xfedcba9876543210ULL;
        info.flags = zerobuffer::kFrameKeyframe | zerobuffer::kFrameHeader | zerobuffer::kFrameDroppable |
                     zerobuffer::kFrameGap | zerobuffer::kFrameCorrupted | zerobuffer::kFrameDiscontinuity |
                     (0xbeefu << zerobuffer::kFrameUserShift);
        infos.push_back(info);
    }
    for (std::uint32_t bit = 0; bit < 32; ++bit) {
        FrameInfo info;
        info.flags = 1u << bit;
        info.pts = bit;
        infos.push_back(info);
    }
    for (const auto& info : infos) {
        const std::byte data[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
        const std::byte meta[3] = {std::byte{9}, std::byte{8}, std::byte{7}};
        ASSERT_TRUE(is_ok(writer->write(data, info, meta)));
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(frame->info().pts, info.pts);
        EXPECT_EQ(frame->info().dts, info.dts);
        EXPECT_EQ(frame->info().duration, info.duration);
        EXPECT_EQ(frame->info().offset, info.offset);
        EXPECT_EQ(frame->info().offset_end, info.offset_end);
        EXPECT_EQ(frame->info().flags, info.flags);
        ASSERT_EQ(frame->metadata().size(), 3u);
        EXPECT_EQ(frame->metadata()[2], std::byte{7});
        ASSERT_EQ(frame->payload().size(), 4u);
        EXPECT_EQ(frame->payload()[3], std::byte{4});
    }
}

TEST_F(Frames, SequenceAndCommitTimeAdvance)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    std::uint64_t last_sequence = 0;
    std::int64_t last_commit = 0;
    for (int i = 0; i < 50; ++i) {
        const std::int64_t before = monotonic_now_ns();
        ASSERT_TRUE(is_ok(writer->write({})));
        const std::int64_t after = monotonic_now_ns();
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        if (i > 0) {
            EXPECT_EQ(frame->sequence(), last_sequence + 1);
        }
        EXPECT_GE(frame->commit_time_ns(), before) << "commit time is CLOCK_MONOTONIC at commit";
        EXPECT_LE(frame->commit_time_ns(), after);
        EXPECT_GE(frame->commit_time_ns(), last_commit);
        last_sequence = frame->sequence();
        last_commit = frame->commit_time_ns();
    }
}

TEST_F(Frames, AcquireOnEmptyRingTimesOut)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    EXPECT_TRUE(is_error(reader->acquire(0ns), Errc::Timeout)) << "a zero timeout polls";
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(is_error(reader->acquire(30ms), Errc::Timeout));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 25ms) << "acquire must wait for its timeout";
    // A frame that arrives while the reader sleeps wakes it.
    std::thread late([&] {
        std::this_thread::sleep_for(30ms);
        const std::byte data[1] = {std::byte{3}};
        EXPECT_TRUE(is_ok(writer->write(data)));
    });
    auto frame = reader->acquire(bound(5000ms));
    late.join();
    ASSERT_TRUE(is_ok(frame));
    EXPECT_EQ(frame->payload().size(), 1u);
}

TEST_F(Frames, ReaderStartsAtNextOrNewestFrame)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    for (std::uint8_t i = 0; i < 3; ++i) {
        const std::byte data[1] = {static_cast<std::byte>(i)};
        ASSERT_TRUE(is_ok(writer->write(data)));
    }
    ReaderOptions next_options;
    next_options.start_at = zerobuffer::StartAt::NextFrame;
    auto next = Reader::attach(name, next_options);
    ASSERT_TRUE(is_ok(next));
    ReaderOptions newest_options;
    newest_options.start_at = zerobuffer::StartAt::NewestFrame;
    auto newest = Reader::attach(name, newest_options);
    ASSERT_TRUE(is_ok(newest));

    EXPECT_TRUE(is_error(next->acquire(0ns), Errc::Timeout)) << "NextFrame must not see older frames";
    auto frame = newest->acquire(1s);
    ASSERT_TRUE(is_ok(frame));
    ASSERT_EQ(frame->payload().size(), 1u);
    EXPECT_EQ(frame->payload()[0], std::byte{2}) << "NewestFrame starts at the newest committed frame";
    frame->release();

    const std::byte data[1] = {std::byte{3}};
    ASSERT_TRUE(is_ok(writer->write(data)));
    for (Reader* reader : {&*next, &*newest}) {
        auto later = reader->acquire(1s);
        ASSERT_TRUE(is_ok(later));
        ASSERT_EQ(later->payload().size(), 1u);
        EXPECT_EQ(later->payload()[0], std::byte{3});
        EXPECT_EQ(later->frames_skipped(), 0u);
    }
}

TEST_F(Frames, ReadIntoCopiesAndATooSmallBufferConsumesTheFrame)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    std::vector<std::byte> big(1000);
    fill_pattern(big, 1);
    FrameInfo info;
    info.pts = 77;
    ASSERT_TRUE(is_ok(writer->write(big, info)));
    ASSERT_TRUE(is_ok(writer->write(big, info)));
    std::vector<std::byte> small(10);
    ASSERT_TRUE(is_ok(writer->write(std::span<const std::byte>(big).first(10))));

    std::vector<std::byte> buffer(2000);
    FrameInfo got;
    auto size = reader->read_into(buffer, 1s, &got);
    ASSERT_TRUE(is_ok(size));
    EXPECT_EQ(*size, 1000u);
    EXPECT_EQ(got.pts, 77);
    EXPECT_FALSE(pattern_mismatch(std::span<const std::byte>(buffer).first(1000), 1).has_value());

    EXPECT_TRUE(is_error(reader->read_into(small, 1s), Errc::InvalidArgument));
    auto last = reader->read_into(small, 1s);
    ASSERT_TRUE(is_ok(last)) << "the too-large frame was consumed; the next one fits";
    EXPECT_EQ(*last, 10u);
    EXPECT_TRUE(is_error(reader->read_into(buffer, 0ns), Errc::Timeout));
}

TEST_F(Frames, FramesMoveAndReleaseFromAnotherThread)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    StreamModel stream(7, 500, 50);
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(is_ok(stream.write(*writer)));
    }
    std::vector<Frame> frames;
    for (int i = 0; i < 8; ++i) {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(stream.check(*frame), "");
        Frame moved(std::move(*frame));
        EXPECT_FALSE(frame->valid()) << "a moved-from frame is empty";
        EXPECT_TRUE(moved.valid());
        frames.push_back(std::move(moved));
    }
    Frame assigned;
    EXPECT_FALSE(assigned.valid());
    assigned = std::move(frames.back());
    frames.pop_back();
    EXPECT_TRUE(assigned.valid());
    assigned.release();
    EXPECT_FALSE(assigned.valid());
    assigned.release(); // releasing twice is harmless

    std::thread releaser([&frames] {
        for (auto& frame : frames) {
            frame.release();
        }
    });
    releaser.join();
    // All space is free again: a whole-ring frame fits (while the reader waits for data, as readers do).
    auto reservation = reserve_while_readers_wait(*writer, {&*reader}, writer->max_payload_size());
    EXPECT_TRUE(is_ok(reservation));
}

TEST_F(Frames, HoldingMoreThanMaxHeldIsInvalidState)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(64 * 1024));
    ASSERT_TRUE(is_ok(writer));
    ReaderOptions options;
    options.max_held = 3;
    auto reader = Reader::attach(name, options);
    ASSERT_TRUE(is_ok(reader));
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(is_ok(writer->write({})));
    }
    std::vector<Frame> held;
    for (int i = 0; i < 3; ++i) {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        held.push_back(std::move(*frame));
    }
    EXPECT_TRUE(is_error(reader->acquire(0ns), Errc::InvalidState));
    held[1].release();
    auto fourth = reader->acquire(1s);
    ASSERT_TRUE(is_ok(fourth)) << "releasing any held frame makes room";
    EXPECT_EQ(fourth->sequence(), held[2].sequence() + 1) << "the refused acquire must not lose a frame";
}

} // namespace
