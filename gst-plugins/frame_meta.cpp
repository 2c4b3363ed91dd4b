// SPDX-License-Identifier: MIT
// Encoder and bounds-checked decoder of the per-frame metadata format (see frame_meta.h).
#include "frame_meta.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace zerobuffer::gst::frame_meta {

static_assert(std::endian::native == std::endian::little, "the format is little-endian; add byte swaps to port it");

namespace {

constexpr std::size_t kRecordHeaderSize = 8;

constexpr std::size_t padded(std::size_t size)
{
    return (size + 7) / 8 * 8;
}

/// Appends little-endian fields to a byte vector.
class Writer {
public:
    explicit Writer(std::vector<std::byte>& out) : out_(out) {}

    template <typename T>
    requires std::is_arithmetic_v<T>
    void put(T value)
    {
        const std::size_t at = out_.size();
        out_.resize(at + sizeof value);
        std::memcpy(out_.data() + at, &value, sizeof value);
    }
    void put_bytes(std::span<const std::byte> bytes)
    {
        put(static_cast<std::uint32_t>(bytes.size()));
        out_.insert(out_.end(), bytes.begin(), bytes.end());
    }
    void put_string(std::string_view text) { put_bytes(std::as_bytes(std::span(text.data(), text.size()))); }

    /// Starts a record; end_record() fills in its size and pads it.
    std::size_t begin_record(RecordType type)
    {
        put(static_cast<std::uint16_t>(type));
        put(std::uint16_t{0});
        put(std::uint32_t{0}); // Body size, filled in by end_record.
        return out_.size();
    }
    void end_record(std::size_t body_start)
    {
        const auto body_size = static_cast<std::uint32_t>(out_.size() - body_start);
        std::memcpy(out_.data() + body_start - sizeof body_size, &body_size, sizeof body_size);
        out_.resize(body_start + padded(body_size), std::byte{0});
    }

private:
    std::vector<std::byte>& out_;
};

/// Reads little-endian fields from untrusted bytes; every read is checked, the first failure sticks.
class Reader {
public:
    Reader(std::span<const std::byte> bytes, const char* what) : bytes_(bytes), what_(what) {}

    template <typename T>
    requires std::is_arithmetic_v<T> T get()
    {
        T value{};
        if (!take(sizeof value))
            return value;
        std::memcpy(&value, bytes_.data() + position_ - sizeof value, sizeof value);
        return value;
    }
    std::span<const std::byte> get_bytes(std::size_t limit)
    {
        const auto size = get<std::uint32_t>();
        if (failed_)
            return {};
        if (size > limit) {
            fail("holds " + std::to_string(size) + " bytes, more than the limit of " + std::to_string(limit));
            return {};
        }
        if (!take(size))
            return {};
        return bytes_.subspan(position_ - size, size);
    }
    std::string get_string()
    {
        const std::span<const std::byte> bytes = get_bytes(kMaxString);
        return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    }
    std::uint32_t get_count(std::size_t limit)
    {
        const auto count = get<std::uint32_t>();
        if (!failed_ && count > limit)
            fail("lists " + std::to_string(count) + " items, more than the limit of " + std::to_string(limit));
        return failed_ ? 0 : count;
    }
    void fail(const std::string& why)
    {
        if (!failed_)
            error_ = std::string(what_) + " " + why;
        failed_ = true;
    }
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

private:
    bool take(std::size_t size)
    {
        if (failed_)
            return false;
        if (size > bytes_.size() - position_) {
            fail("runs past its end (" + std::to_string(bytes_.size()) + " bytes)");
            return false;
        }
        position_ += size;
        return true;
    }

    std::span<const std::byte> bytes_;
    const char* what_;
    std::size_t position_ = 0;
    bool failed_ = false;
    std::string error_;
};

void encode_segment(Writer& out, const Segment& segment)
{
    const std::size_t body = out.begin_record(RecordType::Segment);
    out.put(segment.flags);
    out.put(std::uint32_t{0});
    out.put(segment.rate);
    out.put(segment.applied_rate);
    for (const std::uint64_t value :
         {segment.base, segment.offset, segment.start, segment.stop, segment.time, segment.duration})
        out.put(value);
    out.end_record(body);
}

bool decode_segment(Reader& in, Segment& segment)
{
    segment.flags = in.get<std::uint32_t>();
    (void)in.get<std::uint32_t>();
    segment.rate = in.get<double>();
    segment.applied_rate = in.get<double>();
    for (std::uint64_t* value :
         {&segment.base, &segment.offset, &segment.start, &segment.stop, &segment.time, &segment.duration})
        *value = in.get<std::uint64_t>();
    if (!in.failed() && (!std::isfinite(segment.rate) || segment.rate == 0.0 || !std::isfinite(segment.applied_rate) ||
                         segment.applied_rate == 0.0))
        in.fail("has a rate that is zero or not a number");
    return !in.failed();
}

void encode_audio(Writer& out, const AudioLayout& audio)
{
    const std::size_t body = out.begin_record(RecordType::AudioLayout);
    out.put(audio.samples);
    out.put(static_cast<std::uint32_t>(audio.offsets.size()));
    for (const std::uint64_t offset : audio.offsets)
        out.put(offset);
    out.end_record(body);
}

bool decode_audio(Reader& in, AudioLayout& audio)
{
    audio.samples = in.get<std::uint32_t>();
    const std::uint32_t channels = in.get_count(kMaxChannels);
    audio.offsets.resize(channels);
    for (std::uint64_t& offset : audio.offsets)
        offset = in.get<std::uint64_t>();
    return !in.failed();
}

void encode_region(Writer& out, const RegionOfInterest& region)
{
    const std::size_t body = out.begin_record(RecordType::RegionOfInterest);
    out.put(region.id);
    out.put(region.parent_id);
    for (const std::uint32_t value : {region.x, region.y, region.w, region.h})
        out.put(value);
    out.put_string(region.type);
    out.put(static_cast<std::uint32_t>(region.params.size()));
    for (const std::string& param : region.params)
        out.put_string(param);
    out.end_record(body);
}

bool decode_region(Reader& in, RegionOfInterest& region)
{
    region.id = in.get<std::int32_t>();
    region.parent_id = in.get<std::int32_t>();
    for (std::uint32_t* value : {&region.x, &region.y, &region.w, &region.h})
        *value = in.get<std::uint32_t>();
    region.type = in.get_string();
    const std::uint32_t params = in.get_count(kMaxItems);
    for (std::uint32_t i = 0; i < params && !in.failed(); ++i)
        region.params.push_back(in.get_string());
    return !in.failed();
}

void encode_timecode(Writer& out, const TimeCode& timecode)
{
    const std::size_t body = out.begin_record(RecordType::TimeCode);
    for (const std::uint32_t value : {timecode.fps_n, timecode.fps_d, timecode.flags, timecode.hours, timecode.minutes,
                                      timecode.seconds, timecode.frames, timecode.field_count})
        out.put(value);
    out.put_string(timecode.daily_jam);
    out.end_record(body);
}

bool decode_timecode(Reader& in, TimeCode& timecode)
{
    for (std::uint32_t* value : {&timecode.fps_n, &timecode.fps_d, &timecode.flags, &timecode.hours, &timecode.minutes,
                                 &timecode.seconds, &timecode.frames, &timecode.field_count})
        *value = in.get<std::uint32_t>();
    timecode.daily_jam = in.get_string();
    return !in.failed();
}

void encode_reference(Writer& out, const ReferenceTimestamp& reference)
{
    const std::size_t body = out.begin_record(RecordType::ReferenceTimestamp);
    out.put(reference.timestamp);
    out.put(reference.duration);
    out.put_string(reference.reference);
    out.end_record(body);
}

bool decode_reference(Reader& in, ReferenceTimestamp& reference)
{
    reference.timestamp = in.get<std::uint64_t>();
    reference.duration = in.get<std::uint64_t>();
    reference.reference = in.get_string();
    return !in.failed();
}

void encode_custom(Writer& out, const CustomMeta& custom)
{
    const std::size_t body = out.begin_record(RecordType::CustomMeta);
    out.put_string(custom.name);
    out.put_string(custom.structure);
    out.end_record(body);
}

bool decode_custom(Reader& in, CustomMeta& custom)
{
    custom.name = in.get_string();
    custom.structure = in.get_string();
    return !in.failed();
}

void encode_user_data(Writer& out, std::span<const std::byte> data)
{
    const std::size_t body = out.begin_record(RecordType::UserData);
    out.put_bytes(data);
    out.end_record(body);
}

// Decodes one record body into `meta`; unknown types are skipped. Returns an error text, empty on success.
std::string decode_record(RecordType type, std::span<const std::byte> body, FrameMeta& meta)
{
    const auto grows = [](std::size_t size, const char* what) {
        return size >= kMaxItems ? std::string("more than ") + std::to_string(kMaxItems) + " " + what : std::string();
    };
    switch (type) {
    case RecordType::Segment: {
        Reader in(body, "the segment record");
        Segment segment;
        if (!decode_segment(in, segment))
            return in.error();
        meta.segment = segment;
        return {};
    }
    case RecordType::AudioLayout: {
        Reader in(body, "the audio layout record");
        AudioLayout audio;
        if (!decode_audio(in, audio))
            return in.error();
        meta.audio = std::move(audio);
        return {};
    }
    case RecordType::RegionOfInterest: {
        if (std::string error = grows(meta.regions.size(), "regions of interest"); !error.empty())
            return error;
        Reader in(body, "a region-of-interest record");
        RegionOfInterest region;
        if (!decode_region(in, region))
            return in.error();
        meta.regions.push_back(std::move(region));
        return {};
    }
    case RecordType::TimeCode: {
        Reader in(body, "the timecode record");
        TimeCode timecode;
        if (!decode_timecode(in, timecode))
            return in.error();
        meta.timecode = std::move(timecode);
        return {};
    }
    case RecordType::ReferenceTimestamp: {
        if (std::string error = grows(meta.references.size(), "reference timestamps"); !error.empty())
            return error;
        Reader in(body, "a reference-timestamp record");
        ReferenceTimestamp reference;
        if (!decode_reference(in, reference))
            return in.error();
        meta.references.push_back(std::move(reference));
        return {};
    }
    case RecordType::UserData: {
        Reader in(body, "the user-data record");
        const std::span<const std::byte> data = in.get_bytes(kMaxSize);
        if (in.failed())
            return in.error();
        meta.user_data.emplace(data.begin(), data.end());
        return {};
    }
    case RecordType::CustomMeta: {
        if (std::string error = grows(meta.custom.size(), "custom metas"); !error.empty())
            return error;
        Reader in(body, "a custom-meta record");
        CustomMeta custom;
        if (!decode_custom(in, custom))
            return in.error();
        meta.custom.push_back(std::move(custom));
        return {};
    }
    }
    return {}; // A record type of a later version: skipped.
}

} // namespace

void FrameMeta::clear()
{
    segment.reset();
    audio.reset();
    regions.clear();
    timecode.reset();
    references.clear();
    custom.clear();
    user_data.reset();
}

void encode(const FrameMeta& meta, std::vector<std::byte>& out)
{
    out.clear();
    if (meta.empty())
        return;
    Writer writer(out);
    out.insert(out.end(), kMagic.begin(), kMagic.end());
    writer.put(kVersion);
    writer.put(static_cast<std::uint16_t>(kHeaderSize));
    writer.put(std::uint32_t{0}); // Records size, filled in below.
    writer.put(std::uint32_t{0});
    if (meta.segment)
        encode_segment(writer, *meta.segment);
    if (meta.audio)
        encode_audio(writer, *meta.audio);
    for (const RegionOfInterest& region : meta.regions)
        encode_region(writer, region);
    if (meta.timecode)
        encode_timecode(writer, *meta.timecode);
    for (const ReferenceTimestamp& reference : meta.references)
        encode_reference(writer, reference);
    for (const CustomMeta& custom : meta.custom)
        encode_custom(writer, custom);
    if (meta.user_data)
        encode_user_data(writer, *meta.user_data);
    const auto records_size = static_cast<std::uint32_t>(out.size() - kHeaderSize);
    std::memcpy(out.data() + 8, &records_size, sizeof records_size);
}

Result<FrameMeta> decode(std::span<const std::byte> bytes)
{
    FrameMeta meta;
    if (bytes.empty())
        return meta;
    if (bytes.size() < kMagic.size() || !std::equal(kMagic.begin(), kMagic.end(), bytes.begin())) {
        if (bytes.size() > kMaxSize)
            return make_error(Errc::CorruptSegment, "frame metadata of " + std::to_string(bytes.size()) +
                                                        " bytes is larger than the limit of " +
                                                        std::to_string(kMaxSize));
        meta.user_data.emplace(bytes.begin(), bytes.end()); // Another program's own format: carried as it is.
        return meta;
    }
    Reader header(bytes, "the frame metadata header");
    (void)header.get<std::uint32_t>();
    const auto version = header.get<std::uint16_t>();
    const auto header_size = header.get<std::uint16_t>();
    const auto records_size = header.get<std::uint32_t>();
    if (header.failed())
        return make_error(Errc::CorruptSegment, header.error());
    if (version != kVersion)
        return make_error(Errc::VersionMismatch, "frame metadata of version " + std::to_string(version) +
                                                     ", this reader knows version " + std::to_string(kVersion) +
                                                     ": use the same ZeroBuffer release on both sides");
    if (header_size < kHeaderSize || header_size > bytes.size() || records_size > bytes.size() - header_size ||
        bytes.size() > kMaxSize)
        return make_error(Errc::CorruptSegment, "frame metadata header (header " + std::to_string(header_size) +
                                                    " bytes, records " + std::to_string(records_size) +
                                                    " bytes) does not fit in its " + std::to_string(bytes.size()) +
                                                    " bytes");
    std::span<const std::byte> records = bytes.subspan(header_size, records_size);
    while (!records.empty()) {
        if (records.size() < kRecordHeaderSize)
            return make_error(Errc::CorruptSegment, "frame metadata ends inside a record header");
        std::uint16_t type = 0;
        std::uint32_t body_size = 0;
        std::memcpy(&type, records.data(), sizeof type);
        std::memcpy(&body_size, records.data() + 4, sizeof body_size);
        records = records.subspan(kRecordHeaderSize);
        if (body_size > records.size())
            return make_error(Errc::CorruptSegment, "frame metadata record of type " + std::to_string(type) +
                                                        " claims " + std::to_string(body_size) + " bytes, " +
                                                        std::to_string(records.size()) + " are left");
        if (std::string error = decode_record(static_cast<RecordType>(type), records.first(body_size), meta);
            !error.empty())
            return make_error(Errc::CorruptSegment, "frame metadata: " + error);
        records = records.subspan(std::min(padded(body_size), records.size()));
    }
    return meta;
}

} // namespace zerobuffer::gst::frame_meta
