// SPDX-License-Identifier: MIT
// zb-relay-peer's known stream: formats, FrameInfo, blobs and payload bytes derived from the frame index, so that a
// reader checks every byte of what came through the relays.
#include <array>
#include <cstdio>
#include <cstring>

#include "peer.h"

namespace zerobuffer::relay::test {

/// The stream format in effect for frame `index`.
StreamFormat format_for(const Options& options, std::uint64_t index)
{
    const bool changed = index >= options.format_change_at;
    const std::uint32_t width = changed ? options.width / 2 : options.width;
    const std::uint32_t height = changed ? options.height / 2 : options.height;
    StreamFormat format;
    format.width = width;
    format.height = height;
    format.framerate = Fraction{60, 1};
    if (options.encoded) {
        format.media_type = "video/x-h264";
        format.codec = "h264";
        format.codec_extradata = std::string("\x00\x00\x00\x01\x67\x42\x00\x1f\x00\x00\x00\x01\x68\xce", 14);
        format.extra_json = R"({"alignment":"au","stream_format":"byte-stream"})";
        return format;
    }
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "I420";
    const std::uint64_t luma = std::uint64_t{width} * height;
    format.planes = {PlaneLayout{0, width}, PlaneLayout{luma, width / 2}, PlaneLayout{luma + luma / 4, width / 2}};
    format.frame_size = luma * 3 / 2;
    format.pixel_aspect_ratio = Fraction{1, 1};
    return format;
}

bool is_keyframe(const Options& options, std::uint64_t index)
{
    return index % options.gop == 0;
}

std::size_t payload_size_for(const Options& options, std::uint64_t index)
{
    const StreamFormat format = format_for(options, index);
    if (!options.encoded)
        return static_cast<std::size_t>(*format.frame_size);
    // Keyframes are big, the others vary, as in a real H.264 stream.
    return is_keyframe(options, index) ? 120'000 + index % 7 * 1000 : 8'000 + (index * 7919) % 20'000;
}

FrameInfo info_for(const Options& options, std::uint64_t index)
{
    FrameInfo info;
    info.pts = static_cast<std::int64_t>(index) * kFrameDuration + 1000;
    info.dts = info.pts - 500;
    info.duration = kFrameDuration;
    info.offset = index;
    info.offset_end = index + 1;
    if (options.encoded)
        info.flags = is_keyframe(options, index) ? kFrameKeyframe : (index % 2 == 1 ? kFrameDroppable : kFrameNone);
    else
        info.flags = kFrameKeyframe;
    info.flags |= static_cast<std::uint32_t>(index & 0xff) << kFrameUserShift;
    return info;
}

std::string blob_for(std::uint64_t index)
{
    if (index % 7 == 3)
        return {}; // Some frames carry no metadata blob at all.
    std::string blob;
    for (std::uint64_t i = 0; i <= index % 5; ++i)
        blob += "frame=" + std::to_string(index) + ";";
    return blob;
}

namespace {

std::uint64_t word_for(std::uint64_t index, std::size_t position)
{
    return (index + 1) * 0x9E3779B97F4A7C15ULL + position;
}

} // namespace

void fill_payload(std::span<std::byte> payload, std::uint64_t index, bool encoded, bool keyframe)
{
    const std::size_t words = payload.size() / 8;
    for (std::size_t i = 0; i < words; ++i) {
        const std::uint64_t word = word_for(index, i);
        std::memcpy(payload.data() + i * 8, &word, 8);
    }
    for (std::size_t i = words * 8; i < payload.size(); ++i)
        payload[i] = static_cast<std::byte>(index + i);
    if (encoded && payload.size() >= 5) {
        // An Annex-B start code and NAL type (5 = IDR slice, 1 = other slice) as a real access unit has.
        const std::array<std::byte, 5> start{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1},
                                             keyframe ? std::byte{0x65} : std::byte{0x41}};
        std::memcpy(payload.data(), start.data(), start.size());
    }
}

bool payload_matches(const Options& options, std::span<const std::byte> payload, std::uint64_t index)
{
    thread_local std::vector<std::byte> expected;
    expected.resize(payload.size());
    fill_payload(expected, index, options.encoded, is_keyframe(options, index));
    return std::memcmp(expected.data(), payload.data(), payload.size()) == 0;
}

int fail(const std::string& message)
{
    std::fprintf(stderr, "zb-relay-peer: error: %s\n", message.c_str());
    return 1;
}

} // namespace zerobuffer::relay::test
