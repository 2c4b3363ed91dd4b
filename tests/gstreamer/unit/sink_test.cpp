// SPDX-License-Identifier: MIT
// zerobuffersink in a GstHarness, read back by an in-process zerobuffer::Reader: bytes, timestamps, flags,
// stream metadata, pool (in place) versus copy paths, EOS, flushes, slow readers and configuration errors.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <zerobuffer/reader.h>
#include <zerobuffer/stream_format.h>
#include <zerobuffer/writer.h>

#include "support.h"

using namespace std::chrono_literals;
using zbtest::attach;
using zbtest::BufferPtr;
using zbtest::current_format;
using zbtest::HarnessPtr;
using zbtest::next_frame;
using zbtest::payload_of;
using zbtest::push_caps;
using zbtest::RingName;
using zbtest::sink_harness;

namespace {

constexpr const char* kSmallI420 = "video/x-raw,format=I420,width=64,height=48,framerate=30/1";
constexpr std::size_t kSmallI420Size = 64 * 48 * 3 / 2;

} // namespace

TEST(Sink, WritesBytesTimestampsFlagsAndStreamFormat)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring);

    const zerobuffer::StreamFormat format = current_format(reader);
    EXPECT_EQ(format.media_type, "video/x-raw");
    EXPECT_EQ(format.codec, "raw");
    EXPECT_EQ(format.pixel_format, "I420");
    EXPECT_EQ(format.width, 64u);
    EXPECT_EQ(format.height, 48u);
    EXPECT_EQ(format.frame_size, kSmallI420Size);
    ASSERT_EQ(format.planes.size(), 3u);
    EXPECT_EQ(format.planes[0], (zerobuffer::PlaneLayout{0, 64}));
    EXPECT_EQ(format.planes[1], (zerobuffer::PlaneLayout{64 * 48, 32}));
    EXPECT_EQ(format.planes[2], (zerobuffer::PlaneLayout{64 * 48 + 32 * 24, 32}));
    EXPECT_EQ(format.framerate, (zerobuffer::Fraction{30, 1}));
    EXPECT_NE(format.caps.find("I420"), std::string::npos);

    GstBuffer* buffer = zbtest::pattern_buffer(kSmallI420Size, 3);
    GST_BUFFER_PTS(buffer) = 1000;
    GST_BUFFER_DTS(buffer) = 900;
    GST_BUFFER_DURATION(buffer) = 33'333'333;
    GST_BUFFER_OFFSET(buffer) = 7;
    GST_BUFFER_OFFSET_END(buffer) = 8;
    GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
    GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_HEADER);
    ASSERT_EQ(gst_harness_push(harness.get(), buffer), GST_FLOW_OK);

    GstBuffer* delta = zbtest::pattern_buffer(kSmallI420Size, 4);
    GST_BUFFER_FLAG_SET(delta, GST_BUFFER_FLAG_DELTA_UNIT);
    GST_BUFFER_FLAG_SET(delta, GST_BUFFER_FLAG_DROPPABLE);
    GST_BUFFER_FLAG_SET(delta, GST_BUFFER_FLAG_CORRUPTED);
    GST_BUFFER_FLAG_SET(delta, GST_BUFFER_FLAG_GAP);
    ASSERT_EQ(gst_harness_push(harness.get(), delta), GST_FLOW_OK);

    zerobuffer::Frame first = next_frame(reader);
    EXPECT_EQ(payload_of(first), zbtest::pattern_bytes(kSmallI420Size, 3));
    EXPECT_EQ(first.info().pts, 1000);
    EXPECT_EQ(first.info().dts, 900);
    EXPECT_EQ(first.info().duration, 33'333'333);
    EXPECT_EQ(first.info().offset, 7u);
    EXPECT_EQ(first.info().offset_end, 8u);
    EXPECT_EQ(first.info().flags,
              zerobuffer::kFrameKeyframe | zerobuffer::kFrameDiscontinuity | zerobuffer::kFrameHeader);

    zerobuffer::Frame second = next_frame(reader);
    EXPECT_EQ(payload_of(second), zbtest::pattern_bytes(kSmallI420Size, 4));
    EXPECT_EQ(second.info().pts, zerobuffer::kNoTimestamp);
    EXPECT_EQ(second.info().offset, std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(second.info().flags,
              zerobuffer::kFrameDroppable | zerobuffer::kFrameCorrupted | zerobuffer::kFrameGap);
}

TEST(Sink, PaddedStridesFromVideoMetaArriveIntact)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), "video/x-raw,format=I420,width=1917,height=1079,framerate=25/1");
    zerobuffer::Reader reader = attach(ring);

    // Upstream lays the frame out with 2048-byte luma rows and 1024-byte chroma rows, planes 64-byte aligned.
    const std::array<gsize, 4> offsets{0, 2048 * 1079 + 64, 2048 * 1079 + 64 + 1024 * 540 + 64, 0};
    const std::array<gint, 4> strides{2048, 1024, 1024, 0};
    const std::size_t size = offsets[2] + 1024 * 540;
    GstBuffer* buffer = zbtest::pattern_buffer(size, 9);
    gst_buffer_add_video_meta_full(buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_I420, 1917, 1079, 3,
                                   const_cast<gsize*>(offsets.data()), const_cast<gint*>(strides.data()));
    GST_BUFFER_PTS(buffer) = 40'000'000;
    ASSERT_EQ(gst_harness_push(harness.get(), buffer), GST_FLOW_OK);

    zerobuffer::Frame frame = next_frame(reader);
    ASSERT_TRUE(frame.valid());
    EXPECT_TRUE(frame.format_changed());
    EXPECT_EQ(payload_of(frame), zbtest::pattern_bytes(size, 9));
    const zerobuffer::StreamFormat format = current_format(reader);
    ASSERT_EQ(format.planes.size(), 3u);
    for (std::size_t plane = 0; plane < 3; ++plane) {
        EXPECT_EQ(format.planes[plane].offset, offsets[plane]) << "plane " << plane;
        EXPECT_EQ(format.planes[plane].stride, static_cast<std::uint32_t>(strides[plane])) << "plane " << plane;
    }
    EXPECT_EQ(format.frame_size, size);
    EXPECT_EQ(format.width, 1917u);
    EXPECT_EQ(format.height, 1079u);
}

TEST(Sink, PoolBuffersAreFilledInPlaceOthersAreCopied)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring);

    // gst_harness_create_buffer() takes the buffer from the pool the sink proposed in the ALLOCATION query.
    GstBuffer* pooled = gst_harness_create_buffer(harness.get(), kSmallI420Size);
    ASSERT_NE(pooled->pool, nullptr) << "the sink proposed no pool";
    GstMapInfo map;
    ASSERT_TRUE(gst_buffer_map(pooled, &map, GST_MAP_WRITE));
    zbtest::fill_pattern({reinterpret_cast<std::byte*>(map.data), map.size}, 11);
    gst_buffer_unmap(pooled, &map);
    GST_BUFFER_PTS(pooled) = 5;
    ASSERT_EQ(gst_harness_push(harness.get(), pooled), GST_FLOW_OK);

    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 12)), GST_FLOW_OK);

    // Two memories: never a ring reservation, always copied once.
    GstBuffer* split = zbtest::pattern_buffer(kSmallI420Size / 2, 0);
    GstBuffer* tail = zbtest::pattern_buffer(kSmallI420Size - kSmallI420Size / 2, 0);
    split = gst_buffer_append(split, tail);
    ASSERT_EQ(gst_buffer_n_memory(split), 2u);
    const std::vector<std::byte> split_bytes = zbtest::buffer_bytes(split);
    ASSERT_EQ(gst_harness_push(harness.get(), split), GST_FLOW_OK);

    zerobuffer::Frame first = next_frame(reader);
    EXPECT_EQ(payload_of(first), zbtest::pattern_bytes(kSmallI420Size, 11));
    EXPECT_EQ(first.info().pts, 5);
    EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kSmallI420Size, 12));
    EXPECT_EQ(payload_of(next_frame(reader)), split_bytes);

    const zerobuffer::WriterCounters counters = zbtest::writer_counters(ring.str());
    EXPECT_EQ(counters.frames_written, 3u);
    EXPECT_EQ(counters.frames_in_place, 1u);
    EXPECT_EQ(counters.frames_copied, 2u);
}

TEST(Sink, DroppedAndReorderedPoolBuffersNeitherBlockNorCorrupt)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"buffers", "8"}});
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring);

    for (int round = 0; round < 20; ++round) {
        GstBuffer* a = gst_harness_create_buffer(harness.get(), kSmallI420Size);
        GstBuffer* b = gst_harness_create_buffer(harness.get(), kSmallI420Size);
        GstBuffer* c = gst_harness_create_buffer(harness.get(), kSmallI420Size);
        for (auto [buffer, seed] : {std::pair{a, 1}, std::pair{b, 2}, std::pair{c, 3}}) {
            GstMapInfo map;
            ASSERT_TRUE(gst_buffer_map(buffer, &map, GST_MAP_WRITE));
            zbtest::fill_pattern({reinterpret_cast<std::byte*>(map.data), map.size}, static_cast<std::uint8_t>(seed + round));
            gst_buffer_unmap(buffer, &map);
        }
        gst_buffer_unref(b); // Dropped upstream: its reservation is aborted.
        ASSERT_EQ(gst_harness_push(harness.get(), c), GST_FLOW_OK); // Rendered before an older reservation.
        ASSERT_EQ(gst_harness_push(harness.get(), a), GST_FLOW_OK);
        // The ring publishes in commit order: c, then a.
        EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kSmallI420Size, static_cast<std::uint8_t>(3 + round)));
        EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kSmallI420Size, static_cast<std::uint8_t>(1 + round)));
    }
    const zerobuffer::WriterCounters counters = zbtest::writer_counters(ring.str());
    EXPECT_EQ(counters.frames_in_place, 40u);
    EXPECT_EQ(counters.frames_aborted, 20u);
    EXPECT_EQ(counters.frames_copied, 0u);
}

// Upstream keeping more buffers than its share of the ring (a queue in front of the sink, a decoder's references):
// the next ones come in ordinary memory at once, without waiting, and every frame arrives in commit order.
TEST(Sink, UpstreamKeepingMoreThanItsShareGetsOrdinaryMemoryAtOnce)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"buffers", "8"}});
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring);

    // buffers=8: the pool lends at most 3 ring buffers at once (half the ring, less one for the copy path).
    std::vector<GstBuffer*> open;
    for (int i = 0; i < 6; ++i)
        open.push_back(gst_harness_create_buffer(harness.get(), kSmallI420Size));
    ASSERT_NE(open[0]->pool, nullptr) << "the sink proposed no pool";
    for (std::size_t i = 0; i < open.size(); ++i) {
        GstMapInfo map;
        ASSERT_TRUE(gst_buffer_map(open[i], &map, GST_MAP_WRITE));
        zbtest::fill_pattern({reinterpret_cast<std::byte*>(map.data), map.size}, static_cast<std::uint8_t>(i));
        gst_buffer_unmap(open[i], &map);
    }
    for (std::size_t i = open.size(); i-- > 0;) { // Newest first: commit order decides.
        ASSERT_EQ(gst_harness_push(harness.get(), open[i]), GST_FLOW_OK);
        EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kSmallI420Size, static_cast<std::uint8_t>(i)));
    }
    const zerobuffer::WriterCounters counters = zbtest::writer_counters(ring.str());
    EXPECT_EQ(counters.frames_in_place, 3u);
    EXPECT_EQ(counters.frames_copied, 3u);
    EXPECT_EQ(counters.waits, 0u);
}

TEST(Sink, EndOfStreamAndFlushReachTheRing)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring);

    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 1)), GST_FLOW_OK);
    EXPECT_EQ(next_frame(reader).info().flags & zerobuffer::kFrameDiscontinuity, 0u);

    ASSERT_TRUE(gst_harness_push_event(harness.get(), gst_event_new_flush_start()));
    ASSERT_TRUE(gst_harness_push_event(harness.get(), gst_event_new_flush_stop(TRUE)));
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    ASSERT_TRUE(gst_harness_push_event(harness.get(), gst_event_new_segment(&segment)));
    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 2)), GST_FLOW_OK);
    EXPECT_NE(next_frame(reader).info().flags & zerobuffer::kFrameDiscontinuity, 0u) << "no DISCONT after a flush";

    ASSERT_TRUE(gst_harness_push_event(harness.get(), gst_event_new_eos()));
    zerobuffer::Frame eos = next_frame(reader);
    EXPECT_EQ(eos.info().flags & zerobuffer::kFrameEndOfStream, zerobuffer::kFrameEndOfStream);
    EXPECT_TRUE(eos.payload().empty());
}

TEST(Sink, CapsChangePublishesNewGeneration)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"size", "4194304"}});
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring);
    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 1)), GST_FLOW_OK);
    EXPECT_EQ(next_frame(reader).payload().size(), kSmallI420Size);

    gst_harness_set_src_caps_str(harness.get(), "video/x-raw,format=RGBA,width=32,height=16,framerate=30/1");
    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(32 * 16 * 4, 2)), GST_FLOW_OK);
    zerobuffer::Frame frame = next_frame(reader);
    EXPECT_TRUE(frame.format_changed());
    EXPECT_EQ(payload_of(frame), zbtest::pattern_bytes(32 * 16 * 4, 2));
    const zerobuffer::StreamFormat format = current_format(reader);
    EXPECT_EQ(format.pixel_format, "RGBA");
    EXPECT_EQ(format.width, 32u);
    ASSERT_EQ(format.planes.size(), 1u);
    EXPECT_EQ(format.planes[0].stride, 128u);
}

TEST(Sink, EncodedAndAudioCapsAreDescribed)
{
    {
        RingName ring;
        HarnessPtr harness = sink_harness(ring);
        gst_harness_set_src_caps_str(harness.get(), "video/x-h264,stream-format=byte-stream,alignment=au,width=320,"
                                                    "height=240,framerate=30/1,profile=high");
        zerobuffer::Reader reader = attach(ring);
        const zerobuffer::StreamFormat format = current_format(reader);
        EXPECT_EQ(format.media_type, "video/x-h264");
        EXPECT_EQ(format.codec, "h264");
        EXPECT_EQ(format.width, 320u);
        EXPECT_EQ(format.framerate, (zerobuffer::Fraction{30, 1}));
        EXPECT_NE(format.extra_json.find(R"("stream_format":"byte-stream")"), std::string::npos) << format.extra_json;
        EXPECT_NE(format.extra_json.find(R"("alignment":"au")"), std::string::npos) << format.extra_json;
        GstBuffer* access_unit = zbtest::pattern_buffer(1234, 5);
        GST_BUFFER_FLAG_SET(access_unit, GST_BUFFER_FLAG_DELTA_UNIT);
        ASSERT_EQ(gst_harness_push(harness.get(), access_unit), GST_FLOW_OK);
        zerobuffer::Frame frame = next_frame(reader);
        EXPECT_EQ(payload_of(frame), zbtest::pattern_bytes(1234, 5));
        EXPECT_EQ(frame.info().flags & zerobuffer::kFrameKeyframe, 0u);
    }
    {
        RingName ring;
        HarnessPtr harness = sink_harness(ring);
        gst_harness_set_src_caps_str(harness.get(),
                                     "audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved");
        zerobuffer::Reader reader = attach(ring);
        const zerobuffer::StreamFormat format = current_format(reader);
        EXPECT_EQ(format.media_type, "audio/x-raw");
        EXPECT_EQ(format.sample_rate, 48000u);
        EXPECT_EQ(format.channels, 2u);
        EXPECT_EQ(format.sample_format, "S16LE");
        EXPECT_EQ(format.extra_json, R"({"layout":"interleaved"})");
    }
}

TEST(Sink, StuckLosslessReaderDropsFramesWithWarningNotError)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"buffers", "2"}, {"reader-timeout", "50"}});
    zbtest::BusPtr bus(gst_bus_new());
    gst_element_set_bus(harness->element, bus.get());
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring); // Lossless, and never reads.

    for (int i = 0; i < 6; ++i)
        ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 1)), GST_FLOW_OK);
    const std::string warning = zbtest::wait_message_text(bus.get(), GST_MESSAGE_WARNING, 1s);
    EXPECT_NE(warning.find("frame dropped"), std::string::npos) << warning;
    EXPECT_NE(warning.find(ring.str()), std::string::npos) << warning;
    EXPECT_EQ(zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 0ms), "");
    gst_element_set_bus(harness->element, nullptr);
}

TEST(Sink, PoolWithoutRoomFallsBackAndDropsWithoutBlocking)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"buffers", "2"}, {"reader-timeout", "50"}});
    zbtest::BusPtr bus(gst_bus_new());
    gst_element_set_bus(harness->element, bus.get());
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring); // Lossless, and never reads: the ring fills after two frames.

    for (int i = 0; i < 6; ++i) {
        GstBuffer* buffer = gst_harness_create_buffer(harness.get(), kSmallI420Size); // Never blocks for long.
        ASSERT_EQ(gst_harness_push(harness.get(), buffer), GST_FLOW_OK);
    }
    const std::string warning = zbtest::wait_message_text(bus.get(), GST_MESSAGE_WARNING, 1s);
    EXPECT_NE(warning.find("frame dropped"), std::string::npos) << warning;
    const zerobuffer::WriterCounters counters = zbtest::writer_counters(ring.str());
    EXPECT_GE(counters.frames_in_place, 1u);
    EXPECT_LT(counters.frames_written, 6u);
    EXPECT_EQ(counters.frames_copied, 0u) << "a pool buffer that found no room must be dropped, not copied";

    // Once the reader catches up, pool frames flow again.
    while (reader.acquire(0ms)) {
    }
    GstBuffer* buffer = gst_harness_create_buffer(harness.get(), kSmallI420Size);
    GstMapInfo map;
    ASSERT_TRUE(gst_buffer_map(buffer, &map, GST_MAP_WRITE));
    zbtest::fill_pattern({reinterpret_cast<std::byte*>(map.data), map.size}, 77);
    gst_buffer_unmap(buffer, &map);
    ASSERT_EQ(gst_harness_push(harness.get(), buffer), GST_FLOW_OK);
    zerobuffer::Frame frame = next_frame(reader);
    EXPECT_EQ(payload_of(frame), zbtest::pattern_bytes(kSmallI420Size, 77));
    EXPECT_NE(frame.info().flags & zerobuffer::kFrameDiscontinuity, 0u) << "frames were dropped before this one";
    gst_element_set_bus(harness->element, nullptr);
}

TEST(Sink, WaitForReaderHoldsTheFirstFrame)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"wait-for-reader", "true"}});
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    std::thread pusher([&] { EXPECT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 6)), GST_FLOW_OK); });
    std::this_thread::sleep_for(100ms);
    // Attached after the push started: a NextFrame reader still sees the frame, because the sink waited.
    zerobuffer::Reader reader = attach(ring);
    pusher.join();
    EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kSmallI420Size, 6));
}

TEST(Sink, ConfigurationErrorsNameTheProblem)
{
    // No ring name.
    {
        zbtest::ElementPtr sink(GST_ELEMENT(gst_object_ref_sink(gst_element_factory_make("zerobuffersink", nullptr))));
        zbtest::BusPtr bus(gst_bus_new());
        gst_element_set_bus(sink.get(), bus.get());
        EXPECT_EQ(gst_element_set_state(sink.get(), GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
        const std::string error = zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 1s);
        EXPECT_NE(error.find("set the ring property"), std::string::npos) << error;
        gst_element_set_state(sink.get(), GST_STATE_NULL);
    }
    // A ring that already has a live writer.
    {
        RingName ring;
        auto owner = zerobuffer::Writer::create(ring.str());
        ASSERT_TRUE(owner.has_value());
        HarnessPtr harness = sink_harness(ring);
        zbtest::BusPtr bus(gst_bus_new());
        gst_element_set_bus(harness->element, bus.get());
        gst_pad_push_event(harness->srcpad, gst_event_new_stream_start("s"));
        (void)push_caps(harness.get(), kSmallI420); // Sticky: accepted by the pad even when set_caps fails.
        const std::string error = zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 1s);
        EXPECT_NE(error.find("already has a live writer"), std::string::npos) << error;
        EXPECT_NE(error.find(ring.str()), std::string::npos) << error;
        gst_element_set_bus(harness->element, nullptr);
    }
    // A ring name the core refuses.
    {
        zbtest::ElementPtr sink(GST_ELEMENT(gst_object_ref_sink(gst_element_factory_make("zerobuffersink", nullptr))));
        g_object_set(sink.get(), "ring", "bad/name", nullptr);
        HarnessPtr harness(gst_harness_new_with_element(sink.get(), "sink", nullptr));
        zbtest::BusPtr bus(gst_bus_new());
        gst_element_set_bus(harness->element, bus.get());
        gst_pad_push_event(harness->srcpad, gst_event_new_stream_start("s"));
        (void)push_caps(harness.get(), kSmallI420); // Sticky: accepted by the pad even when set_caps fails.
        const std::string error = zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 1s);
        EXPECT_NE(error.find("bad/name"), std::string::npos) << error;
        gst_element_set_bus(harness->element, nullptr);
    }
    // A ring larger than /dev/shm can hold.
    {
        RingName ring;
        HarnessPtr harness = sink_harness(ring, {{"size", "1099511627776"}});
        zbtest::BusPtr bus(gst_bus_new());
        gst_element_set_bus(harness->element, bus.get());
        (void)push_caps(harness.get(), kSmallI420);
        const std::string error = zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 1s);
        EXPECT_NE(error.find("could not create ring '" + ring.str() + "'"), std::string::npos) << error;
        EXPECT_NE(error.find("/dev/shm"), std::string::npos) << error;
        gst_element_set_bus(harness->element, nullptr);
    }
    // A raw video buffer too small for its caps.
    {
        RingName ring;
        HarnessPtr harness = sink_harness(ring);
        zbtest::BusPtr bus(gst_bus_new());
        gst_element_set_bus(harness->element, bus.get());
        gst_harness_set_src_caps_str(harness.get(), kSmallI420);
        EXPECT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size - 100, 1)), GST_FLOW_ERROR);
        const std::string error = zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 1s);
        EXPECT_NE(error.find("does not hold a frame"), std::string::npos) << error;
        gst_element_set_bus(harness->element, nullptr);
    }
    // Out-of-range and unknown enum values are refused by gst-launch syntax.
    GError* parse_error = nullptr;
    GstElement* pipeline = gst_parse_launch("fakesrc ! zerobuffersink ring=x checksum=sometimes", &parse_error);
    EXPECT_NE(parse_error, nullptr);
    if (parse_error != nullptr) {
        EXPECT_NE(std::string(parse_error->message).find("checksum"), std::string::npos) << parse_error->message;
    }
    g_clear_error(&parse_error);
    if (pipeline != nullptr)
        gst_object_unref(pipeline);
}

TEST(Sink, BiggerFramesRecreateADerivedRingOrNameTheSizeNeeded)
{
    {
        RingName ring;
        HarnessPtr harness = sink_harness(ring, {{"buffers", "2"}});
        gst_harness_set_src_caps_str(harness.get(), kSmallI420);
        {
            zerobuffer::Reader old_reader = attach(ring);
            // A pool buffer of the old ring stays referenced as the sink's last-sample: it must not keep the
            // old ring from being replaced.
            GstBuffer* pooled = gst_harness_create_buffer(harness.get(), kSmallI420Size);
            ASSERT_NE(pooled->pool, nullptr);
            ASSERT_EQ(gst_harness_push(harness.get(), pooled), GST_FLOW_OK);
            EXPECT_EQ(next_frame(old_reader).payload().size(), kSmallI420Size);
            gst_harness_set_src_caps_str(harness.get(), "video/x-raw,format=RGBA,width=640,height=480,framerate=30/1");
            // The old ring is gone: its reader drains and learns that its writer went away.
            auto gone = old_reader.acquire(2s);
            ASSERT_FALSE(gone.has_value());
            EXPECT_EQ(gone.error().code, zerobuffer::Errc::WriterGone);
        }
        zerobuffer::Reader reader = attach(ring);
        EXPECT_EQ(current_format(reader).pixel_format, "RGBA");
        ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(640 * 480 * 4, 2)), GST_FLOW_OK);
        EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(640 * 480 * 4, 2));
    }
    {
        RingName ring;
        HarnessPtr harness = sink_harness(ring, {{"size", "65536"}});
        zbtest::BusPtr bus(gst_bus_new());
        gst_element_set_bus(harness->element, bus.get());
        gst_harness_set_src_caps_str(harness.get(), kSmallI420);
        (void)push_caps(harness.get(), "video/x-raw,format=RGBA,width=640,height=480,framerate=30/1");
        const std::string error = zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 1s);
        EXPECT_NE(error.find("set size="), std::string::npos) << error;
        EXPECT_NE(error.find(ring.str()), std::string::npos) << error;
        gst_element_set_bus(harness->element, nullptr);
    }
}

TEST(Sink, PoolBuffersUpstreamKeepsAfterPushingStayIntactWhileLaterFramesFlow)
{
    // A decoder keeps its reference frames after pushing them: the ring must neither overwrite them nor hold later
    // frames back. Ring of 8 frames: 2 kept buffers stay within upstream's share (3), 200 frames flow past them in
    // place; then 4 more kept ones go beyond it, and later frames come in ordinary memory, still without a stall.
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"buffers", "8"}});
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring);
    std::vector<std::pair<BufferPtr, int>> kept;
    const auto push = [&](int i, bool keep) {
        GstBuffer* buffer = gst_harness_create_buffer(harness.get(), kSmallI420Size);
        GstMapInfo map;
        ASSERT_TRUE(gst_buffer_map(buffer, &map, GST_MAP_WRITE));
        zbtest::fill_pattern({reinterpret_cast<std::byte*>(map.data), map.size}, static_cast<std::uint8_t>(i));
        gst_buffer_unmap(buffer, &map);
        if (keep)
            kept.emplace_back(gst_buffer_ref(buffer), i); // Upstream keeps a reference.
        ASSERT_EQ(gst_harness_push(harness.get(), buffer), GST_FLOW_OK) << "frame " << i;
        EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kSmallI420Size, static_cast<std::uint8_t>(i)))
            << "frame " << i;
        for (const auto& [buffer_kept, seed] : kept)
            ASSERT_EQ(zbtest::buffer_bytes(buffer_kept.get()), zbtest::pattern_bytes(kSmallI420Size, static_cast<std::uint8_t>(seed)))
                << "kept buffer " << seed << " changed after frame " << i;
    };
    for (int i = 0; i < 200; ++i)
        ASSERT_NO_FATAL_FAILURE(push(i, i % 100 == 0));
    zerobuffer::WriterCounters counters = zbtest::writer_counters(ring.str());
    EXPECT_EQ(counters.frames_in_place, 200u) << "every frame rendered in the ring";
    EXPECT_EQ(counters.frames_retained, 200u);
    EXPECT_EQ(counters.waits, 0u) << "kept buffers held nothing back";
    for (int i = 200; i < 300; ++i)
        ASSERT_NO_FATAL_FAILURE(push(i, i % 25 == 0));
    counters = zbtest::writer_counters(ring.str());
    EXPECT_GT(counters.frames_copied, 0u) << "beyond its share upstream renders into ordinary memory";
    EXPECT_EQ(counters.frames_written, 300u);
    EXPECT_EQ(counters.waits, 0u);
    kept.clear(); // Their memory goes back to the ring now.
    for (int i = 300; i < 310; ++i)
        ASSERT_NO_FATAL_FAILURE(push(i, false));
    EXPECT_EQ(zbtest::writer_counters(ring.str()).frames_in_place, counters.frames_in_place + 10);
}
