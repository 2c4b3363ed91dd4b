// SPDX-License-Identifier: MIT
// Time and requests across the ring, each element against an in-process Reader or Writer: the segment record a
// sink writes (moved on at a flushing seek, by the same offset for the sinks of one pipeline), the segments a
// source pushes from it, the latency query, caps queries, and keyframe requests in both directions.
#include <thread>

#include <gst/video/video.h>
#include <gtest/gtest.h>

#include "frame_meta.h"
#include "support.h"

using namespace std::chrono_literals;
namespace fm = zerobuffer::gst::frame_meta;
using zbtest::BufferPtr;
using zbtest::HarnessPtr;
using zbtest::RingName;

namespace {

constexpr const char* kGray = "video/x-raw,format=GRAY8,width=16,height=8,framerate=25/1";
constexpr std::size_t kGraySize = 16 * 8;
constexpr GstClockTime kFrame = 40 * GST_MSECOND;

fm::Segment segment_of(const zerobuffer::Frame& frame)
{
    const std::vector<std::byte> bytes(frame.metadata().begin(), frame.metadata().end());
    auto meta = fm::decode(bytes);
    EXPECT_TRUE(meta.has_value() && meta->segment.has_value());
    return meta && meta->segment ? *meta->segment : fm::Segment{};
}

void push_frame(GstHarness* harness, GstClockTime pts, GstClockTime duration = kFrame)
{
    GstBuffer* buffer = zbtest::pattern_buffer(kGraySize, static_cast<std::uint8_t>(pts / GST_MSECOND));
    GST_BUFFER_PTS(buffer) = pts;
    GST_BUFFER_DURATION(buffer) = duration;
    ASSERT_EQ(gst_harness_push(harness, buffer), GST_FLOW_OK);
}

void flushing_seek(GstHarness* harness)
{
    ASSERT_TRUE(gst_harness_push_event(harness, gst_event_new_flush_start()));
    ASSERT_TRUE(gst_harness_push_event(harness, gst_event_new_flush_stop(TRUE)));
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    ASSERT_TRUE(gst_harness_push_event(harness, gst_event_new_segment(&segment)));
}

zerobuffer::StreamFormat gray_format()
{
    zerobuffer::StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "GRAY8";
    format.width = 16;
    format.height = 8;
    format.framerate = zerobuffer::Fraction{25, 1};
    format.planes = {{0, 16}};
    format.frame_size = kGraySize;
    return format;
}

zerobuffer::StreamFormat h264_format()
{
    zerobuffer::StreamFormat format;
    format.media_type = "video/x-h264";
    format.codec = "h264";
    return format;
}

void write_frame(zerobuffer::Writer& writer, GstClockTime pts, const std::optional<fm::Segment>& segment,
                 std::uint32_t flags = zerobuffer::kFrameKeyframe)
{
    std::vector<std::byte> metadata;
    if (segment) {
        fm::FrameMeta meta;
        meta.segment = segment;
        fm::encode(meta, metadata);
    }
    zerobuffer::FrameInfo info;
    info.pts = static_cast<std::int64_t>(pts);
    info.duration = static_cast<std::int64_t>(kFrame);
    info.flags = flags;
    const std::vector<std::byte> payload = zbtest::pattern_bytes(kGraySize, 1);
    auto written = writer.write(payload, info, metadata);
    ASSERT_TRUE(written.has_value()) << written.error().message;
}

// The segments a harness's element pushed, followed buffer by buffer.
struct PushedSegment {
    PushedSegment() { gst_segment_init(&segment, GST_FORMAT_TIME); }
    GstSegment segment;
};

// The running time of `buffer` in the last segment the harness got until now.
GstClockTime running_time_of(GstHarness* harness, GstBuffer* buffer, PushedSegment& pushed_segment)
{
    GstSegment& segment = pushed_segment.segment;
    while (GstEvent* event = gst_harness_try_pull_event(harness)) {
        if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) {
            const GstSegment* pushed = nullptr;
            gst_event_parse_segment(event, &pushed);
            segment = *pushed;
        }
        gst_event_unref(event);
    }
    return gst_segment_to_running_time(&segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
}

} // namespace

// concat: pts start again, the segment's base goes on; the sink carries it.
TEST(Time, SinkCarriesTheSegmentBase)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), kGray);
    zerobuffer::Reader reader = zbtest::attach(ring);
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    segment.base = 400 * GST_MSECOND;
    ASSERT_TRUE(gst_harness_push_event(harness.get(), gst_event_new_segment(&segment)));
    push_frame(harness.get(), 0);
    const fm::Segment record = segment_of(zbtest::next_frame(reader));
    EXPECT_EQ(record.base, 400 * GST_MSECOND);
    EXPECT_EQ(record.start, 0u);
    EXPECT_EQ(record.rate, 1.0);
}

// A flushing seek restarts the writer's running time; the timeline goes on from the latest frame end of every
// zerobuffersink of the pipeline, so that an audio and a video ring keep their sync.
TEST(Time, FlushMovesTheTimelineOfEverySinkOfAPipelineToTheSameOffset)
{
    RingName video_ring;
    RingName audio_ring;
    zbtest::ElementPtr bin(GST_ELEMENT(gst_object_ref_sink(gst_bin_new("writer"))));
    GstElement* video_sink = gst_element_factory_make("zerobuffersink", nullptr);
    GstElement* audio_sink = gst_element_factory_make("zerobuffersink", nullptr);
    g_object_set(video_sink, "ring", video_ring.c_str(), nullptr);
    g_object_set(audio_sink, "ring", audio_ring.c_str(), nullptr);
    gst_bin_add_many(GST_BIN(bin.get()), video_sink, audio_sink, nullptr);
    HarnessPtr video(gst_harness_new_with_element(video_sink, "sink", nullptr));
    HarnessPtr audio(gst_harness_new_with_element(audio_sink, "sink", nullptr));
    gst_harness_set_src_caps_str(video.get(), kGray);
    gst_harness_set_src_caps_str(audio.get(), kGray);
    zerobuffer::Reader video_reader = zbtest::attach(video_ring);
    zerobuffer::Reader audio_reader = zbtest::attach(audio_ring);
    for (GstClockTime pts = 0; pts < 400 * GST_MSECOND; pts += kFrame)
        push_frame(video.get(), pts);              // ends at 400 ms
    push_frame(audio.get(), 0, 420 * GST_MSECOND); // ends at 420 ms
    for (int n = 0; n < 10; ++n)
        (void)zbtest::next_frame(video_reader);
    (void)zbtest::next_frame(audio_reader);

    flushing_seek(video.get());
    flushing_seek(audio.get());
    push_frame(video.get(), 0);
    push_frame(audio.get(), 0);
    EXPECT_EQ(segment_of(zbtest::next_frame(video_reader)).base, 420 * GST_MSECOND);
    EXPECT_EQ(segment_of(zbtest::next_frame(audio_reader)).base, 420 * GST_MSECOND);
}

// From the writer's first frame the reader keeps the writer's running time; concat's base comes through.
TEST(Time, SourceKeepsTheWritersRunningTimeFromItsFirstFrame)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, gray_format());
    HarnessPtr harness = zbtest::src_harness(ring);
    gst_harness_play(harness.get());
    PushedSegment segment_state;
    fm::Segment segment; // Audio of a file that starts 200 ms after its video: the pts and running time 200 ms.
    write_frame(writer, 200 * GST_MSECOND, segment);
    BufferPtr first(gst_harness_pull(harness.get()));
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(running_time_of(harness.get(), first.get(), segment_state), 200 * GST_MSECOND);
    segment.base = 400 * GST_MSECOND; // concat's second clip
    write_frame(writer, 0, segment);
    BufferPtr second(gst_harness_pull(harness.get()));
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(second.get()), 0u);
    EXPECT_EQ(running_time_of(harness.get(), second.get(), segment_state), 400 * GST_MSECOND);
}

// A reader that joins later plays at once, then follows the writer's running time.
TEST(Time, SourceJoiningLateStartsAtZero)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, gray_format());
    fm::Segment segment;
    segment.base = 3600 * GST_SECOND;
    write_frame(writer, 0, segment); // Frames before the reader came.
    HarnessPtr harness = zbtest::src_harness(ring);
    gst_harness_play(harness.get());
    PushedSegment segment_state;
    ASSERT_TRUE(writer.wait_for_readers(1, 5s).has_value());
    write_frame(writer, kFrame, segment);
    BufferPtr first(gst_harness_pull(harness.get()));
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(running_time_of(harness.get(), first.get(), segment_state), 0u);
    write_frame(writer, 2 * kFrame, segment);
    BufferPtr second(gst_harness_pull(harness.get()));
    EXPECT_EQ(running_time_of(harness.get(), second.get(), segment_state), kFrame);
}

// A segment seek (looping) gives a stop and the SEGMENT flag; the source must not end its stream there.
TEST(Time, SourcePushesNoStopAndNoSegmentFlag)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, gray_format());
    HarnessPtr harness = zbtest::src_harness(ring);
    gst_harness_play(harness.get());
    fm::Segment segment;
    segment.flags = GST_SEGMENT_FLAG_SEGMENT;
    segment.stop = 80 * GST_MSECOND;
    for (GstClockTime pts = 0; pts < 80 * GST_MSECOND; pts += kFrame)
        write_frame(writer, pts, segment);
    segment.base = 80 * GST_MSECOND; // The next pass.
    write_frame(writer, 0, segment);
    for (int n = 0; n < 3; ++n) {
        BufferPtr buffer(gst_harness_pull(harness.get()));
        ASSERT_NE(buffer, nullptr) << "the stream ended at the writer's stop";
    }
    GstEvent* event = nullptr;
    while ((event = gst_harness_try_pull_event(harness.get())) != nullptr) {
        if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) {
            const GstSegment* pushed = nullptr;
            gst_event_parse_segment(event, &pushed);
            EXPECT_EQ(pushed->stop, GST_CLOCK_TIME_NONE);
            EXPECT_EQ(pushed->flags & GST_SEGMENT_FLAG_SEGMENT, 0);
        }
        EXPECT_NE(GST_EVENT_TYPE(event), GST_EVENT_EOS);
        gst_event_unref(event);
    }
}

TEST(Time, LatencyIsOneFrameAndTheRingForALosslessReader)
{
    for (const char* policy : {"lossless", "latest"}) {
        RingName ring;
        zerobuffer::Writer writer = zbtest::make_writer(ring, gray_format());
        HarnessPtr harness = zbtest::src_harness(ring, {{"is-live", "true"}, {"policy", policy}});
        gst_harness_play(harness.get());
        write_frame(writer, 0, fm::Segment{});
        BufferPtr buffer(gst_harness_pull(harness.get()));
        ASSERT_NE(buffer, nullptr);
        GstQuery* query = gst_query_new_latency();
        ASSERT_TRUE(gst_pad_peer_query(harness->sinkpad, query));
        gboolean live = FALSE;
        GstClockTime min = 0;
        GstClockTime max = 0;
        gst_query_parse_latency(query, &live, &min, &max);
        gst_query_unref(query);
        EXPECT_TRUE(live);
        EXPECT_EQ(min, kFrame) << policy;
        if (std::string(policy) == "lossless") {
            // 1 MiB of frames of 128 payload bytes and a 96-byte segment record, each rounded up to 64: 4096 frames.
            const GstClockTime frames = writer.ring_size() / (128 + 128);
            EXPECT_EQ(max, frames * kFrame);
        } else {
            EXPECT_EQ(max, GST_CLOCK_TIME_NONE) << "a latest reader is never waited for";
        }
    }
}

TEST(Time, SinkCapsQueryPutsCommonFormatsFirst)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring);
    GstCaps* filter = gst_caps_from_string("video/x-raw,format={ABGR64_LE,Y444,NV12,I420},width=64,height=48");
    GstCaps* caps = gst_pad_peer_query_caps(harness->srcpad, filter);
    ASSERT_GT(gst_caps_get_size(caps), 1u);
    EXPECT_STREQ(gst_structure_get_string(gst_caps_get_structure(caps, 0), "format"), "I420");
    EXPECT_STREQ(gst_structure_get_string(gst_caps_get_structure(caps, 1), "format"), "NV12");
    EXPECT_TRUE(gst_caps_is_subset(filter, caps)) << "everything upstream offers is still accepted";
    gst_caps_unref(caps);
    gst_caps_unref(filter);
    GstCaps* any = gst_pad_peer_query_caps(harness->srcpad, nullptr);
    EXPECT_TRUE(gst_caps_is_any(any));
    gst_caps_unref(any);
}

// A reader's request reaches the element upstream of the sink as a force-key-unit event, at the next frame.
TEST(Time, SinkForwardsKeyframeRequestsUpstream)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), "video/x-h264,stream-format=byte-stream,alignment=au");
    zerobuffer::Reader reader = zbtest::attach(ring);
    reader.request_keyframe();
    push_frame(harness.get(), 0);
    bool forced = false;
    while (GstEvent* event = gst_harness_try_pull_upstream_event(harness.get())) {
        forced = forced || gst_video_event_is_force_key_unit(event);
        gst_event_unref(event);
    }
    EXPECT_TRUE(forced);
}

// The source asks when it joins an encoded stream between keyframes, and when downstream sends force-key-unit.
TEST(Time, SourceAsksForKeyframes)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, h264_format());
    HarnessPtr harness = zbtest::src_harness(ring);
    gst_harness_play(harness.get());
    ASSERT_TRUE(writer.wait_for_readers(1, 5s).has_value());
    write_frame(writer, 0, std::nullopt, zerobuffer::kFrameNone); // a delta frame first
    BufferPtr buffer(gst_harness_pull(harness.get()));
    ASSERT_NE(buffer, nullptr);
    EXPECT_TRUE(writer.keyframe_requested());
    EXPECT_FALSE(writer.keyframe_requested()) << "true once per batch of requests";
    ASSERT_TRUE(gst_harness_push_upstream_event(
        harness.get(), gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 1)));
    EXPECT_TRUE(writer.keyframe_requested());

    RingName raw_ring; // A reader of a stream that starts with a keyframe asks for nothing.
    zerobuffer::Writer raw_writer = zbtest::make_writer(raw_ring, h264_format());
    HarnessPtr raw = zbtest::src_harness(raw_ring);
    gst_harness_play(raw.get());
    ASSERT_TRUE(raw_writer.wait_for_readers(1, 5s).has_value());
    write_frame(raw_writer, 0, std::nullopt);
    BufferPtr key(gst_harness_pull(raw.get()));
    ASSERT_NE(key, nullptr);
    EXPECT_FALSE(raw_writer.keyframe_requested());
}
