// SPDX-License-Identifier: MIT
// Unit tests of stream metadata generations in the ring and of the StreamFormat JSON schema.
#include <nlohmann/json.hpp>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Fraction;
using zerobuffer::FrameInfo;
using zerobuffer::PlaneLayout;
using zerobuffer::Reader;
using zerobuffer::StreamFormat;
using zerobuffer::Writer;

class StreamMetadata : public RingTest {};
class StreamFormatJson : public ::testing::Test {};

std::string doc(int width)
{
    StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.width = static_cast<std::uint32_t>(width);
    format.height = 48;
    format.pixel_format = "I420";
    return zerobuffer::to_json(format);
}

zerobuffer::Result<void> write_pts(Writer& writer, std::int64_t pts)
{
    FrameInfo info;
    info.pts = pts;
    const std::byte data[2] = {std::byte{1}, std::byte{2}};
    return writer.write(data, info);
}

TEST_F(StreamMetadata, EmptyUntilSetThenCurrentBeforeAnyFrame)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto early = Reader::attach(name);
    ASSERT_TRUE(is_ok(early));
    EXPECT_EQ(early->stream_metadata(), "");
    auto generation = writer->set_stream_metadata(doc(64));
    ASSERT_TRUE(is_ok(generation));
    EXPECT_GT(*generation, 0u);
    auto late = Reader::attach(name);
    ASSERT_TRUE(is_ok(late));
    EXPECT_EQ(late->stream_metadata(), doc(64)) << "before any frame: the ring's current document";
    EXPECT_EQ(late->stream_metadata_generation(), *generation);
    EXPECT_EQ(writer->counters().format_changes, 1u);
}

TEST_F(StreamMetadata, GenerationsIncreaseAndFramesCarryTheirs)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    std::uint32_t previous = 0;
    for (int change = 1; change <= 20; ++change) {
        auto generation = writer->set_stream_metadata(doc(change));
        ASSERT_TRUE(is_ok(generation));
        EXPECT_GT(*generation, previous) << "generations increase";
        previous = *generation;
        const int frames = 1 + change % 3;
        for (int f = 0; f < frames; ++f) {
            ASSERT_TRUE(is_ok(write_pts(*writer, change * 100 + f)));
            auto frame = reader->acquire(1s);
            ASSERT_TRUE(is_ok(frame));
            EXPECT_EQ(frame->format_generation(), *generation);
            EXPECT_EQ(frame->format_changed(), f == 0) << "change " << change << " frame " << f;
            EXPECT_EQ(reader->stream_metadata(), doc(change));
            EXPECT_EQ(reader->stream_metadata_generation(), *generation);
        }
    }
    EXPECT_EQ(writer->counters().format_changes, 20u);
}

TEST_F(StreamMetadata, LaggingReaderSeesTheDocumentOfEachFramesGeneration)
{
    // The writer changes the format several times while the reader has not read yet; the reader must still see,
    // for each frame, the document that was in effect when that frame was committed.
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(64 * 1024));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    struct Expect {
        std::int64_t pts;
        std::uint32_t generation;
        bool changed;
        int width;
    };
    std::vector<Expect> expected;
    std::int64_t pts = 0;
    for (int change = 1; change <= 4; ++change) {
        auto generation = writer->set_stream_metadata(doc(change * 16));
        ASSERT_TRUE(is_ok(generation));
        for (int f = 0; f < change; ++f, ++pts) {
            ASSERT_TRUE(is_ok(write_pts(*writer, pts)));
            expected.push_back({pts, *generation, f == 0, change * 16});
        }
    }
    // A change with no frame after it, then one more frame generation.
    ASSERT_TRUE(is_ok(writer->set_stream_metadata(doc(999))));
    auto last_generation = writer->set_stream_metadata(doc(1000));
    ASSERT_TRUE(is_ok(last_generation));
    ASSERT_TRUE(is_ok(write_pts(*writer, pts)));
    expected.push_back({pts, *last_generation, true, 1000});

    for (const auto& want : expected) {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(frame->info().pts, want.pts);
        EXPECT_EQ(frame->format_generation(), want.generation) << "pts " << want.pts;
        EXPECT_EQ(frame->format_changed(), want.changed) << "pts " << want.pts;
        EXPECT_EQ(reader->stream_metadata(), doc(want.width)) << "pts " << want.pts;
        EXPECT_EQ(reader->stream_metadata_generation(), want.generation);
    }
}

TEST_F(StreamMetadata, DocumentsUpToCapacityAndNotBeyond)
{
    const auto name = ring_name();
    auto options = small_ring();
    options.metadata_capacity = 1024;
    auto writer = Writer::create(name, options);
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    // A valid JSON document of a given length.
    auto sized = [](std::size_t length) {
        std::string text = R"({"schema":"zerobuffer.stream-format/1","media_type":"application/octet-stream","pad":")";
        const std::string tail = "\"}";
        text.append(length - text.size() - tail.size(), 'x');
        return text + tail;
    };
    auto too_big = writer->set_stream_metadata(sized(4096));
    EXPECT_TRUE(is_error(too_big, Errc::InvalidArgument));
    auto generation = writer->set_stream_metadata(sized(900));
    ASSERT_TRUE(is_ok(generation));
    ASSERT_TRUE(is_ok(write_pts(*writer, 1)));
    auto frame = reader->acquire(1s);
    ASSERT_TRUE(is_ok(frame));
    EXPECT_EQ(reader->stream_metadata(), sized(900));
    EXPECT_EQ(frame->format_generation(), *generation);
}

TEST_F(StreamFormatJson, FullFormatRoundTrips)
{
    StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.width = 1920;
    format.height = 1080;
    format.pixel_format = "NV12";
    format.planes = {PlaneLayout{0, 2048}, PlaneLayout{2048u * 1080u, 2048}};
    format.frame_size = 2048u * 1080u * 3u / 2u;
    format.framerate = Fraction{30000, 1001};
    format.pixel_aspect_ratio = Fraction{1, 1};
    format.caps = "video/x-raw, format=(string)NV12, width=(int)1920, height=(int)1080";
    format.time_base = Fraction{1, 90000};
    format.extra_json = R"({"camera":"front","exposure_us":1234})";
    const std::string json = zerobuffer::to_json(format);
    auto parsed = zerobuffer::parse_stream_format(json);
    ASSERT_TRUE(is_ok(parsed)) << json;
    EXPECT_EQ(parsed->media_type, format.media_type);
    EXPECT_EQ(parsed->planes, format.planes);
    EXPECT_EQ(parsed->framerate, format.framerate);
    EXPECT_EQ(parsed->time_base, format.time_base);
    EXPECT_EQ(nlohmann::json::parse(parsed->extra_json), nlohmann::json::parse(format.extra_json));
    StreamFormat normalised = *parsed;
    normalised.extra_json = format.extra_json;
    EXPECT_EQ(normalised, format) << json;
    // Serialising the parsed value gives the same document.
    EXPECT_EQ(nlohmann::json::parse(zerobuffer::to_json(*parsed)), nlohmann::json::parse(json));
    // The document names its schema.
    EXPECT_EQ(nlohmann::json::parse(json).at("schema").get<std::string>(), zerobuffer::kStreamFormatSchema);
}

TEST_F(StreamFormatJson, AudioAndEncodedFormatsRoundTrip)
{
    StreamFormat audio;
    audio.media_type = "audio/x-raw";
    audio.codec = "pcm_s16le";
    audio.sample_rate = 48000;
    audio.channels = 2;
    audio.sample_format = "S16LE";
    auto parsed_audio = zerobuffer::parse_stream_format(zerobuffer::to_json(audio));
    ASSERT_TRUE(is_ok(parsed_audio));
    EXPECT_EQ(*parsed_audio, audio);

    StreamFormat h264;
    h264.media_type = "video/x-h264";
    h264.codec = "h264";
    h264.width = 640;
    h264.height = 360;
    // Codec private data is raw bytes: NUL, high bytes, quotes and backslashes must survive.
    h264.codec_extradata = std::string("\x00\x00\x00\x01\x67\xff\xfe\"\\\n", 10);
    auto parsed_h264 = zerobuffer::parse_stream_format(zerobuffer::to_json(h264));
    ASSERT_TRUE(is_ok(parsed_h264));
    EXPECT_EQ(parsed_h264->codec_extradata, h264.codec_extradata);
    EXPECT_EQ(*parsed_h264, h264);

    StreamFormat minimal;
    minimal.media_type = "application/octet-stream";
    auto parsed_minimal = zerobuffer::parse_stream_format(zerobuffer::to_json(minimal));
    ASSERT_TRUE(is_ok(parsed_minimal));
    EXPECT_EQ(*parsed_minimal, minimal);
    EXPECT_FALSE(parsed_minimal->width.has_value());
}

TEST_F(StreamFormatJson, UnknownKeysAreKeptInExtraJson)
{
    const std::string json = R"({"schema":"zerobuffer.stream-format/1","media_type":"video/x-raw","vendor_thing":[1,2,3]})";
    auto parsed = zerobuffer::parse_stream_format(json);
    ASSERT_TRUE(is_ok(parsed));
    EXPECT_EQ(parsed->media_type, "video/x-raw");
    ASSERT_FALSE(parsed->extra_json.empty());
    const auto extra = nlohmann::json::parse(parsed->extra_json);
    EXPECT_EQ(extra.at("vendor_thing"), nlohmann::json::parse("[1,2,3]"));
}

TEST_F(StreamFormatJson, InvalidDocumentsAreRefusedWithAMessage)
{
    const std::vector<std::string> bad = {
        "",
        "not json",
        "{",
        R"({"schema":"zerobuffer.stream-format/1","media_type":"video/x-raw")", // truncated
        "[]",
        "42",
        R"({"schema":"zerobuffer.stream-format/1"})",                              // media_type missing
        R"({"schema":"zerobuffer.stream-format/1","media_type":5})",               // wrong type
        R"({"schema":"zerobuffer.stream-format/1","media_type":""})",              // empty
        R"({"schema":"zerobuffer.stream-format/1","media_type":"v","width":"wide"})",
        R"({"schema":"zerobuffer.stream-format/1","media_type":"v","planes":[{"offset":"x"}]})",
        R"({"schema":"zerobuffer.stream-format/1","media_type":"v","framerate":"fast"})",
    };
    for (const auto& json : bad) {
        SCOPED_TRACE("document: " + json);
        auto parsed = zerobuffer::parse_stream_format(json);
        EXPECT_TRUE(is_error_in(parsed, {Errc::InvalidArgument, Errc::CorruptSegment}));
    }
    // Another version of the schema is refused too (a version mismatch is the natural code for it).
    auto other = zerobuffer::parse_stream_format(R"({"schema":"zerobuffer.stream-format/99","media_type":"video/x-raw"})");
    EXPECT_TRUE(is_error_in(other, {Errc::InvalidArgument, Errc::VersionMismatch, Errc::CorruptSegment}));
}

TEST_F(StreamFormatJson, OutOfRangeNumbersAreRefusedNotTruncated)
{
    // Numbers of the right JSON type but outside the field's range must not wrap silently into a different
    // value (a width of -5 must not become 4294967291).
    const std::vector<std::string> bad = {
        R"({"schema":"zerobuffer.stream-format/1","media_type":"v","width":-5})",
        R"({"schema":"zerobuffer.stream-format/1","media_type":"v","height":99999999999})",
        R"({"schema":"zerobuffer.stream-format/1","media_type":"v","sample_rate":-1})",
        R"({"schema":"zerobuffer.stream-format/1","media_type":"v","frame_size":-1})",
        R"({"schema":"zerobuffer.stream-format/1","media_type":"v","framerate":{"num":99999999999,"den":1}})",
    };
    for (const auto& json : bad) {
        SCOPED_TRACE("document: " + json);
        auto parsed = zerobuffer::parse_stream_format(json);
        EXPECT_TRUE(is_error(parsed, Errc::InvalidArgument))
            << (parsed ? "parsed as width " + std::to_string(parsed->width.value_or(0)) + ", height " +
                             std::to_string(parsed->height.value_or(0)) + ", sample_rate " +
                             std::to_string(parsed->sample_rate.value_or(0)) + ", frame_size " +
                             std::to_string(parsed->frame_size.value_or(0)) + ", framerate num " +
                             std::to_string(parsed->framerate ? parsed->framerate->num : 0)
                       : std::string());
    }
}

} // namespace
