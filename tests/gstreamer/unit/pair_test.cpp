// SPDX-License-Identifier: MIT
// zerobuffersink and zerobuffersrc as two pipelines in one process (like gst-plugins-bad's shm.c test):
// every frame arrives in order, byte-identical, with its timestamps, then EOS.
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <zerobuffer/reader.h>

#include "support.h"

using namespace std::chrono_literals;
using zbtest::RingName;

namespace {

zbtest::PipelinePtr launch(const std::string& description)
{
    GError* error = nullptr;
    GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
    EXPECT_EQ(error, nullptr) << (error != nullptr ? error->message : "");
    g_clear_error(&error);
    return zbtest::PipelinePtr(pipeline);
}

GstElement* by_name(GstElement* pipeline, const char* name)
{
    GstElement* element = gst_bin_get_by_name(GST_BIN(pipeline), name);
    gst_object_unref(element); // The bin keeps it alive.
    return element;
}

} // namespace

TEST(Pair, OddSizeFramesCrossTheRingIntactThenEos)
{
    RingName ring;
    constexpr int kFrames = 12;
    const std::string caps = "video/x-raw,format=I420,width=1917,height=1079,framerate=30/1";
    GstVideoInfo info;
    GstCaps* parsed = gst_caps_from_string(caps.c_str());
    ASSERT_TRUE(gst_video_info_from_caps(&info, parsed));
    gst_caps_unref(parsed);
    const std::size_t frame_size = GST_VIDEO_INFO_SIZE(&info);

    zbtest::PipelinePtr writer = launch("appsrc name=in format=time caps=\"" + caps +
                                       "\" ! zerobuffersink ring=" + ring.str() + " wait-for-reader=true");
    zbtest::PipelinePtr reader = launch("zerobuffersrc ring=" + ring.str() +
                                       " reconnect=true timeout=10000 ! appsink name=out sync=false");
    ASSERT_NE(gst_element_set_state(reader.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    ASSERT_NE(gst_element_set_state(writer.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

    GstAppSrc* in = GST_APP_SRC(by_name(writer.get(), "in"));
    for (int i = 0; i < kFrames; ++i) {
        GstBuffer* buffer = zbtest::pattern_buffer(frame_size, static_cast<std::uint8_t>(i));
        GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(i) * 33'333'333;
        GST_BUFFER_DURATION(buffer) = 33'333'333;
        ASSERT_EQ(gst_app_src_push_buffer(in, buffer), GST_FLOW_OK);
    }
    ASSERT_EQ(gst_app_src_end_of_stream(in), GST_FLOW_OK);

    GstAppSink* out = GST_APP_SINK(by_name(reader.get(), "out"));
    for (int i = 0; i < kFrames; ++i) {
        GstSample* sample = gst_app_sink_try_pull_sample(out, 10 * GST_SECOND);
        ASSERT_NE(sample, nullptr) << "frame " << i << " did not arrive";
        GstBuffer* buffer = gst_sample_get_buffer(sample);
        EXPECT_EQ(GST_BUFFER_PTS(buffer), static_cast<GstClockTime>(i) * 33'333'333) << "frame " << i;
        EXPECT_EQ(zbtest::buffer_bytes(buffer), zbtest::pattern_bytes(frame_size, static_cast<std::uint8_t>(i)))
            << "frame " << i;
        if (i == 0) {
            GstCaps* sample_caps = gst_sample_get_caps(sample);
            gchar* text = gst_caps_to_string(sample_caps);
            EXPECT_NE(std::string(text).find("width=(int)1917"), std::string::npos) << text;
            g_free(text);
        }
        gst_sample_unref(sample);
    }
    EXPECT_EQ(gst_app_sink_try_pull_sample(out, 10 * GST_SECOND), nullptr);
    EXPECT_TRUE(gst_app_sink_is_eos(out));

    gst_element_set_state(writer.get(), GST_STATE_NULL);
    gst_element_set_state(reader.get(), GST_STATE_NULL);
}

// Through a queue: upstream reserves in its thread while the sink commits in another.
TEST(Pair, VideotestsrcRendersIntoTheRingInPlace)
{
    RingName ring;
    zbtest::PipelinePtr writer = launch("videotestsrc num-buffers=30 ! video/x-raw,format=NV12,width=320,height=240 ! queue max-size-buffers=3 "
                                       "! zerobuffersink name=sink ring=" + ring.str() + " wait-for-reader=true");
    zbtest::PipelinePtr reader = launch("zerobuffersrc ring=" + ring.str() +
                                       " reconnect=true timeout=10000 ! appsink name=out sync=false");
    ASSERT_NE(gst_element_set_state(reader.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    ASSERT_NE(gst_element_set_state(writer.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

    GstAppSink* out = GST_APP_SINK(by_name(reader.get(), "out"));
    int frames = 0;
    while (GstSample* sample = gst_app_sink_try_pull_sample(out, 10 * GST_SECOND)) {
        EXPECT_EQ(gst_buffer_get_size(gst_sample_get_buffer(sample)), 320u * 240u * 3u / 2u);
        ++frames;
        gst_sample_unref(sample);
    }
    EXPECT_EQ(frames, 30);
    EXPECT_TRUE(gst_app_sink_is_eos(out));
    // Counters before the writer pipeline stops (then the ring goes away).
    const zerobuffer::WriterCounters counters = zbtest::writer_counters(ring.str());
    EXPECT_EQ(counters.frames_in_place, 30u) << "videotestsrc did not render into the sink's pool";
    EXPECT_EQ(counters.frames_copied, 1u) << "only the empty end-of-stream frame is written with a copy";

    gst_element_set_state(writer.get(), GST_STATE_NULL);
    gst_element_set_state(reader.get(), GST_STATE_NULL);
}

// A flushing seek while the writer is blocked on a lossless reader that is not reading: the wait is interrupted,
// the seek completes, and the first frame after it is marked DISCONT with the new position's pts.
TEST(Pair, FlushingSeekWhileBlockedOnALosslessReader)
{
    RingName ring;
    zbtest::PipelinePtr writer = launch("videotestsrc ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 "
                                       "! zerobuffersink ring=" + ring.str() + " buffers=4");
    ASSERT_NE(gst_element_set_state(writer.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    std::optional<zerobuffer::Reader> reader;
    for (int i = 0; i < 500 && !reader; ++i) {
        if (auto attached = zerobuffer::Reader::attach(ring.str()); attached)
            reader = std::move(*attached);
        else
            std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(reader.has_value()) << "the sink did not create its ring";
    std::int64_t last_pts = -1;
    for (int i = 0; i < 20; ++i) {
        auto frame = reader->acquire(5s);
        ASSERT_TRUE(frame.has_value()) << frame.error().message;
        EXPECT_GT(frame->info().pts, last_pts);
        last_pts = frame->info().pts;
    }
    std::this_thread::sleep_for(200ms); // The writer fills the ring and waits for us.
    ASSERT_TRUE(gst_element_seek_simple(writer.get(), GST_FORMAT_TIME,
                                        static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE), 0));
    bool saw_restart = false;
    for (int i = 0; i < 200 && !saw_restart; ++i) {
        auto frame = reader->acquire(5s);
        ASSERT_TRUE(frame.has_value()) << frame.error().message;
        saw_restart = (frame->info().flags & zerobuffer::kFrameDiscontinuity) != 0 && frame->info().pts == 0;
    }
    EXPECT_TRUE(saw_restart) << "no DISCONT frame at pts 0 after the seek";
    gst_element_set_state(writer.get(), GST_STATE_NULL);
}
