// SPDX-License-Identifier: MIT
// Unit tests of the writer and reader counters kept in the segment, and of their view through inspect_ring.
#include <unistd.h>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::FrameInfo;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;

constexpr std::size_t kRing = 16384;

class Counters : public RingTest {};

TEST_F(Counters, WriterCountsEveryKindOfFrame)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(256 * 1024));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    std::uint64_t bytes = 0;
    for (std::size_t size : {0u, 1u, 100u, 5000u}) { // copied in
        std::vector<std::byte> data(size);
        ASSERT_TRUE(is_ok(writer->write(data)));
        bytes += size;
    }
    for (std::size_t size : {7u, 64u, 3000u}) { // in place
        auto reservation = writer->reserve(size, 16);
        ASSERT_TRUE(is_ok(reservation));
        ASSERT_TRUE(is_ok(writer->commit(*reservation, {})));
        bytes += size;
    }
    {
        auto reservation = writer->reserve(1000, 16); // in place, shrunk at commit
        ASSERT_TRUE(is_ok(reservation));
        ASSERT_TRUE(is_ok(writer->commit(*reservation, {}, 10, 0)));
        bytes += 10;
    }
    {
        auto reservation = writer->reserve(100); // filled by a copy from elsewhere, counted as copied
        ASSERT_TRUE(is_ok(reservation));
        reservation->mark_copied();
        ASSERT_TRUE(is_ok(writer->commit(*reservation, {})));
        bytes += 100;
    }
    for (int i = 0; i < 2; ++i) {
        auto reservation = writer->reserve(50);
        ASSERT_TRUE(is_ok(reservation));
        reservation->abort();
    }
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(is_ok(writer->set_stream_metadata(R"({"media_type":"application/octet-stream"})")));
    }
    const auto c = writer->counters();
    EXPECT_EQ(c.frames_written, 9u);
    EXPECT_EQ(c.bytes_written, bytes);
    EXPECT_EQ(c.frames_copied, 5u);
    EXPECT_EQ(c.frames_in_place, 4u);
    EXPECT_EQ(c.frames_aborted, 2u);
    EXPECT_EQ(c.format_changes, 3u);
    EXPECT_EQ(c.waits, 0u);
    EXPECT_EQ(c.timeouts, 0u);
    EXPECT_EQ(c.wraps, 0u);
    EXPECT_EQ(c.readers_reclaimed, 0u);

    std::uint64_t read_bytes = 0;
    for (int i = 0; i < 9; ++i) {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        read_bytes += frame->payload().size();
    }
    EXPECT_EQ(read_bytes, bytes);
    const auto r = reader->counters();
    EXPECT_EQ(r.frames_read, 9u);
    EXPECT_EQ(r.bytes_read, bytes);
    EXPECT_EQ(r.frames_skipped, 0u);
    EXPECT_EQ(r.sequence_gaps, 0u);
    EXPECT_EQ(r.checksum_failures, 0u);
}

TEST_F(Counters, ReaderCountsWaitsAndTimeouts)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    EXPECT_TRUE(is_error(reader->acquire(20ms), Errc::Timeout));
    EXPECT_EQ(reader->counters().timeouts, 1u);
    EXPECT_GE(reader->counters().waits, 1u);
    EXPECT_TRUE(is_error(reader->acquire(20ms), Errc::Timeout));
    EXPECT_EQ(reader->counters().timeouts, 2u);
    const auto waits = reader->counters().waits;
    ASSERT_TRUE(is_ok(writer->write({})));
    auto frame = reader->acquire(1s);
    ASSERT_TRUE(is_ok(frame));
    EXPECT_EQ(reader->counters().waits, waits) << "a frame that is already there needs no wait";
    EXPECT_EQ(reader->counters().timeouts, 2u);
}

TEST_F(Counters, WrapsAreCountedOncePerLap)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    // Frames of 3072 bytes: five per lap (15360 bytes), then the sixth must wrap. The write position never
    // lands exactly on the ring end, so every lap has exactly one wrap.
    const std::size_t payload = 3072;
    ASSERT_EQ(extent_size(payload), 3072u);
    const std::vector<std::byte> data(payload);
    for (int laps = 0; laps < 10; ++laps) {
        for (int i = 0; i < 5; ++i) {
            ASSERT_TRUE(is_ok(writer->write(data)));
        }
        EXPECT_EQ(writer->counters().wraps, static_cast<std::uint64_t>(laps)) << "after lap " << laps;
    }
    ASSERT_TRUE(is_ok(writer->write(data)));
    EXPECT_EQ(writer->counters().wraps, 10u);
}

TEST_F(Counters, WriterWaitsAndTimeoutsAreCountedOncePerCall)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(kRing));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::vector<std::byte> quarter(kRing / 4);
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(is_ok(writer->write(quarter)));
    }
    EXPECT_EQ(writer->counters().waits, 0u);
    EXPECT_TRUE(is_error(writer->reserve(quarter.size(), 0, 30ms), Errc::Timeout));
    EXPECT_EQ(writer->counters().waits, 1u);
    EXPECT_EQ(writer->counters().timeouts, 1u);
    EXPECT_TRUE(is_error(writer->reserve(quarter.size(), 0, 30ms), Errc::Timeout));
    EXPECT_EQ(writer->counters().waits, 2u);
    EXPECT_EQ(writer->counters().timeouts, 2u);
    {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
    }
    EXPECT_TRUE(is_ok(writer->reserve(quarter.size(), 0, 0ns)));
    EXPECT_EQ(writer->counters().timeouts, 2u);
}

TEST_F(Counters, InspectRingShowsTheSameState)
{
    const auto name = ring_name();
    auto options = small_ring(kRing);
    options.max_readers = 3;
    auto writer = Writer::create(name, options);
    ASSERT_TRUE(is_ok(writer));
    ReaderOptions latest;
    latest.policy = zerobuffer::ReaderPolicy::Latest;
    auto reader = Reader::attach(name, latest);
    ASSERT_TRUE(is_ok(reader));
    ASSERT_TRUE(is_ok(writer->set_stream_metadata(R"({"media_type":"video/x-raw"})")));
    for (int i = 0; i < 5; ++i) {
        const std::byte data[10] = {};
        ASSERT_TRUE(is_ok(writer->write(data)));
    }
    {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
    }
    auto snapshot = zerobuffer::inspect_ring(name);
    ASSERT_TRUE(is_ok(snapshot));
    EXPECT_EQ(snapshot->name, name);
    EXPECT_EQ(snapshot->shm_path, shm_path(name));
    EXPECT_EQ(snapshot->protocol_version, zerobuffer::kProtocolVersion);
    EXPECT_EQ(snapshot->payload_capacity, kRing);
    EXPECT_EQ(snapshot->max_readers, 3u);
    EXPECT_EQ(snapshot->writer_pid, getpid());
    EXPECT_TRUE(snapshot->writer_alive);
    EXPECT_FALSE(snapshot->writer_closed);
    EXPECT_EQ(snapshot->writer.frames_written, 5u);
    EXPECT_EQ(snapshot->writer.format_changes, 1u);
    EXPECT_EQ(snapshot->stream_metadata, R"({"media_type":"video/x-raw"})");
    ASSERT_EQ(snapshot->readers.size(), 1u);
    EXPECT_EQ(snapshot->readers[0].pid, getpid());
    EXPECT_TRUE(snapshot->readers[0].alive);
    EXPECT_EQ(snapshot->readers[0].policy, zerobuffer::ReaderPolicy::Latest);
    EXPECT_EQ(snapshot->readers[0].counters.frames_read, reader->counters().frames_read);
    auto names = zerobuffer::list_rings();
    ASSERT_TRUE(is_ok(names));
    EXPECT_NE(std::find(names->begin(), names->end(), name), names->end());
}

} // namespace
