// SPDX-License-Identifier: MIT
// JSON (de)serialisation of the stream-metadata schema, with nlohmann_json.
#include <zerobuffer/stream_format.h>

#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>
#include <sodium.h>

namespace zerobuffer {

namespace {

using nlohmann::json;

const char* const kKnownKeys[] = {"schema",      "media_type", "codec",       "width",   "height",
                                  "pixel_format", "planes",     "frame_size",  "framerate", "pixel_aspect_ratio",
                                  "sample_rate", "channels",   "sample_format", "caps",  "codec_extradata",
                                  "time_base"};

json fraction_to_json(const Fraction& fraction) { return json{{"num", fraction.num}, {"den", fraction.den}}; }

std::string to_base64(const std::string& bytes)
{
    if (bytes.empty())
        return {};
    std::string text(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(text.data(), text.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    text.resize(text.size() - 1); // Drop the terminating NUL.
    return text;
}

Result<std::string> from_base64(const std::string& text)
{
    std::string bytes(text.size(), '\0');
    std::size_t length = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), text.data(), text.size(), nullptr,
                          &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
        return make_error(Errc::InvalidArgument, "stream metadata: codec_extradata is not valid base64");
    bytes.resize(length);
    return bytes;
}

/// Converts a JSON number to integer type T, refusing fractions and values T cannot hold (never truncates).
template <typename T>
Result<T> checked_integer(const json& value, const std::string& what)
{
    const auto refuse = [&what]() {
        return make_error(Errc::InvalidArgument, "stream metadata: " + what + " must be an integer from " +
                                                     std::to_string(std::numeric_limits<T>::min()) + " to " +
                                                     std::to_string(std::numeric_limits<T>::max()));
    };
    if (value.is_number_unsigned()) {
        const auto number = value.get<std::uint64_t>();
        if (number > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
            return refuse();
        return static_cast<T>(number);
    }
    if (value.is_number_integer()) {
        const auto number = value.get<std::int64_t>();
        if constexpr (std::is_unsigned_v<T>) {
            if (number < 0)
                return refuse();
            if (static_cast<std::uint64_t>(number) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
                return refuse();
        } else {
            if (number < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
                number > static_cast<std::int64_t>(std::numeric_limits<T>::max()))
                return refuse();
        }
        return static_cast<T>(number);
    }
    return refuse();
}

/// Reads an optional integer field; a present field of the wrong type or range is an error naming the key.
template <typename T>
Result<std::optional<T>> optional_field(const json& document, const char* key)
{
    const auto found = document.find(key);
    if (found == document.end() || found->is_null())
        return std::optional<T>{};
    auto number = checked_integer<T>(*found, std::string("field '") + key + "'");
    if (!number)
        return tl::unexpected(std::move(number.error()));
    return std::optional<T>(*number);
}

Result<std::optional<Fraction>> fraction_field(const json& document, const char* key)
{
    const auto found = document.find(key);
    if (found == document.end() || found->is_null())
        return std::optional<Fraction>{};
    if (!found->is_object() || !found->contains("num") || !found->contains("den"))
        return make_error(Errc::InvalidArgument,
                          std::string("stream metadata: field '") + key + "' must be {\"num\": N, \"den\": D}");
    auto num = checked_integer<std::int32_t>((*found)["num"], std::string("field '") + key + ".num'");
    if (!num)
        return tl::unexpected(std::move(num.error()));
    auto den = checked_integer<std::int32_t>((*found)["den"], std::string("field '") + key + ".den'");
    if (!den)
        return tl::unexpected(std::move(den.error()));
    return std::optional<Fraction>(Fraction{*num, *den});
}

} // namespace

std::string to_json(const StreamFormat& format)
{
    json document = json::object();
    if (!format.extra_json.empty()) {
        json extra = json::parse(format.extra_json, nullptr, false);
        if (extra.is_object())
            document = std::move(extra);
    }
    document["schema"] = kStreamFormatSchema;
    document["media_type"] = format.media_type;
    if (!format.codec.empty())
        document["codec"] = format.codec;
    if (format.width)
        document["width"] = *format.width;
    if (format.height)
        document["height"] = *format.height;
    if (!format.pixel_format.empty())
        document["pixel_format"] = format.pixel_format;
    if (!format.planes.empty()) {
        json planes = json::array();
        for (const PlaneLayout& plane : format.planes)
            planes.push_back({{"offset", plane.offset}, {"stride", plane.stride}});
        document["planes"] = std::move(planes);
    }
    if (format.frame_size)
        document["frame_size"] = *format.frame_size;
    if (format.framerate)
        document["framerate"] = fraction_to_json(*format.framerate);
    if (format.pixel_aspect_ratio)
        document["pixel_aspect_ratio"] = fraction_to_json(*format.pixel_aspect_ratio);
    if (format.sample_rate)
        document["sample_rate"] = *format.sample_rate;
    if (format.channels)
        document["channels"] = *format.channels;
    if (!format.sample_format.empty())
        document["sample_format"] = format.sample_format;
    if (!format.caps.empty())
        document["caps"] = format.caps;
    if (!format.codec_extradata.empty())
        document["codec_extradata"] = to_base64(format.codec_extradata);
    if (format.time_base)
        document["time_base"] = fraction_to_json(*format.time_base);
    return document.dump();
}

Result<StreamFormat> parse_stream_format(std::string_view text)
{
    json document = json::parse(text, nullptr, false);
    if (document.is_discarded())
        return make_error(Errc::InvalidArgument, "stream metadata is not valid JSON");
    if (!document.is_object())
        return make_error(Errc::InvalidArgument, "stream metadata must be a JSON object");
    if (const auto schema = document.find("schema"); schema != document.end() && *schema != kStreamFormatSchema)
        return make_error(Errc::VersionMismatch, "stream metadata uses schema " + schema->dump() + ", expected \"" +
                                                     std::string(kStreamFormatSchema) + "\"");
    StreamFormat format;
    const auto string_field = [&document](const char* key, std::string& out) -> Result<void> {
        const auto found = document.find(key);
        if (found == document.end() || found->is_null())
            return {};
        if (!found->is_string())
            return make_error(Errc::InvalidArgument, std::string("stream metadata: field '") + key + "' must be a string");
        out = found->get<std::string>();
        return {};
    };
    for (auto [key, out] : {std::pair{"media_type", &format.media_type}, std::pair{"codec", &format.codec},
                            std::pair{"pixel_format", &format.pixel_format},
                            std::pair{"sample_format", &format.sample_format}, std::pair{"caps", &format.caps}})
        if (auto ok = string_field(key, *out); !ok)
            return tl::unexpected(std::move(ok.error()));
    if (format.media_type.empty())
        return make_error(Errc::InvalidArgument, "stream metadata: required field 'media_type' is missing");

#define ZB_OPTIONAL(field, type)                                                                                         \
    if (auto value = optional_field<type>(document, #field); !value)                                                    \
        return tl::unexpected(std::move(value.error()));                                                                 \
    else                                                                                                                 \
        format.field = *value;
    ZB_OPTIONAL(width, std::uint32_t)
    ZB_OPTIONAL(height, std::uint32_t)
    ZB_OPTIONAL(frame_size, std::uint64_t)
    ZB_OPTIONAL(sample_rate, std::uint32_t)
    ZB_OPTIONAL(channels, std::uint32_t)
#undef ZB_OPTIONAL
    for (auto [key, out] : {std::pair{"framerate", &format.framerate}, std::pair{"pixel_aspect_ratio", &format.pixel_aspect_ratio},
                            std::pair{"time_base", &format.time_base}}) {
        auto value = fraction_field(document, key);
        if (!value)
            return tl::unexpected(std::move(value.error()));
        *out = *value;
    }
    if (const auto planes = document.find("planes"); planes != document.end() && !planes->is_null()) {
        if (!planes->is_array() || planes->size() > 8)
            return make_error(Errc::InvalidArgument, "stream metadata: 'planes' must be an array of at most 8 planes");
        for (const json& plane : *planes) {
            if (!plane.is_object() || !plane.contains("offset") || !plane.contains("stride"))
                return make_error(Errc::InvalidArgument,
                                  "stream metadata: each plane must be {\"offset\": N, \"stride\": N} with N >= 0");
            auto offset = checked_integer<std::uint64_t>(plane["offset"], "plane offset");
            if (!offset)
                return tl::unexpected(std::move(offset.error()));
            auto stride = checked_integer<std::uint32_t>(plane["stride"], "plane stride");
            if (!stride)
                return tl::unexpected(std::move(stride.error()));
            format.planes.push_back({*offset, *stride});
        }
    }
    if (const auto extradata = document.find("codec_extradata"); extradata != document.end() && !extradata->is_null()) {
        if (!extradata->is_string())
            return make_error(Errc::InvalidArgument, "stream metadata: 'codec_extradata' must be a base64 string");
        auto bytes = from_base64(extradata->get<std::string>());
        if (!bytes)
            return tl::unexpected(std::move(bytes.error()));
        format.codec_extradata = std::move(*bytes);
    }
    for (const char* key : kKnownKeys)
        document.erase(key);
    if (!document.empty())
        format.extra_json = document.dump();
    return format;
}

} // namespace zerobuffer
