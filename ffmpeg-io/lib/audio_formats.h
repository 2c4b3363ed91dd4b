// SPDX-License-Identifier: MIT
// Mapping between FFmpeg's audio and ZeroBuffer's stream metadata for audio rings (docs/stream-format.md): the
// GStreamer sample format names, the interleaved / non-interleaved layout, and encoded audio's media types.
#pragma once

#include <cstddef>
#include <string_view>

#include <zerobuffer/stream_format.h>

#include "error.h"

extern "C" {
#include <libavcodec/codec_par.h>
#include <libavutil/rational.h>
#include <libavutil/samplefmt.h>
}

namespace zbffmpeg {

/// GStreamer audio format name of an FFmpeg sample format, packed or planar ("F32LE" for flt and fltp), or ""
/// when GStreamer has none (s64).
[[nodiscard]] std::string_view gst_audio_format_name(AVSampleFormat format) noexcept;

/// FFmpeg sample format of a GStreamer audio format name and layout, or AV_SAMPLE_FMT_NONE.
[[nodiscard]] AVSampleFormat sample_format_from_gst(std::string_view name, bool planar) noexcept;

/// Stream metadata of raw audio frames: interleaved samples, or (planar formats) one plane per channel packed one
/// after another; the same fields zerobuffersink writes, so zerobuffersrc negotiates audio/x-raw caps from them.
[[nodiscard]] Result<zerobuffer::StreamFormat> raw_audio_stream_format(AVSampleFormat format, int sample_rate,
                                                                       int channels, AVRational time_base);

/// Stream metadata of encoded audio packets (AAC as raw access units with codec_data, MP3, Opus, FLAC...).
[[nodiscard]] Result<zerobuffer::StreamFormat> encoded_audio_stream_format(const AVCodecParameters& parameters,
                                                                           AVRational time_base);

/// True for a stream format of raw planar audio ("layout":"non-interleaved").
[[nodiscard]] bool is_planar_audio(const zerobuffer::StreamFormat& format);

} // namespace zbffmpeg
