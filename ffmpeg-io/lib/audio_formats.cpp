// SPDX-License-Identifier: MIT
// FFmpeg audio <-> ZeroBuffer stream metadata (see audio_formats.h).
#include "audio_formats.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "formats.h"

extern "C" {
#include <libavcodec/codec_desc.h>
}

namespace zbffmpeg {
namespace {

struct SampleFormatName {
    AVSampleFormat packed;
    AVSampleFormat planar;
    std::string_view gst_name;
};

// Host byte order is little-endian on every platform we build for (docs/building.md).
constexpr std::array kSampleFormats{
    SampleFormatName{AV_SAMPLE_FMT_U8, AV_SAMPLE_FMT_U8P, "U8"},
    SampleFormatName{AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P, "S16LE"},
    SampleFormatName{AV_SAMPLE_FMT_S32, AV_SAMPLE_FMT_S32P, "S32LE"},
    SampleFormatName{AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_FLTP, "F32LE"},
    SampleFormatName{AV_SAMPLE_FMT_DBL, AV_SAMPLE_FMT_DBLP, "F64LE"},
};

std::string hex(const std::uint8_t* data, int size)
{
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    text.reserve(static_cast<std::size_t>(size) * 2);
    for (int i = 0; i < size; ++i) {
        text += kDigits[data[i] >> 4];
        text += kDigits[data[i] & 0xf];
    }
    return text;
}

std::optional<zerobuffer::Fraction> fraction_of(AVRational rational)
{
    if (rational.num <= 0 || rational.den <= 0) {
        return std::nullopt;
    }
    return zerobuffer::Fraction{rational.num, rational.den};
}

} // namespace

std::string_view gst_audio_format_name(AVSampleFormat format) noexcept
{
    for (const SampleFormatName& entry : kSampleFormats) {
        if (entry.packed == format || entry.planar == format) {
            return entry.gst_name;
        }
    }
    return {};
}

AVSampleFormat sample_format_from_gst(std::string_view name, bool planar) noexcept
{
    for (const SampleFormatName& entry : kSampleFormats) {
        if (entry.gst_name == name) {
            return planar ? entry.planar : entry.packed;
        }
    }
    return AV_SAMPLE_FMT_NONE;
}

Result<zerobuffer::StreamFormat> raw_audio_stream_format(AVSampleFormat format, int sample_rate, int channels,
                                                         AVRational time_base)
{
    const std::string_view name = gst_audio_format_name(format);
    if (name.empty()) {
        const char* av_name = av_get_sample_fmt_name(format);
        return make_error(FfmpegIoErrc::Unsupported,
                          std::string("the audio decoder gives ") + (av_name != nullptr ? av_name : "unknown") +
                              " samples, which have no GStreamer name: use --audio-no-decode to pass the audio through");
    }
    if (sample_rate <= 0 || channels <= 0 || channels > 64) {
        return make_error(FfmpegIoErrc::InputInvalid, "the input's audio has " + std::to_string(channels) +
                                                          " channels at " + std::to_string(sample_rate) +
                                                          " Hz: need 1 to 64 channels and a sample rate");
    }
    zerobuffer::StreamFormat stream;
    stream.media_type = "audio/x-raw";
    stream.codec = "raw";
    stream.sample_rate = static_cast<std::uint32_t>(sample_rate);
    stream.channels = static_cast<std::uint32_t>(channels);
    stream.sample_format = std::string(name);
    stream.time_base = fraction_of(time_base);
    stream.extra_json = av_sample_fmt_is_planar(format) != 0 ? R"({"layout":"non-interleaved"})"
                                                             : R"({"layout":"interleaved"})";
    return stream;
}

Result<zerobuffer::StreamFormat> encoded_audio_stream_format(const AVCodecParameters& parameters,
                                                             AVRational time_base)
{
    const AVCodecDescriptor* descriptor = avcodec_descriptor_get(parameters.codec_id);
    if (descriptor == nullptr) {
        return make_error(FfmpegIoErrc::Unsupported, "the input's audio codec is unknown to FFmpeg");
    }
    const int channels = parameters.ch_layout.nb_channels;
    if (parameters.sample_rate <= 0 || channels <= 0 || channels > 64) {
        return make_error(FfmpegIoErrc::InputInvalid, "the input's " + std::string(descriptor->name) +
                                                          " audio gives no sample rate or channel count");
    }
    zerobuffer::StreamFormat stream;
    stream.codec = descriptor->name;
    stream.sample_rate = static_cast<std::uint32_t>(parameters.sample_rate);
    stream.channels = static_cast<std::uint32_t>(channels);
    stream.time_base = fraction_of(time_base);
    if (parameters.extradata != nullptr && parameters.extradata_size > 0) {
        stream.codec_extradata.assign(reinterpret_cast<const char*>(parameters.extradata),
                                      static_cast<std::size_t>(parameters.extradata_size));
    }
    const std::string rate_channels =
        ", rate=(int)" + std::to_string(parameters.sample_rate) + ", channels=(int)" + std::to_string(channels);
    switch (parameters.codec_id) {
    case AV_CODEC_ID_AAC:
        stream.media_type = "audio/mpeg";
        // mp4/mkv carry raw access units and an AudioSpecificConfig; other containers (ts, .aac) carry ADTS.
        stream.extra_json = stream.codec_extradata.empty() ? R"({"stream_format":"adts"})" : R"({"stream_format":"raw"})";
        stream.caps = "audio/mpeg, mpegversion=(int)4, stream-format=(string)" +
                      std::string(stream.codec_extradata.empty() ? "adts" : "raw") + rate_channels;
        if (!stream.codec_extradata.empty()) {
            stream.caps += ", codec_data=(buffer)" + hex(parameters.extradata, parameters.extradata_size);
        }
        break;
    case AV_CODEC_ID_MP3:
        stream.media_type = "audio/mpeg";
        stream.caps = "audio/mpeg, mpegversion=(int)1, layer=(int)3, parsed=(boolean)true" + rate_channels;
        break;
    case AV_CODEC_ID_OPUS: stream.media_type = "audio/x-opus"; break;
    case AV_CODEC_ID_FLAC: stream.media_type = "audio/x-flac"; break;
    default: stream.media_type = "application/octet-stream"; break;
    }
    return stream;
}

bool is_planar_audio(const zerobuffer::StreamFormat& format)
{
    return extra_string(format, "layout") == "non-interleaved";
}

} // namespace zbffmpeg
