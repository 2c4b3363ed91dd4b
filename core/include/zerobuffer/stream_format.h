// SPDX-License-Identifier: MIT
// The stream-metadata schema shared by every part of ZeroBuffer (core, GStreamer, FFmpeg, relay).
//
// The ring itself carries stream metadata as an opaque JSON document with a generation number; this header
// defines the one schema all our programs write and read, so that a ring written by zb-ingest negotiates
// caps in zerobuffersrc and a ring written by zerobuffersink can be recorded by zb-record.
// The schema is documented in docs/stream-format.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zerobuffer/error.h>

namespace zerobuffer {

/// Identifies this schema inside the JSON document ("schema" key).
inline constexpr std::string_view kStreamFormatSchema = "zerobuffer.stream-format/1";

struct Fraction {
    std::int32_t num = 0;
    std::int32_t den = 1;
    friend bool operator==(const Fraction&, const Fraction&) = default;
};

/// One plane of a raw video frame inside the frame payload.
struct PlaneLayout {
    std::uint64_t offset = 0; ///< Bytes from the start of the payload.
    std::uint32_t stride = 0; ///< Bytes per row.
    friend bool operator==(const PlaneLayout&, const PlaneLayout&) = default;
};

/// What the frames of a stream are. Only media_type is required; the rest is filled where it applies.
struct StreamFormat {
    std::string media_type;                ///< "video/x-raw", "video/x-h264", "audio/x-raw", "application/octet-stream"...
    std::string codec;                     ///< "raw", "h264", "hevc", ... (FFmpeg codec name where one exists).
    std::optional<std::uint32_t> width;
    std::optional<std::uint32_t> height;
    std::string pixel_format;              ///< GStreamer video format name: "I420", "NV12", "RGBA", ...
    std::vector<PlaneLayout> planes;       ///< Raw video: where each plane lives in the payload.
    std::optional<std::uint64_t> frame_size; ///< Raw video: bytes of one frame including padding.
    std::optional<Fraction> framerate;
    std::optional<Fraction> pixel_aspect_ratio;
    std::optional<std::uint32_t> sample_rate; ///< Audio.
    std::optional<std::uint32_t> channels;    ///< Audio.
    std::string sample_format;             ///< Audio: GStreamer audio format name ("S16LE", "F32LE", ...).
    std::string caps;                      ///< GStreamer caps string, when the producer has one.
    std::string codec_extradata;           ///< Encoded streams: codec private data (raw bytes).
    std::optional<Fraction> time_base;     ///< Original time base of the source (timestamps are always ns).
    std::string extra_json;                ///< Any other fields, as a JSON object text ("" or "{...}").

    friend bool operator==(const StreamFormat&, const StreamFormat&) = default;
};

/// Serialises to the JSON document stored in the ring.
[[nodiscard]] std::string to_json(const StreamFormat& format);

/// Parses and validates a stream-metadata document. Unknown keys are kept in extra_json.
[[nodiscard]] Result<StreamFormat> parse_stream_format(std::string_view text);

} // namespace zerobuffer
