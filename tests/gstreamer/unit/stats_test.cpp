// SPDX-License-Identifier: MIT
// The `stats` property and the `stats-interval` messages of zerobuffersink and zerobuffersrc: frames, bytes, zero
// copy versus copied as the path taken, drops of a latest reader behind a fast writer, lag, latencies, and
// zerobuffer-stats element messages on the bus.
#include <chrono>
#include <condition_variable>
#include <mutex>
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
using zbtest::BufferPtr;
using zbtest::HarnessPtr;
using zbtest::RingName;

namespace {

constexpr const char* kSmallI420 = "video/x-raw,format=I420,width=64,height=48,framerate=30/1";
constexpr std::size_t kSmallI420Size = 64 * 48 * 3 / 2;

struct StructureDeleter {
    void operator()(GstStructure* structure) const noexcept { gst_structure_free(structure); }
};
using StructurePtr = std::unique_ptr<GstStructure, StructureDeleter>;

StructurePtr stats_of(GstElement* element)
{
    GstStructure* stats = nullptr;
    g_object_get(element, "stats", &stats, nullptr);
    return StructurePtr(stats);
}

guint64 u64(const StructurePtr& stats, const char* field)
{
    guint64 value = 0;
    EXPECT_TRUE(gst_structure_get_uint64(stats.get(), field, &value)) << "no guint64 field " << field;
    return value;
}

guint u32(const StructurePtr& stats, const char* field)
{
    guint value = 0;
    EXPECT_TRUE(gst_structure_get_uint(stats.get(), field, &value)) << "no guint field " << field;
    return value;
}

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

// Runs `pipeline` to EOS (an error fails the test); returns the zerobuffer-stats structures posted meanwhile.
std::vector<StructurePtr> run_to_eos(GstElement* pipeline, std::chrono::seconds timeout = 30s)
{
    std::vector<StructurePtr> posted;
    EXPECT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    zbtest::BusPtr bus(gst_element_get_bus(pipeline));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        GstMessage* message = gst_bus_timed_pop_filtered(
            bus.get(), 100 * GST_MSECOND,
            static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT));
        if (message == nullptr)
            continue;
        const GstMessageType type = GST_MESSAGE_TYPE(message);
        if (type == GST_MESSAGE_ELEMENT) {
            const GstStructure* structure = gst_message_get_structure(message);
            if (gst_structure_has_name(structure, "zerobuffer-stats"))
                posted.emplace_back(gst_structure_copy(structure));
        } else if (type == GST_MESSAGE_ERROR) {
            GError* error = nullptr;
            gst_message_parse_error(message, &error, nullptr);
            ADD_FAILURE() << "error: " << error->message;
            g_clear_error(&error);
            gst_message_unref(message);
            return posted;
        } else {
            gst_message_unref(message);
            return posted;
        }
        gst_message_unref(message);
    }
    ADD_FAILURE() << "no EOS within " << timeout.count() << " s";
    return posted;
}

void write_frames(zerobuffer::Writer& writer, int count, std::size_t size)
{
    const std::vector<std::byte> bytes = zbtest::pattern_bytes(size, 1);
    for (int i = 0; i < count; ++i) {
        zerobuffer::FrameInfo info;
        info.pts = static_cast<std::int64_t>(i) * 33'333'333;
        ASSERT_TRUE(writer.write(bytes, info)) << "frame " << i;
    }
}

zerobuffer::StreamFormat small_i420()
{
    zerobuffer::StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "I420";
    format.width = 64;
    format.height = 48;
    format.framerate = zerobuffer::Fraction{30, 1};
    format.planes = {{0, 64}, {64 * 48, 32}, {64 * 48 + 32 * 24, 32}};
    format.frame_size = kSmallI420Size;
    return format;
}

} // namespace

TEST(Stats, SinkCountsPoolFramesInPlaceOthersCopiedAndTheReadersLag)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = zbtest::attach(ring);

    GstBuffer* pooled = gst_harness_create_buffer(harness.get(), kSmallI420Size);
    ASSERT_NE(pooled->pool, nullptr) << "the sink proposed no pool";
    ASSERT_EQ(gst_harness_push(harness.get(), pooled), GST_FLOW_OK);
    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 1)), GST_FLOW_OK);
    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 2)), GST_FLOW_OK);

    StructurePtr stats = stats_of(harness->element);
    ASSERT_NE(stats, nullptr);
    EXPECT_STREQ(gst_structure_get_name(stats.get()), "zerobuffer-stats");
    EXPECT_STREQ(gst_structure_get_string(stats.get(), "ring"), ring.c_str());
    EXPECT_EQ(u64(stats, "frames"), 3u);
    EXPECT_EQ(u64(stats, "bytes"), 3 * kSmallI420Size);
    EXPECT_EQ(u64(stats, "in-place"), 1u);
    EXPECT_EQ(u64(stats, "copied"), 2u);
    EXPECT_EQ(u64(stats, "dropped"), 0u);
    EXPECT_EQ(u64(stats, "waits"), 0u);
    EXPECT_EQ(u32(stats, "readers"), 1u);
    EXPECT_EQ(u64(stats, "lag-frames"), 3u) << "the reader has read none of the 3 frames";
    EXPECT_EQ(u32(stats, "latency-samples"), 3u);
    EXPECT_LE(u64(stats, "latency-p50-us"), u64(stats, "latency-p99-us"));
    EXPECT_LE(u64(stats, "latency-p99-us"), u64(stats, "latency-max-us"));

    for (int i = 0; i < 3; ++i)
        (void)zbtest::next_frame(reader);
    EXPECT_EQ(u64(stats_of(harness->element), "lag-frames"), 0u);

    // The end-of-stream marker is a frame to the ring, not a buffer of the stream.
    ASSERT_TRUE(gst_harness_push_event(harness.get(), gst_event_new_eos()));
    stats = stats_of(harness->element);
    EXPECT_EQ(u64(stats, "frames"), 3u);
    EXPECT_EQ(u64(stats, "copied"), 2u);
}

// A real pipeline: videotestsrc renders into the sink's pool (in place); identity drop-allocation=true hides the
// pool, so every frame is copied.
TEST(Stats, SinkInPlaceOrCopiedFollowsTheAllocationPath)
{
    constexpr int kFrames = 10;
    for (const bool hide_pool : {false, true}) {
        SCOPED_TRACE(hide_pool ? "identity drop-allocation=true" : "pool");
        RingName ring;
        zbtest::PipelinePtr pipeline = launch(
            std::string("videotestsrc num-buffers=") + std::to_string(kFrames) + " ! " + kSmallI420 +
            (hide_pool ? " ! identity drop-allocation=true" : "") + " ! zerobuffersink name=sink ring=" + ring.str());
        (void)run_to_eos(pipeline.get());
        StructurePtr stats = stats_of(by_name(pipeline.get(), "sink"));
        EXPECT_EQ(u64(stats, "frames"), guint64{kFrames});
        EXPECT_EQ(u64(stats, "bytes"), kFrames * kSmallI420Size);
        EXPECT_EQ(u64(stats, "in-place"), hide_pool ? 0u : guint64{kFrames});
        EXPECT_EQ(u64(stats, "copied"), hide_pool ? guint64{kFrames} : 0u);
        EXPECT_EQ(u64(stats, "dropped"), 0u);
    }
}

TEST(Stats, SrcCountsFramesBytesZeroCopyThenCopiesAndCommitToPushLatency)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, small_i420());
    // max-held=2: downstream may keep two frames zero copy; while it keeps them, further frames are copied.
    HarnessPtr harness = zbtest::src_harness(ring, {{"max-held", "2"}});
    gst_harness_play(harness.get());

    constexpr int kFrames = 5;
    std::vector<BufferPtr> kept;
    for (int i = 0; i < kFrames; ++i) {
        write_frames(writer, 1, kSmallI420Size);
        kept.emplace_back(gst_harness_pull(harness.get()));
        ASSERT_NE(kept.back(), nullptr) << "frame " << i;
    }
    StructurePtr stats = stats_of(harness->element);
    ASSERT_NE(stats, nullptr);
    EXPECT_STREQ(gst_structure_get_name(stats.get()), "zerobuffer-stats");
    EXPECT_EQ(u64(stats, "frames"), guint64{kFrames});
    EXPECT_EQ(u64(stats, "bytes"), kFrames * kSmallI420Size);
    EXPECT_EQ(u64(stats, "in-place"), 2u);
    EXPECT_EQ(u64(stats, "copied"), guint64{kFrames - 2});
    EXPECT_EQ(u64(stats, "dropped"), 0u);
    EXPECT_EQ(u64(stats, "overruns"), 0u);
    EXPECT_EQ(u64(stats, "lag-frames"), 0u);
    EXPECT_EQ(u32(stats, "readers"), 1u);
    EXPECT_EQ(u32(stats, "latency-samples"), guint{kFrames});
    EXPECT_LE(u64(stats, "latency-p50-us"), u64(stats, "latency-p90-us"));
    EXPECT_LE(u64(stats, "latency-p90-us"), u64(stats, "latency-p99-us"));
    EXPECT_LE(u64(stats, "latency-p99-us"), u64(stats, "latency-max-us"));
    EXPECT_LT(u64(stats, "latency-max-us"), 60'000'000u) << "commit and push are on the same clock";
    kept.clear();
}

// policy=latest behind a writer much faster than its downstream: the frames it jumped over are its drops.
TEST(Stats, LatestReaderBehindAFastWriterShowsDrops)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, small_i420());
    zbtest::PipelinePtr pipeline = launch("zerobuffersrc name=src policy=latest ring=" + ring.str() +
                                          " ! identity sleep-time=20000 ! fakesink sync=false");
    ASSERT_NE(gst_element_set_state(pipeline.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    constexpr int kFrames = 100;
    write_frames(writer, kFrames, kSmallI420Size); // Far faster than one frame per 20 ms downstream.
    std::this_thread::sleep_for(100ms);
    zerobuffer::FrameInfo eos;
    eos.flags = zerobuffer::kFrameEndOfStream;
    ASSERT_TRUE(writer.write({}, eos));
    (void)run_to_eos(pipeline.get());

    StructurePtr stats = stats_of(by_name(pipeline.get(), "src"));
    const guint64 frames = u64(stats, "frames");
    const guint64 dropped = u64(stats, "dropped");
    EXPECT_GE(frames, 1u);
    EXPECT_GT(dropped, 0u) << "a latest reader 20 ms per frame behind skipped nothing of " << kFrames;
    EXPECT_LE(frames + dropped, guint64{kFrames});
    EXPECT_EQ(u64(stats, "bytes"), frames * kSmallI420Size);
}

TEST(Stats, StatsIntervalPostsZerobufferStatsMessagesFromBothElements)
{
    RingName ring;
    constexpr int kFrames = 40; // 0.8 s at 50 fps: several 100 ms intervals.
    zbtest::PipelinePtr writer =
        launch(std::string("videotestsrc is-live=true num-buffers=") + std::to_string(kFrames) +
               " ! video/x-raw,format=I420,width=64,height=48,framerate=50/1"
               " ! zerobuffersink name=sink stats-interval=100 wait-for-reader=true ring=" +
               ring.str());
    zbtest::PipelinePtr reader =
        launch("zerobuffersrc name=src stats-interval=100 reconnect=true timeout=20000 ring=" + ring.str() +
               " ! fakesink sync=false");
    ASSERT_NE(gst_element_set_state(writer.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    std::vector<StructurePtr> from_reader = run_to_eos(reader.get());
    std::vector<StructurePtr> from_writer = run_to_eos(writer.get());

    for (const auto* posted : {&from_writer, &from_reader}) {
        const char* which = posted == &from_writer ? "zerobuffersink" : "zerobuffersrc";
        EXPECT_GE(posted->size(), 2u) << which << " posted too few zerobuffer-stats messages";
        if (posted == &from_reader) { // The source posts from its streaming thread: at most once per frame.
            EXPECT_LE(posted->size(), std::size_t{kFrames}) << which << ": at most one message per frame";
        }
        guint64 previous = 0;
        for (const StructurePtr& stats : *posted) {
            const guint64 frames = u64(stats, "frames");
            EXPECT_GE(frames, previous) << which;
            EXPECT_LE(frames, guint64{kFrames}) << which;
            EXPECT_TRUE(gst_structure_has_field(stats.get(), "latency-p99-us")) << which;
            previous = frames;
        }
    }
    EXPECT_EQ(u64(stats_of(by_name(reader.get(), "src")), "frames"), guint64{kFrames});
}

TEST(Stats, NoMessagesWithoutStatsInterval)
{
    RingName ring;
    zbtest::PipelinePtr pipeline = launch(std::string("videotestsrc num-buffers=20 ! ") + kSmallI420 +
                                          " ! zerobuffersink name=sink ring=" + ring.str());
    EXPECT_TRUE(run_to_eos(pipeline.get()).empty());
    guint interval = 1;
    g_object_get(by_name(pipeline.get(), "sink"), "stats-interval", &interval, nullptr);
    EXPECT_EQ(interval, 0u);
}

// A lossless reader that never reads, a ring of two frames, reader-timeout=50: the sink waits for room, then drops.
TEST(Stats, SinkBehindAStuckLosslessReaderShowsWaitsDropsAndLag)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring, {{"buffers", "2"}, {"reader-timeout", "50"}});
    zbtest::BusPtr bus(gst_bus_new());
    gst_element_set_bus(harness->element, bus.get()); // Takes the drop warnings.
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = zbtest::attach(ring);

    constexpr int kBuffers = 6;
    for (int i = 0; i < kBuffers; ++i)
        ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 1)), GST_FLOW_OK);
    StructurePtr stats = stats_of(harness->element);
    const guint64 frames = u64(stats, "frames");
    const guint64 dropped = u64(stats, "dropped");
    EXPECT_GE(frames, 1u);
    EXPECT_GE(dropped, 1u);
    EXPECT_EQ(frames + dropped, guint64{kBuffers});
    EXPECT_GE(u64(stats, "waits"), dropped) << "every drop waited reader-timeout for room first";
    EXPECT_GE(u64(stats, "wait-time-us"), dropped * 40'000) << "each drop waited about 50 ms";
    EXPECT_EQ(u64(stats, "lag-frames"), frames) << "the reader read none";
    EXPECT_EQ(u32(stats, "latency-samples"), guint(frames)) << "dropped frames have no render latency";
    gst_element_set_bus(harness->element, nullptr);
}

// Downstream blocked on the first buffer: a lossless reader's lag is exactly the frames committed since, and the
// frames pushed after the block waited at least that long since their commit.
TEST(Stats, SrcLagAndCommitToPushLatencyWhileDownstreamBlocks)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, small_i420());
    zbtest::PipelinePtr pipeline = launch("zerobuffersrc name=src ring=" + ring.str() + " ! fakesink sync=false");
    GstElement* src = by_name(pipeline.get(), "src");
    GstPad* pad = gst_element_get_static_pad(src, "src");
    struct Gate {
        std::mutex mutex;
        std::condition_variable changed;
        bool blocked = false;
    } gate;
    const gulong probe = gst_pad_add_probe(
        pad, GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM,
        [](GstPad*, GstPadProbeInfo* info, gpointer data) {
            if ((GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) == 0)
                return GST_PAD_PROBE_PASS; // Events (stream-start, caps, segment) go through.
            auto* shared = static_cast<Gate*>(data);
            const std::lock_guard lock(shared->mutex);
            shared->blocked = true;
            shared->changed.notify_all();
            return GST_PAD_PROBE_OK; // Blocks until the probe is removed.
        },
        &gate, nullptr);
    ASSERT_NE(gst_element_set_state(pipeline.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

    write_frames(writer, 1, kSmallI420Size);
    {
        std::unique_lock lock(gate.mutex);
        ASSERT_TRUE(gate.changed.wait_for(lock, 10s, [&] { return gate.blocked; })) << "the first buffer never came";
    }
    constexpr int kMore = 4;
    write_frames(writer, kMore, kSmallI420Size);
    StructurePtr stats = stats_of(src);
    EXPECT_EQ(u64(stats, "frames"), 1u) << "counted when created, before the blocked push";
    EXPECT_EQ(u64(stats, "lag-frames"), guint64{kMore});

    constexpr auto kBlocked = 100ms;
    std::this_thread::sleep_for(kBlocked);
    gst_pad_remove_probe(pad, probe);
    gst_object_unref(pad);
    zerobuffer::FrameInfo eos;
    eos.flags = zerobuffer::kFrameEndOfStream;
    ASSERT_TRUE(writer.write({}, eos));
    (void)run_to_eos(pipeline.get());

    stats = stats_of(src);
    EXPECT_EQ(u64(stats, "frames"), guint64{1 + kMore});
    EXPECT_EQ(u64(stats, "lag-frames"), 0u);
    EXPECT_EQ(u64(stats, "dropped"), 0u);
    EXPECT_GE(u64(stats, "latency-max-us"), guint64{std::chrono::microseconds(kBlocked).count()})
        << "the frames behind the block waited at least that long after their commit";
}

// size=0 and bigger caps: the sink makes a new ring, whose counters start at 0; the stats keep the first ring's.
TEST(Stats, SinkTotalsSurviveARingRecreatedForBiggerCaps)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring, {{"buffers", "2"}});
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 1)), GST_FLOW_OK);
    constexpr std::size_t kBigSize = 640 * 480 * 4;
    gst_harness_set_src_caps_str(harness.get(), "video/x-raw,format=RGBA,width=640,height=480,framerate=30/1");
    EXPECT_EQ(zbtest::writer_counters(ring.str()).frames_written, 0u) << "the ring was not recreated";
    for (int i = 0; i < 2; ++i)
        ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kBigSize, 2)), GST_FLOW_OK);

    StructurePtr stats = stats_of(harness->element);
    EXPECT_EQ(u64(stats, "frames"), 5u);
    EXPECT_EQ(u64(stats, "bytes"), 3 * kSmallI420Size + 2 * kBigSize);
    EXPECT_EQ(u64(stats, "copied"), 5u);
    EXPECT_EQ(u64(stats, "in-place"), 0u);
}

// The sink keeps posting while upstream is quiet: one frame, then messages every stats-interval with no frame.
TEST(Stats, SinkPostsWhileNoFramesCome)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring, {{"stats-interval", "50"}});
    zbtest::BusPtr bus(gst_bus_new());
    gst_element_set_bus(harness->element, bus.get());
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = zbtest::attach(ring);
    ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 1)), GST_FLOW_OK);
    for (int i = 0; i < 3; ++i) { // Nothing is pushed from here on: every message comes from the ticker.
        GstMessage* message = gst_bus_timed_pop_filtered(bus.get(), 10 * GST_SECOND, GST_MESSAGE_ELEMENT);
        ASSERT_NE(message, nullptr) << "no zerobuffer-stats message " << i << " while no frames came";
        const GstStructure* posted = gst_message_get_structure(message);
        ASSERT_TRUE(gst_structure_has_name(posted, "zerobuffer-stats"));
        StructurePtr stats(gst_structure_copy(posted));
        gst_message_unref(message);
        EXPECT_EQ(u64(stats, "frames"), 1u);
        EXPECT_EQ(u32(stats, "readers"), 1u);
        EXPECT_EQ(u64(stats, "lag-frames"), 1u) << "the reader read none";
    }
    g_object_set(harness->element, "stats-interval", 0u, nullptr); // Stops the ticker while playing.
    gst_bus_set_flushing(bus.get(), TRUE);
    gst_bus_set_flushing(bus.get(), FALSE);
    EXPECT_EQ(gst_bus_timed_pop_filtered(bus.get(), 300 * GST_MSECOND, GST_MESSAGE_ELEMENT), nullptr)
        << "stats-interval=0 must stop the messages";
    gst_element_set_bus(harness->element, nullptr);
}

// The source keeps posting while the writer is quiet: no frames, waits counting.
TEST(Stats, SrcPostsWhileWaitingForFrames)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, small_i420());
    zbtest::PipelinePtr pipeline =
        launch("zerobuffersrc name=src stats-interval=100 ring=" + ring.str() + " ! fakesink sync=false");
    ASSERT_NE(gst_element_set_state(pipeline.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    std::this_thread::sleep_for(600ms); // No frame: six intervals of waiting.
    zerobuffer::FrameInfo eos;
    eos.flags = zerobuffer::kFrameEndOfStream;
    ASSERT_TRUE(writer.write({}, eos));
    const std::vector<StructurePtr> posted = run_to_eos(pipeline.get());
    ASSERT_GE(posted.size(), 2u) << "no zerobuffer-stats messages while waiting";
    EXPECT_EQ(u64(posted.back(), "frames"), 0u);
    EXPECT_GE(u64(posted.back(), "waits"), 1u);
}
