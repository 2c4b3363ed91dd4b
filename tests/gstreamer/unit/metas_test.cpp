// SPDX-License-Identifier: MIT
// The per-frame metadata through each element, against an in-process Reader or Writer: metas a sink writes (and
// pool frames that need more metadata room than they reserved), metas a source adds, GstAudioMeta both ways, and
// metadata from a hostile writer.
#include <cstring>

#include <gst/audio/audio.h>
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
constexpr const char* kPlanar = "audio/x-raw,format=S16LE,layout=non-interleaved,rate=48000,channels=2";

fm::FrameMeta decoded(const zerobuffer::Frame& frame)
{
    const std::vector<std::byte> bytes(frame.metadata().begin(), frame.metadata().end());
    auto meta = fm::decode(bytes);
    EXPECT_TRUE(meta.has_value()) << (meta ? "" : meta.error().message);
    return meta ? *meta : fm::FrameMeta{};
}

zerobuffer::StreamFormat gray_format()
{
    zerobuffer::StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "GRAY8";
    format.width = 16;
    format.height = 8;
    format.planes = {{0, 16}};
    format.frame_size = kGraySize;
    return format;
}

zerobuffer::StreamFormat planar_format()
{
    zerobuffer::StreamFormat format;
    format.media_type = "audio/x-raw";
    format.codec = "raw";
    format.caps = "audio/x-raw, format=(string)S16LE, layout=(string)non-interleaved, rate=(int)48000, channels=(int)2";
    return format;
}

void write_with_meta(zerobuffer::Writer& writer, std::size_t size, const std::vector<std::byte>& metadata)
{
    zerobuffer::FrameInfo info;
    info.pts = 0;
    info.flags = zerobuffer::kFrameKeyframe;
    const std::vector<std::byte> payload = zbtest::pattern_bytes(size, 3);
    auto written = writer.write(payload, info, metadata);
    ASSERT_TRUE(written.has_value()) << written.error().message;
}

} // namespace

TEST(Metas, SinkWritesRegionsReferencesCustomAndUserBytes)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), kGray);
    zerobuffer::Reader reader = zbtest::attach(ring);
    GstBuffer* buffer = zbtest::pattern_buffer(kGraySize, 1);
    GST_BUFFER_PTS(buffer) = 0;
    GstVideoRegionOfInterestMeta* roi = gst_buffer_add_video_region_of_interest_meta(buffer, "dog", 1, 2, 3, 4);
    roi->id = 7;
    roi->parent_id = -1;
    gst_video_region_of_interest_meta_add_param(roi,
                                                gst_structure_new("detection", "label", G_TYPE_STRING, "dog", nullptr));
    GstCaps* reference = gst_caps_new_empty_simple("timestamp/x-ntp");
    gst_buffer_add_reference_timestamp_meta(buffer, reference, 123, 45);
    gst_caps_unref(reference);
    GstCustomMeta* user = gst_buffer_add_custom_meta(buffer, "GstZeroBufferUserMeta");
    ASSERT_NE(user, nullptr) << "the plugin registers GstZeroBufferUserMeta when it loads";
    GBytes* bytes = g_bytes_new("hello", 5);
    gst_structure_set(gst_custom_meta_get_structure(user), "data", G_TYPE_BYTES, bytes, nullptr);
    g_bytes_unref(bytes);
    ASSERT_EQ(gst_harness_push(harness.get(), buffer), GST_FLOW_OK);

    zerobuffer::Frame frame = zbtest::next_frame(reader);
    const fm::FrameMeta meta = decoded(frame);
    ASSERT_EQ(meta.regions.size(), 1u);
    EXPECT_EQ(meta.regions[0], (fm::RegionOfInterest{"dog", 7, -1, 1, 2, 3, 4, {"detection, label=(string)dog;"}}));
    ASSERT_EQ(meta.references.size(), 1u);
    EXPECT_EQ(meta.references[0], (fm::ReferenceTimestamp{"timestamp/x-ntp", 123, 45}));
    ASSERT_TRUE(meta.user_data.has_value());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(meta.user_data->data()), meta.user_data->size()), "hello");
    ASSERT_TRUE(meta.segment.has_value()) << "every frame carries the writer's segment";
    EXPECT_EQ(meta.segment->base, 0u);
}

// A pool frame reserves 256 bytes of metadata; a frame that needs more is copied once and the pool grows, so that
// the next frames with as much metadata stay in place.
TEST(Metas, PoolFramesGrowTheirMetadataRoom)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), "video/x-raw,format=I420,width=64,height=48,framerate=25/1");
    zerobuffer::Reader reader = zbtest::attach(ring);
    for (int n = 0; n < 4; ++n) {
        GstBuffer* buffer = gst_harness_create_buffer(harness.get(), 64 * 48 * 3 / 2); // From the sink's pool.
        GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(n) * 40 * GST_MSECOND;
        GstCustomMeta* user = gst_buffer_add_custom_meta(buffer, "GstZeroBufferUserMeta");
        const std::string big(600, static_cast<char>('a' + n));
        GBytes* bytes = g_bytes_new(big.data(), big.size());
        gst_structure_set(gst_custom_meta_get_structure(user), "data", G_TYPE_BYTES, bytes, nullptr);
        g_bytes_unref(bytes);
        ASSERT_EQ(gst_harness_push(harness.get(), buffer), GST_FLOW_OK);
        zerobuffer::Frame frame = zbtest::next_frame(reader);
        const fm::FrameMeta meta = decoded(frame);
        ASSERT_TRUE(meta.user_data.has_value());
        EXPECT_EQ(meta.user_data->size(), 600u);
        EXPECT_EQ((*meta.user_data)[0], static_cast<std::byte>('a' + n));
    }
    const zerobuffer::WriterCounters counters = zbtest::writer_counters(ring.str());
    EXPECT_GE(counters.frames_in_place, 2u) << "frames after the first big one go in place";
    EXPECT_LE(counters.frames_copied, 2u) << "only frames reserved before the pool grew are copied";
}

TEST(Metas, SourceAddsTheMetasTheFrameCarries)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, gray_format());
    HarnessPtr harness = zbtest::src_harness(ring);
    gst_harness_play(harness.get());
    fm::FrameMeta sent;
    sent.regions.push_back({"car", 5, 2, 10, 11, 12, 13, {"tracking, track=(int)9;"}});
    sent.regions.push_back({"plate", 6, 5, 1, 1, 2, 2, {}});
    sent.timecode = fm::TimeCode{25, 1, 0, 10, 20, 30, 12, 0, ""};
    sent.references.push_back({"timestamp/x-unix", 1'700'000'000'000'000'000ULL, fm::kNone});
    sent.user_data = std::vector<std::byte>{std::byte{1}, std::byte{2}};
    std::vector<std::byte> bytes;
    fm::encode(sent, bytes);
    write_with_meta(writer, kGraySize, bytes);

    BufferPtr buffer(gst_harness_pull(harness.get()));
    ASSERT_NE(buffer, nullptr);
    gpointer state = nullptr;
    std::vector<GstVideoRegionOfInterestMeta*> regions;
    while (GstMeta* meta =
               gst_buffer_iterate_meta_filtered(buffer.get(), &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))
        regions.push_back(reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta));
    ASSERT_EQ(regions.size(), 2u);
    EXPECT_STREQ(g_quark_to_string(regions[0]->roi_type), "car") << "in the writer's order";
    EXPECT_EQ(regions[0]->id, 5);
    EXPECT_EQ(regions[0]->parent_id, 2);
    EXPECT_EQ(regions[0]->w, 12u);
    GstStructure* param = gst_video_region_of_interest_meta_get_param(regions[0], "tracking");
    ASSERT_NE(param, nullptr);
    gint track = 0;
    EXPECT_TRUE(gst_structure_get_int(param, "track", &track));
    EXPECT_EQ(track, 9);
    GstVideoTimeCodeMeta* timecode = gst_buffer_get_video_time_code_meta(buffer.get());
    ASSERT_NE(timecode, nullptr);
    EXPECT_EQ(timecode->tc.hours, 10u);
    EXPECT_EQ(timecode->tc.frames, 12u);
    GstCaps* unix_caps = gst_caps_new_empty_simple("timestamp/x-unix");
    GstReferenceTimestampMeta* reference = gst_buffer_get_reference_timestamp_meta(buffer.get(), unix_caps);
    gst_caps_unref(unix_caps);
    ASSERT_NE(reference, nullptr);
    EXPECT_EQ(reference->timestamp, 1'700'000'000'000'000'000ULL);
    EXPECT_EQ(reference->duration, GST_CLOCK_TIME_NONE);
    GstCustomMeta* user = gst_buffer_get_custom_meta(buffer.get(), "GstZeroBufferUserMeta");
    ASSERT_NE(user, nullptr);
    const GValue* data = gst_structure_get_value(gst_custom_meta_get_structure(user), "data");
    ASSERT_NE(data, nullptr);
    gsize size = 0;
    const auto* got =
        static_cast<const std::uint8_t*>(g_bytes_get_data(static_cast<GBytes*>(g_value_get_boxed(data)), &size));
    ASSERT_EQ(size, 2u);
    EXPECT_EQ(got[1], 2);
}

// Metadata that claims to be the format but breaks it: the frame arrives without metas, with one warning.
TEST(Metas, HostileMetadataIsLeftOutWithAWarning)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, gray_format());
    HarnessPtr harness = zbtest::src_harness(ring);
    zbtest::BusPtr bus(gst_bus_new());
    gst_element_set_bus(harness->element, bus.get());
    gst_harness_play(harness.get());
    fm::FrameMeta sent;
    sent.regions.push_back({"car", 1, -1, 0, 0, 1, 1, {}});
    std::vector<std::byte> bytes;
    fm::encode(sent, bytes);
    const std::uint32_t huge = 0x7fffffff;
    std::memcpy(bytes.data() + fm::kHeaderSize + 4, &huge, sizeof huge); // the region record claims 2 GiB
    write_with_meta(writer, kGraySize, bytes);
    write_with_meta(writer, kGraySize, bytes);
    for (int n = 0; n < 2; ++n) {
        BufferPtr buffer(gst_harness_pull(harness.get()));
        ASSERT_NE(buffer, nullptr);
        EXPECT_EQ(zbtest::buffer_bytes(buffer.get()), zbtest::pattern_bytes(kGraySize, 3));
        EXPECT_EQ(gst_buffer_get_video_region_of_interest_meta(buffer.get()), nullptr);
    }
    const std::string warning = zbtest::wait_message_text(bus.get(), GST_MESSAGE_WARNING, 1s);
    EXPECT_NE(warning.find("claims 2147483647 bytes"), std::string::npos) << warning;
    EXPECT_EQ(zbtest::wait_message_text(bus.get(), GST_MESSAGE_WARNING, 100ms), "") << "warned once";
    gst_element_set_bus(harness->element, nullptr);
}

TEST(Metas, SinkCarriesThePlanesOfPlanarAudio)
{
    RingName ring;
    HarnessPtr harness = zbtest::sink_harness(ring);
    gst_harness_set_src_caps_str(harness.get(), kPlanar);
    zerobuffer::Reader reader = zbtest::attach(ring);
    GstAudioInfo info;
    GstCaps* caps = gst_caps_from_string(kPlanar);
    ASSERT_TRUE(gst_audio_info_from_caps(&info, caps));
    gst_caps_unref(caps);
    // 100 samples per channel, with 56 bytes between the planes (a decoder's aligned planes).
    GstBuffer* buffer = zbtest::pattern_buffer(200 + 56 + 200, 4);
    gsize offsets[] = {0, 256};
    ASSERT_NE(gst_buffer_add_audio_meta(buffer, &info, 100, offsets), nullptr);
    ASSERT_EQ(gst_harness_push(harness.get(), buffer), GST_FLOW_OK);
    zerobuffer::Frame frame = zbtest::next_frame(reader);
    const fm::FrameMeta meta = decoded(frame);
    ASSERT_TRUE(meta.audio.has_value());
    EXPECT_EQ(*meta.audio, (fm::AudioLayout{100, {0, 256}}));
    EXPECT_EQ(frame.payload().size(), 456u);
}

TEST(Metas, SourceGivesPlanarAudioItsAudioMeta)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, planar_format());
    HarnessPtr harness = zbtest::src_harness(ring);
    gst_harness_play(harness.get());
    // Without a layout record: packed planes. With one: its offsets.
    write_with_meta(writer, 400, {});
    fm::FrameMeta layout;
    layout.audio = fm::AudioLayout{100, {0, 256}};
    std::vector<std::byte> bytes;
    fm::encode(layout, bytes);
    write_with_meta(writer, 456, bytes);
    for (const auto& [samples, second] : {std::pair<gsize, gsize>{100, 200}, std::pair<gsize, gsize>{100, 256}}) {
        BufferPtr buffer(gst_harness_pull(harness.get()));
        ASSERT_NE(buffer, nullptr);
        GstAudioMeta* meta = gst_buffer_get_audio_meta(buffer.get());
        ASSERT_NE(meta, nullptr);
        EXPECT_EQ(meta->samples, samples);
        ASSERT_NE(meta->offsets, nullptr);
        EXPECT_EQ(meta->offsets[0], 0u);
        EXPECT_EQ(meta->offsets[1], second);
    }
}

// Planes that overlap or run past the frame never reach GstAudioMeta (whose own checks would only print criticals).
TEST(Metas, HostileAudioLayoutIsAnError)
{
    RingName ring;
    zerobuffer::Writer writer = zbtest::make_writer(ring, planar_format());
    zbtest::PipelinePtr pipeline(
        gst_parse_launch(("zerobuffersrc ring=" + ring.str() + " ! fakesink").c_str(), nullptr));
    zbtest::BusPtr bus(gst_element_get_bus(pipeline.get()));
    fm::FrameMeta layout;
    layout.audio = fm::AudioLayout{100, {0, 100}}; // 200-byte planes 100 bytes apart
    std::vector<std::byte> bytes;
    fm::encode(layout, bytes);
    gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
    write_with_meta(writer, 400, bytes);
    const std::string error = zbtest::wait_message_text(bus.get(), GST_MESSAGE_ERROR, 5s);
    EXPECT_NE(error.find("two audio planes overlap"), std::string::npos) << error;
}
