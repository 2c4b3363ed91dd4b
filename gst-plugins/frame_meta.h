// SPDX-License-Identifier: MIT
// The per-frame metadata format of the GStreamer elements ("ZBFM" version 1): what a frame carries besides its
// payload (the writer's segment, the audio layout, regions of interest, timecode, reference timestamps, custom
// metas and an application's own bytes), in the frame's metadata area (FrameReservation::metadata(),
// Frame::metadata()). No GStreamer types: programs that use only the core can read and write it too.
//
// Layout (little-endian; docs/stream-format.md, "Per-frame metadata", is the reference):
//   header   u32 magic 'Z','B','F','M' | u16 version (1) | u16 header size (16) | u32 records size | u32 reserved
//   records  u16 type | u16 reserved | u32 body size | body | zero padding to a multiple of 8
// Readers skip records of unknown types, so a later version can add some. decode() trusts nothing: every size,
// count and string is checked against the bytes it has before it is read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <zerobuffer/error.h>

namespace zerobuffer::gst::frame_meta {

inline constexpr std::array<std::byte, 4> kMagic{std::byte{'Z'}, std::byte{'B'}, std::byte{'F'}, std::byte{'M'}};
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 16;
/// The most a decoder reads: larger metadata is refused (a frame's metadata is small; a bigger claim is hostile).
inline constexpr std::size_t kMaxSize = std::size_t{1} << 20;
/// Bounds that keep one record from claiming absurd amounts of work.
inline constexpr std::size_t kMaxString = 64 * 1024;
inline constexpr std::size_t kMaxChannels = 64;
inline constexpr std::size_t kMaxItems = 1024; ///< regions, their params, references and custom metas per frame

/// "Not set" for the 64-bit times below, as GST_CLOCK_TIME_NONE.
inline constexpr std::uint64_t kNone = ~std::uint64_t{0};

enum class RecordType : std::uint16_t {
    Segment = 1,
    AudioLayout = 2,
    RegionOfInterest = 3,
    TimeCode = 4,
    ReferenceTimestamp = 5,
    UserData = 6,
    CustomMeta = 7,
};

/// The writer's segment (GstSegment in TIME format), its base already moved by the writer's timeline offset so
/// that its running time of a pts is the ring's timeline: it never goes back, also across flushing seeks.
struct Segment {
    std::uint32_t flags = 0; ///< GstSegmentFlags
    double rate = 1.0;
    double applied_rate = 1.0;
    std::uint64_t base = 0;
    std::uint64_t offset = 0;
    std::uint64_t start = 0;
    std::uint64_t stop = kNone;
    std::uint64_t time = 0;
    std::uint64_t duration = kNone;
    friend bool operator==(const Segment&, const Segment&) = default;
};

/// Where each channel's samples start in a planar (non-interleaved) audio frame: GstAudioMeta.
struct AudioLayout {
    std::uint32_t samples = 0;
    std::vector<std::uint64_t> offsets; ///< One per channel, bytes from the payload start.
    friend bool operator==(const AudioLayout&, const AudioLayout&) = default;
};

/// GstVideoRegionOfInterestMeta: a rectangle, its type (a GQuark's string), ids and parameter structures.
struct RegionOfInterest {
    std::string type;
    std::int32_t id = 0;
    std::int32_t parent_id = -1;
    std::uint32_t x = 0, y = 0, w = 0, h = 0;
    std::vector<std::string> params; ///< GstStructure text of each parameter ("detection, label=(string)person, ...")
    friend bool operator==(const RegionOfInterest&, const RegionOfInterest&) = default;
};

/// GstVideoTimeCodeMeta.
struct TimeCode {
    std::uint32_t fps_n = 0, fps_d = 1;
    std::uint32_t flags = 0; ///< GstVideoTimeCodeFlags
    std::uint32_t hours = 0, minutes = 0, seconds = 0, frames = 0, field_count = 0;
    std::string daily_jam; ///< ISO 8601 date-time, "" when none
    friend bool operator==(const TimeCode&, const TimeCode&) = default;
};

/// GstReferenceTimestampMeta.
struct ReferenceTimestamp {
    std::string reference; ///< Caps text, e.g. "timestamp/x-ntp"
    std::uint64_t timestamp = kNone;
    std::uint64_t duration = kNone;
    friend bool operator==(const ReferenceTimestamp&, const ReferenceTimestamp&) = default;
};

/// A GstCustomMeta: its registered name and its structure's fields as text.
struct CustomMeta {
    std::string name;
    std::string structure;
    friend bool operator==(const CustomMeta&, const CustomMeta&) = default;
};

/// Everything one frame's metadata says. Metas are kept in the order the writer's buffer listed them.
struct FrameMeta {
    std::optional<Segment> segment;
    std::optional<AudioLayout> audio;
    std::vector<RegionOfInterest> regions;
    std::optional<TimeCode> timecode;
    std::vector<ReferenceTimestamp> references;
    std::vector<CustomMeta> custom;
    std::optional<std::vector<std::byte>> user_data; ///< An application's own bytes.

    [[nodiscard]] bool empty() const noexcept
    {
        return !segment && !audio && regions.empty() && !timecode && references.empty() && custom.empty() && !user_data;
    }
    void clear();
    friend bool operator==(const FrameMeta&, const FrameMeta&) = default;
};

/// Encodes `meta` into `out` (replacing its contents; the vector's capacity is reused, so a writer that keeps one
/// vector allocates only when its metadata grows). An empty FrameMeta encodes to nothing.
void encode(const FrameMeta& meta, std::vector<std::byte>& out);

/// Decodes the metadata of a frame. Empty input gives an empty FrameMeta. Bytes that do not start with the magic
/// were written by a program that does not use this format: they are returned whole as user_data. Bytes that do
/// start with it but break a rule (a size past the end, a string too long, another major version) give
/// Errc::CorruptSegment or Errc::VersionMismatch with a message naming the record.
[[nodiscard]] Result<FrameMeta> decode(std::span<const std::byte> bytes);

} // namespace zerobuffer::gst::frame_meta
