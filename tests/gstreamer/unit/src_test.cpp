// SPDX-License-Identifier: MIT
// zerobuffersrc in a GstHarness (or a small pipeline, for errors), fed by an in-process zerobuffer::Writer:
// caps from ring metadata, caps changes, restored timestamps/flags/video meta, out-of-order release, EOS,
// reconnect, and the errors a user sees.
#include <chrono>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <zerobuffer/inspect.h>
#include <zerobuffer/stream_format.h>
#include <zerobuffer/writer.h>

#include "support.h"

using namespace std::chrono_literals;
using zbtest::BufferPtr;
using zbtest::HarnessPtr;
using zbtest::RingName;
using zbtest::make_writer;
using zbtest::src_harness;

namespace {

// 64x48 I420 with padded rows (80 luma, 48 chroma bytes) and a gap between planes: default strides would be wrong.
zerobuffer::StreamFormat padded_i420()
{
    zerobuffer::StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "I420";
    format.width = 64;
    format.height = 48;
    format.framerate = zerobuffer::Fraction{25, 1};
    format.planes = {{0, 80}, {80 * 48 + 128, 48}, {80 * 48 + 128 + 48 * 24, 48}};
    format.frame_size = 80 * 48 + 128 + 2 * 48 * 24;
    return format;
}

void write_frame(zerobuffer::Writer& writer, std::size_t size, std::uint8_t seed, zerobuffer::FrameInfo info = {})
{
    const std::vector<std::byte> bytes = zbtest::pattern_bytes(size, seed);
    auto written = writer.write(bytes, info);
    ASSERT_TRUE(written.has_value()) << written.error().message;
}

std::string current_caps(GstHarness* harness)
{
    GstCaps* caps = gst_pad_get_current_caps(harness->sinkpad);
    if (caps == nullptr)
        return {};
    gchar* text = gst_caps_to_string(caps);
    std::string result = text;
    g_free(text);
    gst_caps_unref(caps);
    return result;
}

/// A `zerobuffersrc ... ! fakesink` pipeline for error cases, with its bus.
struct ErrorPipeline {
    explicit ErrorPipeline(const std::string& description)
    {
        GError* error = nullptr;
        pipeline.reset(gst_parse_launch(description.c_str(), &error));
        EXPECT_EQ(error, nullptr) << (error != nullptr ? error->message : "");
        g_clear_error(&error);
        bus.reset(gst_element_get_bus(pipeline.get()));
    }
    ErrorPipeline(const ErrorPipeline&) = delete;
    ErrorPipeline& operator=(const ErrorPipeline&) = delete;

    std::string play_until_error()
    {
        gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
        return zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 10s);
    }

    zbtest::PipelinePtr pipeline;
    zbtest::BusPtr bus;
};

std::int64_t monotonic_ns()
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

} // namespace

TEST(Src, CapsFromFieldsTimestampsFlagsAndVideoMeta)
{
    RingName ring;
    const zerobuffer::StreamFormat format = padded_i420(); // No caps string: caps come from the fields.
    zerobuffer::Writer writer = make_writer(ring, format);
    HarnessPtr harness = src_harness(ring);
    gst_harness_play(harness.get());

    zerobuffer::FrameInfo info;
    info.pts = 2'000'000'000;
    info.dts = 1'960'000'000;
    info.duration = 40'000'000;
    info.offset = 50;
    info.offset_end = 51;
    info.flags = zerobuffer::kFrameKeyframe | zerobuffer::kFrameHeader;
    write_frame(writer, *format.frame_size, 1, info);
    zerobuffer::FrameInfo delta;
    delta.pts = 2'040'000'000;
    delta.flags = zerobuffer::kFrameDroppable | zerobuffer::kFrameCorrupted | zerobuffer::kFrameGap |
                  zerobuffer::kFrameDiscontinuity;
    write_frame(writer, *format.frame_size, 2, delta);

    BufferPtr first(gst_harness_pull(harness.get()));
    ASSERT_NE(first, nullptr);
    const std::string caps = current_caps(harness.get());
    EXPECT_NE(caps.find("video/x-raw"), std::string::npos) << caps;
    EXPECT_NE(caps.find("I420"), std::string::npos) << caps;
    EXPECT_NE(caps.find("width=(int)64"), std::string::npos) << caps;
    EXPECT_NE(caps.find("framerate=(fraction)25/1"), std::string::npos) << caps;

    EXPECT_EQ(zbtest::buffer_bytes(first.get()), zbtest::pattern_bytes(*format.frame_size, 1));
    EXPECT_EQ(GST_BUFFER_PTS(first.get()), 2'000'000'000u);
    EXPECT_EQ(GST_BUFFER_DTS(first.get()), 1'960'000'000u);
    EXPECT_EQ(GST_BUFFER_DURATION(first.get()), 40'000'000u);
    EXPECT_EQ(GST_BUFFER_OFFSET(first.get()), 50u);
    EXPECT_EQ(GST_BUFFER_OFFSET_END(first.get()), 51u);
    EXPECT_FALSE(GST_BUFFER_FLAG_IS_SET(first.get(), GST_BUFFER_FLAG_DELTA_UNIT));
    EXPECT_TRUE(GST_BUFFER_FLAG_IS_SET(first.get(), GST_BUFFER_FLAG_HEADER));
    EXPECT_TRUE(gst_memory_is_type(gst_buffer_peek_memory(first.get(), 0), GST_ALLOCATOR_SYSMEM) ||
                GST_MEMORY_FLAG_IS_SET(gst_buffer_peek_memory(first.get(), 0), GST_MEMORY_FLAG_READONLY));
    EXPECT_TRUE(GST_MEMORY_FLAG_IS_SET(gst_buffer_peek_memory(first.get(), 0), GST_MEMORY_FLAG_READONLY));

    const GstVideoMeta* meta = gst_buffer_get_video_meta(first.get());
    ASSERT_NE(meta, nullptr);
    EXPECT_EQ(meta->n_planes, 3u);
    for (std::size_t plane = 0; plane < 3; ++plane) {
        EXPECT_EQ(meta->offset[plane], format.planes[plane].offset);
        EXPECT_EQ(static_cast<std::uint32_t>(meta->stride[plane]), format.planes[plane].stride);
    }

    BufferPtr second(gst_harness_pull(harness.get()));
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(zbtest::buffer_bytes(second.get()), zbtest::pattern_bytes(*format.frame_size, 2));
    EXPECT_EQ(GST_BUFFER_PTS(second.get()), 2'040'000'000u);
    EXPECT_EQ(GST_BUFFER_DTS(second.get()), GST_CLOCK_TIME_NONE);
    EXPECT_EQ(GST_BUFFER_OFFSET(second.get()), GST_BUFFER_OFFSET_NONE);
    for (GstBufferFlags flag : {GST_BUFFER_FLAG_DELTA_UNIT, GST_BUFFER_FLAG_DROPPABLE, GST_BUFFER_FLAG_CORRUPTED,
                                GST_BUFFER_FLAG_GAP, GST_BUFFER_FLAG_DISCONT})
        EXPECT_TRUE(gst_buffer_has_flags(second.get(), flag)) << "flag " << flag;
}

// Rings written by zb-ingest carry fields and no caps string: encoded video and audio caps come from them.
TEST(Src, EncodedAndAudioCapsFromFields)
{
    struct Case {
        zerobuffer::StreamFormat format;
        std::vector<std::string> expected;
    };
    zerobuffer::StreamFormat h264;
    h264.media_type = "video/x-h264";
    h264.codec = "h264";
    h264.width = 1280;
    h264.height = 720;
    h264.framerate = zerobuffer::Fraction{30000, 1001};
    h264.extra_json = R"({"stream_format":"byte-stream","alignment":"au"})";
    zerobuffer::StreamFormat audio;
    audio.media_type = "audio/x-raw";
    audio.codec = "raw";
    audio.sample_rate = 48000;
    audio.channels = 2;
    audio.sample_format = "S16LE";
    audio.extra_json = R"({"layout":"interleaved"})";
    const std::vector<Case> cases{
        {h264, {"video/x-h264", "stream-format=(string)byte-stream", "alignment=(string)au", "width=(int)1280",
                "framerate=(fraction)30000/1001"}},
        {audio, {"audio/x-raw", "format=(string)S16LE", "rate=(int)48000", "channels=(int)2",
                 "layout=(string)interleaved"}},
    };
    for (const Case& test_case : cases) {
        RingName ring;
        zerobuffer::Writer writer = make_writer(ring, test_case.format);
        HarnessPtr harness = src_harness(ring);
        gst_harness_play(harness.get());
        write_frame(writer, 1000, 3);
        BufferPtr buffer(gst_harness_pull(harness.get()));
        ASSERT_NE(buffer, nullptr);
        EXPECT_EQ(zbtest::buffer_bytes(buffer.get()), zbtest::pattern_bytes(1000, 3));
        EXPECT_EQ(gst_buffer_get_video_meta(buffer.get()), nullptr);
        const std::string caps = current_caps(harness.get());
        for (const std::string& part : test_case.expected)
            EXPECT_NE(caps.find(part), std::string::npos) << part << " missing in " << caps;
    }
}

TEST(Src, FollowsCapsChangeMidStream)
{
    RingName ring;
    zerobuffer::Writer writer = make_writer(ring, padded_i420());
    HarnessPtr harness = src_harness(ring);
    gst_harness_play(harness.get());
    write_frame(writer, *padded_i420().frame_size, 1);
    BufferPtr first(gst_harness_pull(harness.get()));
    ASSERT_NE(first, nullptr);
    EXPECT_NE(current_caps(harness.get()).find("I420"), std::string::npos);

    zerobuffer::StreamFormat rgba;
    rgba.media_type = "video/x-raw";
    rgba.codec = "raw";
    rgba.pixel_format = "RGBA";
    rgba.width = 32;
    rgba.height = 16;
    rgba.planes = {{0, 128}};
    rgba.frame_size = 32 * 16 * 4;
    // A writer's memory type means nothing to readers: the source's buffers are system memory.
    rgba.caps = "video/x-raw(memory:DMABuf), format=(string)RGBA, width=(int)32, height=(int)16, framerate=(fraction)60/1";
    ASSERT_TRUE(writer.set_stream_metadata(zerobuffer::to_json(rgba)).has_value());
    write_frame(writer, 32 * 16 * 4, 2);
    BufferPtr second(gst_harness_pull(harness.get()));
    ASSERT_NE(second, nullptr);
    const std::string caps = current_caps(harness.get());
    EXPECT_NE(caps.find("RGBA"), std::string::npos) << caps;
    EXPECT_NE(caps.find("60/1"), std::string::npos) << "the caps string should win over the fields: " << caps;
    EXPECT_EQ(caps.find("memory:"), std::string::npos) << caps;
    EXPECT_EQ(zbtest::buffer_bytes(second.get()), zbtest::pattern_bytes(32 * 16 * 4, 2));
}

TEST(Src, BuffersReleasedOutOfOrderAndAfterTheElementStopped)
{
    RingName ring;
    const zerobuffer::StreamFormat format = padded_i420();
    zerobuffer::WriterOptions options;
    options.ring_size = 64 * 1024; // About 10 frames: the writer needs our releases to go on.
    options.reader_timeout = 5s;
    zerobuffer::Writer writer = make_writer(ring, format, options);
    HarnessPtr harness = src_harness(ring);
    gst_harness_play(harness.get());

    for (int round = 0; round < 5; ++round) {
        std::vector<BufferPtr> held;
        for (int i = 0; i < 6; ++i) {
            write_frame(writer, *format.frame_size, static_cast<std::uint8_t>(round * 6 + i));
            held.emplace_back(gst_harness_pull(harness.get()));
            ASSERT_NE(held.back(), nullptr);
        }
        for (int i = 0; i < 6; ++i)
            EXPECT_EQ(zbtest::buffer_bytes(held[static_cast<std::size_t>(i)].get()),
                      zbtest::pattern_bytes(*format.frame_size, static_cast<std::uint8_t>(round * 6 + i)));
        while (!held.empty())
            held.pop_back(); // Newest first.
    }
    // A frame still held when the element is torn down stays valid, and releasing it later is safe.
    write_frame(writer, *format.frame_size, 99);
    BufferPtr survivor(gst_harness_pull(harness.get()));
    ASSERT_NE(survivor, nullptr);
    harness.reset();
    EXPECT_EQ(zbtest::buffer_bytes(survivor.get()), zbtest::pattern_bytes(*format.frame_size, 99));
    survivor.reset();
    write_frame(writer, *format.frame_size, 100); // Nothing is pinned any more.
}

TEST(Src, WriterEndOfStreamBecomesEos)
{
    RingName ring;
    zerobuffer::Writer writer = make_writer(ring, padded_i420());
    HarnessPtr harness = src_harness(ring);
    gst_harness_play(harness.get());
    write_frame(writer, *padded_i420().frame_size, 1);
    zerobuffer::FrameInfo eos;
    eos.flags = zerobuffer::kFrameEndOfStream;
    ASSERT_TRUE(writer.write({}, eos).has_value());

    BufferPtr frame(gst_harness_pull(harness.get()));
    ASSERT_NE(frame, nullptr);
    bool saw_eos = false;
    for (int i = 0; i < 10 && !saw_eos; ++i) {
        GstEvent* event = gst_harness_pull_event(harness.get());
        ASSERT_NE(event, nullptr);
        saw_eos = GST_EVENT_TYPE(event) == GST_EVENT_EOS;
        gst_event_unref(event);
    }
    EXPECT_TRUE(saw_eos);
}

// The segment keeps the writer's pts; live, its base is the running time at which the first frame arrived.
TEST(Src, SegmentStartsAtTheFirstFrame)
{
    for (const bool live : {false, true}) {
        RingName ring;
        zerobuffer::Writer writer = make_writer(ring, padded_i420());
        HarnessPtr harness = src_harness(ring, {{"is-live", live ? "true" : "false"}});
        gst_harness_use_systemclock(harness.get());
        gst_harness_play(harness.get());
        std::this_thread::sleep_for(300ms); // The writer's first frame comes late.
        zerobuffer::FrameInfo info;
        info.pts = 3600'000'000'000; // An hour into the writer's stream.
        write_frame(writer, *padded_i420().frame_size, 1, info);
        BufferPtr buffer(gst_harness_pull(harness.get()));
        ASSERT_NE(buffer, nullptr);
        EXPECT_EQ(GST_BUFFER_PTS(buffer.get()), 3600'000'000'000u);
        const GstSegment* segment = nullptr;
        GstEvent* event = nullptr;
        int segments = 0;
        while ((event = gst_harness_try_pull_event(harness.get())) != nullptr) {
            if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT && ++segments == 1) { // Replaces basesrc's default one.
                gst_event_parse_segment(event, &segment);
                EXPECT_EQ(segment->start, 3600'000'000'000u);
                const guint64 running = gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer.get()));
                if (live)
                    EXPECT_GE(running, 300'000'000u) << "a live frame must be due when it arrived";
                else
                    EXPECT_EQ(running, 0u);
            }
            gst_event_unref(event);
        }
        EXPECT_EQ(segments, 1) << "expected exactly one segment, for the first frame";
    }
}

TEST(Src, CommitTimestampMeta)
{
    RingName ring;
    zerobuffer::Writer writer = make_writer(ring, padded_i420());
    HarnessPtr harness = src_harness(ring, {{"commit-timestamp-meta", "true"}});
    gst_harness_play(harness.get());
    const std::int64_t before = monotonic_ns();
    write_frame(writer, *padded_i420().frame_size, 1);
    const std::int64_t after = monotonic_ns();
    BufferPtr frame(gst_harness_pull(harness.get()));
    ASSERT_NE(frame, nullptr);
    GstCaps* reference = gst_caps_from_string("timestamp/x-zerobuffer-commit");
    GstReferenceTimestampMeta* meta = gst_buffer_get_reference_timestamp_meta(frame.get(), reference);
    gst_caps_unref(reference);
    ASSERT_NE(meta, nullptr);
    EXPECT_GE(static_cast<std::int64_t>(meta->timestamp), before);
    EXPECT_LE(static_cast<std::int64_t>(meta->timestamp), after);
}

/// The reader's counters after `frames` frames written every 10 ms (a live 100 fps stream) and pulled through a
/// zerobuffersrc with wait-mode=`mode`.
zerobuffer::ReaderCounters counters_after_paced_stream(const char* mode, int frames)
{
    RingName ring;
    zerobuffer::Writer writer = make_writer(ring, padded_i420());
    HarnessPtr harness = src_harness(ring, {{"wait-mode", mode}, {"timeout", "5000"}});
    gst_harness_play(harness.get());
    std::thread producer([&] {
        for (int i = 0; i < frames; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            write_frame(writer, *padded_i420().frame_size, static_cast<std::uint8_t>(i));
        }
    });
    int pulled = 0;
    for (int i = 0; i < frames; ++i) {
        BufferPtr frame(gst_harness_pull(harness.get()));
        if (frame == nullptr)
            break;
        ++pulled;
    }
    producer.join();
    EXPECT_EQ(pulled, frames);
    auto snapshot = zerobuffer::inspect_ring(ring.str());
    EXPECT_TRUE(snapshot.has_value());
    if (!snapshot || snapshot->readers.size() != 1) {
        ADD_FAILURE() << "expected one reader of the ring";
        return {};
    }
    return snapshot->readers.front().counters;
}

TEST(Src, WaitModeReachesTheReader)
{
    GstElement* element = gst_element_factory_make("zerobuffersrc", nullptr);
    ASSERT_NE(element, nullptr);
    gint mode = -1;
    g_object_get(element, "wait-mode", &mode, nullptr);
    EXPECT_EQ(mode, 0) << "cadence is the default";
    gst_object_unref(element);

    // Cadence: once the 100 fps rate is learnt, the reader opens polling windows around the due frames.
    const zerobuffer::ReaderCounters cadence = counters_after_paced_stream("cadence", 80);
    EXPECT_GT(cadence.cadence_hits + cadence.cadence_misses, 0U);
    // Sleep: the reader only ever sleeps on the ring's futex.
    const zerobuffer::ReaderCounters sleep = counters_after_paced_stream("sleep", 40);
    EXPECT_EQ(sleep.cadence_hits + sleep.cadence_misses, 0U);
    EXPECT_EQ(sleep.spin_ns, 0U);
}

TEST(Src, ReconnectsAfterWriterRestart)
{
    RingName ring;
    HarnessPtr harness = src_harness(ring, {{"reconnect", "true"}, {"timeout", "10000"}});
    gst_harness_play(harness.get()); // No ring yet: the source waits for one.
    {
        zerobuffer::Writer writer = make_writer(ring, padded_i420());
        ASSERT_TRUE(writer.wait_for_readers(1, 5s).has_value());
        write_frame(writer, *padded_i420().frame_size, 1);
        BufferPtr frame(gst_harness_pull(harness.get()));
        ASSERT_NE(frame, nullptr);
        EXPECT_EQ(zbtest::buffer_bytes(frame.get()), zbtest::pattern_bytes(*padded_i420().frame_size, 1));
    } // The writer goes away without EOS.

    zerobuffer::StreamFormat gray;
    gray.media_type = "video/x-raw";
    gray.codec = "raw";
    gray.pixel_format = "GRAY8";
    gray.width = 16;
    gray.height = 8;
    gray.planes = {{0, 16}};
    gray.frame_size = 128;
    zerobuffer::Writer restarted = make_writer(ring, gray);
    ASSERT_TRUE(restarted.wait_for_readers(1, 5s).has_value());
    write_frame(restarted, 128, 2);
    BufferPtr frame(gst_harness_pull(harness.get()));
    ASSERT_NE(frame, nullptr);
    EXPECT_EQ(zbtest::buffer_bytes(frame.get()), zbtest::pattern_bytes(128, 2));
    EXPECT_TRUE(GST_BUFFER_FLAG_IS_SET(frame.get(), GST_BUFFER_FLAG_DISCONT));
    EXPECT_NE(current_caps(harness.get()).find("GRAY8"), std::string::npos) << current_caps(harness.get());
}

TEST(Src, MissingRingWithoutReconnectNamesTheRing)
{
    RingName ring;
    ErrorPipeline pipeline("zerobuffersrc ring=" + ring.str() + " ! fakesink");
    const std::string error = pipeline.play_until_error();
    EXPECT_NE(error.find("ring '" + ring.str() + "' does not exist"), std::string::npos) << error;
    EXPECT_NE(error.find("reconnect=true"), std::string::npos) << error;
}

TEST(Src, WrongSecretIsRefused)
{
    RingName ring;
    zerobuffer::WriterOptions options;
    options.integrity = zerobuffer::Integrity::Mac;
    options.secret = "the-right-secret-with-enough-entropy-0123456789";
    zerobuffer::Writer writer = make_writer(ring, padded_i420(), options);
    ErrorPipeline pipeline("zerobuffersrc ring=" + ring.str() + " secret=not-the-secret ! fakesink");
    const std::string error = pipeline.play_until_error();
    EXPECT_NE(error.find("secret"), std::string::npos) << error;
    EXPECT_NE(error.find(ring.str()), std::string::npos) << error;
}

TEST(Src, WriterDeathWithoutReconnectIsAnError)
{
    RingName ring;
    auto writer = std::make_unique<zerobuffer::Writer>(make_writer(ring, padded_i420()));
    ErrorPipeline pipeline("zerobuffersrc ring=" + ring.str() + " ! fakesink");
    gst_element_set_state(pipeline.pipeline.get(), GST_STATE_PLAYING);
    ASSERT_TRUE(writer->wait_for_readers(1, 5s).has_value());
    writer.reset();
    const std::string error = zbtest::wait_message_text(pipeline.bus.get(), GST_MESSAGE_ERROR, 10s);
    EXPECT_NE(error.find("stopped without end-of-stream"), std::string::npos) << error;
}

TEST(Src, PlanesOutsideThePayloadAreRejected)
{
    RingName ring;
    zerobuffer::StreamFormat hostile = padded_i420();
    hostile.planes[2].offset = 1 << 20; // Far beyond the frame.
    zerobuffer::Writer writer = make_writer(ring, hostile);
    ErrorPipeline pipeline("zerobuffersrc ring=" + ring.str() + " ! fakesink");
    gst_element_set_state(pipeline.pipeline.get(), GST_STATE_PLAYING);
    ASSERT_TRUE(writer.wait_for_readers(1, 5s).has_value());
    write_frame(writer, *padded_i420().frame_size, 1);
    const std::string error = zbtest::wait_message_text(pipeline.bus.get(), GST_MESSAGE_ERROR, 10s);
    EXPECT_NE(error.find("does not match its stream format"), std::string::npos) << error;
    EXPECT_NE(error.find("plane 2"), std::string::npos) << error;
}

TEST(Src, NoFrameWithinTimeoutIsAnError)
{
    RingName ring;
    zerobuffer::Writer writer = make_writer(ring, padded_i420());
    ErrorPipeline pipeline("zerobuffersrc ring=" + ring.str() + " timeout=200 ! fakesink");
    const std::string error = pipeline.play_until_error();
    EXPECT_NE(error.find("timeout=200"), std::string::npos) << error;
}

TEST(Src, BadPropertyValuesAreRefused)
{
    GError* error = nullptr;
    GstElement* pipeline = gst_parse_launch("zerobuffersrc ring=x policy=sideways ! fakesink", &error);
    ASSERT_NE(error, nullptr);
    EXPECT_NE(std::string(error->message).find("policy"), std::string::npos) << error->message;
    g_clear_error(&error);
    if (pipeline != nullptr)
        gst_object_unref(pipeline);
    pipeline = gst_parse_launch("zerobuffersrc ring=x wait-mode=spin ! fakesink", &error);
    ASSERT_NE(error, nullptr);
    EXPECT_NE(std::string(error->message).find("wait-mode"), std::string::npos) << error->message;
    g_clear_error(&error);
    if (pipeline != nullptr)
        gst_object_unref(pipeline);

    ErrorPipeline no_ring("zerobuffersrc ! fakesink");
    const std::string message = no_ring.play_until_error();
    EXPECT_NE(message.find("set the ring property"), std::string::npos) << message;
}
