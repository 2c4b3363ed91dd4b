// SPDX-License-Identifier: MIT
// zerobuffersink renegotiating: the ring sized from the current caps (size=0) or kept at an explicit size with a
// warning, a refused renegotiation leaving the published format in force, and no pool for frames of 4 GiB or more.
#include <chrono>
#include <string>

#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <zerobuffer/reader.h>
#include <zerobuffer/stream_format.h>

#include "support.h"

using namespace std::chrono_literals;
using zbtest::attach;
using zbtest::current_format;
using zbtest::HarnessPtr;
using zbtest::next_frame;
using zbtest::payload_of;
using zbtest::push_caps;
using zbtest::RingName;
using zbtest::sink_harness;

namespace {

constexpr const char* kQvgaI420 = "video/x-raw,format=I420,width=320,height=240,framerate=25/1";
constexpr std::size_t kQvgaI420Size = 320 * 240 * 3 / 2;
constexpr const char* kVgaI420 = "video/x-raw,format=I420,width=640,height=480,framerate=25/1";
constexpr std::size_t kVgaI420Size = 640 * 480 * 3 / 2;
// What the sink sizes a ring by: each frame plus its record overhead (docs/gstreamer.md, size).
constexpr std::size_t kRecordOverhead = 256;

} // namespace

// The issue-17 stall: frames that grow but still fit (a ring of 8 QVGA frames holds 2 VGA ones) must get a ring of
// `buffers` of them, as the first caps did, or a reader that keeps one frame stops the stream.
TEST(SinkCaps, DerivedRingIsResizedWhenBiggerFramesWouldLeaveFewerThanBuffers)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"reader-timeout", "50"}});
    zbtest::BusPtr bus(gst_bus_new());
    gst_element_set_bus(harness->element, bus.get());
    gst_harness_set_src_caps_str(harness.get(), kQvgaI420);
    {
        zerobuffer::Reader old_reader = attach(ring);
        ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kQvgaI420Size, 1)), GST_FLOW_OK);
        EXPECT_EQ(payload_of(next_frame(old_reader)), zbtest::pattern_bytes(kQvgaI420Size, 1));
        gst_harness_set_src_caps_str(harness.get(), kVgaI420);
        auto gone = old_reader.acquire(2s);
        ASSERT_FALSE(gone.has_value()) << "the ring was kept although it holds only 2 of the new frames";
        EXPECT_EQ(gone.error().code, zerobuffer::Errc::WriterGone);
    }
    zerobuffer::Reader reader = attach(ring); // Lossless and not reading yet: the writer must find room for 8.
    EXPECT_EQ(current_format(reader).width, 640u);
    auto snapshot = zerobuffer::inspect_ring(ring.str());
    ASSERT_TRUE(snapshot.has_value());
    EXPECT_GE(snapshot->payload_capacity, 8 * (kVgaI420Size + kRecordOverhead));
    for (std::uint8_t i = 0; i < 8; ++i)
        ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kVgaI420Size, i)), GST_FLOW_OK);
    EXPECT_EQ(zbtest::wait_message_text(bus.get(), GST_MESSAGE_WARNING, 0ms), "") << "a frame was dropped";
    for (std::uint8_t i = 0; i < 8; ++i)
        EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kVgaI420Size, i)) << "frame " << int{i};
    EXPECT_EQ(zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 0ms), "");
    gst_element_set_bus(harness->element, nullptr);
}

// Frames that shrink keep the ring (it holds more of them) and its readers.
TEST(SinkCaps, DerivedRingIsKeptWhenItHoldsEnoughOfTheNewFrames)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), kVgaI420);
    zerobuffer::Reader reader = attach(ring);
    gst_harness_set_src_caps_str(harness.get(), kQvgaI420);
    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kQvgaI420Size, 5)), GST_FLOW_OK);
    zerobuffer::Frame frame = next_frame(reader);
    EXPECT_EQ(payload_of(frame), zbtest::pattern_bytes(kQvgaI420Size, 5));
    EXPECT_EQ(current_format(reader).width, 320u);
}

// Upstream still holding a pool buffer of the ring (a queue) keeps the old Writer and its name: frames that fit go
// on in that ring, with a warning naming the size that would never need to grow.
TEST(SinkCaps, RingUpstreamStillHoldsIsKeptWithAWarningWhenTheFramesFit)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"buffers", "8"}});
    zbtest::BusPtr bus(gst_bus_new());
    gst_element_set_bus(harness->element, bus.get());
    gst_harness_set_src_caps_str(harness.get(), kQvgaI420);
    zerobuffer::Reader reader = attach(ring);
    GstBuffer* held = gst_harness_create_buffer(harness.get(), kQvgaI420Size);
    ASSERT_NE(held->pool, nullptr) << "the sink proposed no pool";

    gst_harness_set_src_caps_str(harness.get(), kVgaI420);
    const std::string warning = zbtest::wait_message_text(bus.get(), GST_MESSAGE_WARNING, 1s);
    EXPECT_NE(warning.find("ring '" + ring.str() + "' holds only 2 of the new"), std::string::npos) << warning;
    EXPECT_NE(warning.find("cannot grow while upstream holds buffers of it"), std::string::npos) << warning;
    EXPECT_NE(warning.find("set size=" + std::to_string(8 * (kVgaI420Size + kRecordOverhead))), std::string::npos)
        << warning;
    gst_buffer_unref(held); // Never pushed: its reservation is aborted.
    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kVgaI420Size, 9)), GST_FLOW_OK);
    zerobuffer::Frame frame = next_frame(reader); // The same ring, the same reader.
    EXPECT_TRUE(frame.format_changed());
    EXPECT_EQ(payload_of(frame), zbtest::pattern_bytes(kVgaI420Size, 9));
    EXPECT_EQ(zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 0ms), "");
    gst_element_set_bus(harness->element, nullptr);
}

// An explicit size is the user's: kept across caps changes, with a warning when it holds fewer than `buffers`
// frames, naming the size that would.
TEST(SinkCaps, ExplicitSizeIsKeptWithAWarningNamingTheSizeThatHoldsBuffersFrames)
{
    RingName ring;
    constexpr std::size_t kSize = 1'000'000; // 8 QVGA frames, 2 VGA ones
    HarnessPtr harness = sink_harness(ring, {{"size", "1000000"}, {"buffers", "8"}});
    zbtest::BusPtr bus(gst_bus_new());
    gst_element_set_bus(harness->element, bus.get());
    gst_harness_set_src_caps_str(harness.get(), kQvgaI420);
    EXPECT_EQ(zbtest::wait_message_text(bus.get(), GST_MESSAGE_WARNING, 0ms), "") << "8 frames fit: no warning";
    zerobuffer::Reader reader = attach(ring);

    gst_harness_set_src_caps_str(harness.get(), kVgaI420);
    const std::string warning = zbtest::wait_message_text(bus.get(), GST_MESSAGE_WARNING, 1s);
    EXPECT_NE(warning.find("ring '" + ring.str() + "' of size=" + std::to_string(kSize) + " holds only 2 frames"),
              std::string::npos)
        << warning;
    EXPECT_NE(warning.find("fewer than buffers=8"), std::string::npos) << warning;
    EXPECT_NE(warning.find("set size=" + std::to_string(8 * (kVgaI420Size + kRecordOverhead))), std::string::npos)
        << warning;
    // The same ring, the same reader.
    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kVgaI420Size, 7)), GST_FLOW_OK);
    zerobuffer::Frame frame = next_frame(reader);
    EXPECT_TRUE(frame.format_changed());
    EXPECT_EQ(payload_of(frame), zbtest::pattern_bytes(kVgaI420Size, 7));
    EXPECT_EQ(zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 0ms), "");
    gst_element_set_bus(harness->element, nullptr);
}

// set_caps refuses caps whose frames an explicit size cannot hold. A buffer that still reaches render afterwards
// (pushed straight into the sink pad) belongs to the format the readers were told about, and is written as such.
TEST(SinkCaps, RefusedCapsLeaveThePublishedFormatInForce)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"size", "1000000"}});
    zbtest::BusPtr bus(gst_bus_new());
    gst_element_set_bus(harness->element, bus.get());
    gst_harness_set_src_caps_str(harness.get(), kQvgaI420);
    zerobuffer::Reader reader = attach(ring);

    // Sticky: the pad takes the event even when set_caps refuses it.
    (void)push_caps(harness.get(), "video/x-raw,format=RGBA,width=1920,height=1080,framerate=25/1");
    const std::string error = zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 1s);
    EXPECT_NE(error.find("cannot hold the new 8294400-byte frames"), std::string::npos) << error;

    GstPad* sink_pad = gst_element_get_static_pad(harness->element, "sink");
    EXPECT_EQ(gst_pad_chain(sink_pad, zbtest::pattern_buffer(kQvgaI420Size, 3)), GST_FLOW_OK);
    gst_object_unref(sink_pad);
    zerobuffer::Frame frame = next_frame(reader);
    EXPECT_EQ(payload_of(frame), zbtest::pattern_bytes(kQvgaI420Size, 3));
    const zerobuffer::StreamFormat format = current_format(reader);
    EXPECT_EQ(format.pixel_format, "I420");
    EXPECT_EQ(format.width, 320u);
    EXPECT_EQ(format.frame_size, kQvgaI420Size);
    gst_element_set_bus(harness->element, nullptr);
}

// The pool's size is a guint: frames of 4 GiB or more must get no pool rather than one of their size modulo 4 GiB.
// RGBx 32768x32769 passes GStreamer's own overflow check (it counts 3 bytes per pixel) at 4 GiB + 128 KiB.
TEST(SinkCaps, NoPoolForFramesOf4GiBOrMore)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), kQvgaI420); // A ring of 8 QVGA frames: more than 128 KiB.

    const auto pools_offered = [&](const char* caps_text, guint* size) {
        GstCaps* caps = gst_caps_from_string(caps_text);
        GstQuery* query = gst_query_new_allocation(caps, TRUE);
        gst_caps_unref(caps);
        EXPECT_TRUE(gst_pad_peer_query(harness->srcpad, query));
        const guint pools = gst_query_get_n_allocation_pools(query);
        if (pools > 0)
            gst_query_parse_nth_allocation_pool(query, 0, nullptr, size, nullptr, nullptr);
        gst_query_unref(query);
        return pools;
    };
    guint size = 0;
    ASSERT_EQ(pools_offered(kQvgaI420, &size), 1u) << "the sink offers no pool at all: the test would prove nothing";
    EXPECT_EQ(size, kQvgaI420Size);

    const char* huge = "video/x-raw,format=RGBx,width=32768,height=32769,framerate=25/1";
    GstCaps* huge_caps = gst_caps_from_string(huge);
    GstVideoInfo info;
    gst_video_info_init(&info);
    // GStreamer 1.22 describes these caps; a version that refuses them cannot make such a pool either.
    if (gst_video_info_from_caps(&info, huge_caps)) {
        EXPECT_GE(GST_VIDEO_INFO_SIZE(&info), gsize{1} << 32);
    }
    gst_caps_unref(huge_caps);
    size = 0;
    EXPECT_EQ(pools_offered(huge, &size), 0u)
        << "a pool of " << size << "-byte buffers for " << GST_VIDEO_INFO_SIZE(&info) << "-byte frames";
}
