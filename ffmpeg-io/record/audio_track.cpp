// SPDX-License-Identifier: MIT
// zb-record's audio track (see audio_track.h).
#include "audio_track.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "audio_formats.h"
#include "program.h"
#include "formats.h"

extern "C" {
#include <libavutil/channel_layout.h>
}

namespace zbffmpeg {
namespace {

constexpr AVRational kNanoseconds{1, 1'000'000'000};
/// AAC's bit rate for raw audio: transparent for stereo at 48 kHz.
constexpr std::int64_t kAacBitRate = 192'000;

/// One sample of `format` at `data` as a float in [-1, 1].
float sample_as_float(const std::byte* data, AVSampleFormat format) noexcept
{
    switch (av_get_packed_sample_fmt(format)) {
    case AV_SAMPLE_FMT_U8: return (static_cast<float>(std::to_integer<std::uint8_t>(*data)) - 128.0F) / 128.0F;
    case AV_SAMPLE_FMT_S16: {
        std::int16_t value = 0;
        std::memcpy(&value, data, sizeof value);
        return static_cast<float>(value) / 32768.0F;
    }
    case AV_SAMPLE_FMT_S32: {
        std::int32_t value = 0;
        std::memcpy(&value, data, sizeof value);
        return static_cast<float>(static_cast<double>(value) / 2147483648.0);
    }
    case AV_SAMPLE_FMT_FLT: {
        float value = 0;
        std::memcpy(&value, data, sizeof value);
        return value;
    }
    case AV_SAMPLE_FMT_DBL: {
        double value = 0;
        std::memcpy(&value, data, sizeof value);
        return static_cast<float>(value);
    }
    default: return 0.0F;
    }
}

} // namespace

AudioTrack::~AudioTrack()
{
    pending_.reset(); // Before the reader it came from.
}

Result<void> AudioTrack::start(zerobuffer::Reader reader)
{
    reader_.emplace(std::move(reader));
    // A format the writer published already tells a wrong ring at once, before it has to produce a frame.
    if (!reader_->stream_metadata().empty()) {
        if (auto used = use_format(reader_->stream_metadata()); !used) {
            return used;
        }
    }
    while (!stop_requested()) {
        auto frame = reader_->acquire(std::chrono::milliseconds(200));
        if (!frame) {
            if (frame.error().code == zerobuffer::Errc::Timeout) {
                continue;
            }
            return make_error(FfmpegIoErrc::InputInvalid,
                              "audio ring '" + ring_ + "' gave no frame: " + frame.error().message);
        }
        if ((frame->info().flags & zerobuffer::kFrameEndOfStream) != 0) {
            ended_ = true;
            return {};
        }
        if (auto used = use_format(reader_->stream_metadata()); !used) {
            return used;
        }
        pending_.emplace(std::move(*frame));
        return {};
    }
    return make_error(FfmpegIoErrc::Interrupted, "interrupted while waiting for audio ring '" + ring_ + "'");
}

Result<void> AudioTrack::use_format(const std::string& json)
{
    auto parsed = zerobuffer::parse_stream_format(json);
    if (!parsed) {
        return make_error(FfmpegIoErrc::InputInvalid, "audio ring '" + ring_ + "' has no valid stream metadata" +
                                                          (json.empty() ? std::string() : ": " + parsed.error().message) +
                                                          " - its writer must publish a stream format");
    }
    format_ = std::move(*parsed);
    if (!format_.media_type.starts_with("audio/") || !format_.sample_rate || !format_.channels ||
        *format_.sample_rate == 0 || *format_.sample_rate > 768'000 || *format_.channels == 0 ||
        *format_.channels > 64) {
        return make_error(FfmpegIoErrc::Unsupported,
                          "ring '" + ring_ + "' given to --audio-ring carries '" + format_.media_type +
                              "', not audio with a sample rate and 1 to 64 channels: give it the audio ring");
    }
    raw_ = format_.media_type == "audio/x-raw";
    if (raw_) {
        ring_sample_format_ = sample_format_from_gst(format_.sample_format, is_planar_audio(format_));
        if (ring_sample_format_ == AV_SAMPLE_FMT_NONE) {
            return make_error(FfmpegIoErrc::Unsupported, "audio ring '" + ring_ + "' has samples in '" +
                                                             format_.sample_format +
                                                             "', which zb-record cannot encode (it takes U8, "
                                                             "S16LE, S32LE, F32LE, F64LE)");
        }
    } else if (codec_id_of(format_) == AV_CODEC_ID_NONE) {
        return make_error(FfmpegIoErrc::Unsupported, "audio ring '" + ring_ + "' carries '" + format_.media_type +
                                                         "', which zb-record cannot remux");
    } else if (extra_string(format_, "stream_format") == "adts") {
        return make_error(FfmpegIoErrc::Unsupported, "audio ring '" + ring_ +
                                                         "' carries ADTS AAC, which zb-record cannot remux: "
                                                         "ingest without --audio-no-decode to re-encode it");
    }
    return {};
}

Result<void> AudioTrack::add_stream(AVFormatContext& output)
{
    output_ = &output;
    AVStream* stream = avformat_new_stream(&output, nullptr);
    packet_ = make_packet();
    frame_ = make_frame();
    if (stream == nullptr || !packet_ || !frame_) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    stream_index_ = stream->index;
    const int rate = static_cast<int>(*format_.sample_rate);
    const int channels = static_cast<int>(*format_.channels);
    stream->time_base = AVRational{1, rate};
    if (!raw_) {
        AVCodecParameters& parameters = *stream->codecpar;
        parameters.codec_type = AVMEDIA_TYPE_AUDIO;
        parameters.codec_id = codec_id_of(format_);
        parameters.sample_rate = rate;
        av_channel_layout_default(&parameters.ch_layout, channels);
        if (parameters.codec_id == AV_CODEC_ID_AAC) {
            parameters.frame_size = 1024;
        }
        const std::string& extradata = format_.codec_extradata;
        if (!extradata.empty()) {
            parameters.extradata =
                static_cast<std::uint8_t*>(av_mallocz(extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
            if (parameters.extradata == nullptr) {
                return make_error(FfmpegIoErrc::Internal, "out of memory");
            }
            std::memcpy(parameters.extradata, extradata.data(), extradata.size());
            parameters.extradata_size = static_cast<int>(extradata.size());
        }
        description_ = format_.codec + " remuxed";
        return {};
    }
    const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (codec == nullptr) {
        return make_error(FfmpegIoErrc::OutputError, "this FFmpeg has no AAC encoder for the raw audio");
    }
    encoder_.reset(avcodec_alloc_context3(codec));
    if (!encoder_) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    encoder_->sample_fmt = AV_SAMPLE_FMT_FLTP;
    encoder_->sample_rate = rate;
    av_channel_layout_default(&encoder_->ch_layout, channels);
    encoder_->time_base = AVRational{1, rate};
    encoder_->bit_rate = kAacBitRate;
    if ((output.oformat->flags & AVFMT_GLOBALHEADER) != 0) {
        encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    if (const int opened = avcodec_open2(encoder_.get(), codec, nullptr); opened < 0) {
        return make_error(FfmpegIoErrc::OutputError, "cannot open the AAC encoder for " + std::to_string(channels) +
                                                         " channels at " + std::to_string(rate) +
                                                         " Hz: " + av_error_text(opened));
    }
    if (avcodec_parameters_from_context(stream->codecpar, encoder_.get()) < 0) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, channels, std::max(encoder_->frame_size, 1) * 4));
    if (!fifo_) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    planes_.assign(static_cast<std::size_t>(channels), {});
    description_ = format_.sample_format + " encoded to AAC";
    return {};
}

void AudioTrack::header_written() noexcept
{
    stream_time_base_ = output_->streams[stream_index_]->time_base;
}

Result<void> AudioTrack::pull(std::int64_t origin_ns, std::int64_t end_ns, std::chrono::milliseconds wait)
{
    if (pending_) {
        zerobuffer::Frame first = std::move(*pending_);
        pending_.reset();
        if (auto recorded = record(first, origin_ns, end_ns); !recorded) {
            return recorded;
        }
    }
    std::chrono::nanoseconds timeout = wait;
    while (!ended_ && reader_) {
        auto frame = reader_->acquire(timeout);
        timeout = std::chrono::nanoseconds(0);
        if (!frame) {
            const zerobuffer::Errc code = frame.error().code;
            if (code == zerobuffer::Errc::Timeout) {
                return {};
            }
            if (code == zerobuffer::Errc::WriterGone) {
                ended_ = true;
                return {};
            }
            if (code == zerobuffer::Errc::ChecksumMismatch || code == zerobuffer::Errc::AuthenticationFailed) {
                std::fprintf(stderr, "zb-record: warning: audio: %s (frame skipped)\n", frame.error().message.c_str());
                continue;
            }
            return make_error(FfmpegIoErrc::InputInvalid,
                              "reading audio ring '" + ring_ + "' failed: " + frame.error().message);
        }
        if ((frame->info().flags & zerobuffer::kFrameEndOfStream) != 0) {
            ended_ = true;
            return {};
        }
        if (frame->format_changed()) {
            const zerobuffer::StreamFormat before = format_;
            if (auto used = use_format(reader_->stream_metadata()); !used) {
                return used;
            }
            if (format_.media_type != before.media_type || format_.sample_rate != before.sample_rate ||
                format_.channels != before.channels || format_.codec != before.codec) {
                return make_error(FfmpegIoErrc::Unsupported, "audio ring '" + ring_ +
                                                                 "' changed its stream mid-recording; a file holds "
                                                                 "one audio stream: record the rest into a new file");
            }
        }
        if (auto recorded = record(*frame, origin_ns, end_ns); !recorded) {
            return recorded;
        }
    }
    return {};
}

Result<void> AudioTrack::record(const zerobuffer::Frame& frame, std::int64_t origin_ns, std::int64_t end_ns)
{
    const zerobuffer::FrameInfo& info = frame.info();
    if (end_ns != zerobuffer::kNoTimestamp && info.pts != zerobuffer::kNoTimestamp && info.pts - origin_ns >= end_ns) {
        past_end_ = true;
    }
    if (info.pts == zerobuffer::kNoTimestamp || info.pts < origin_ns ||
        (end_ns != zerobuffer::kNoTimestamp && info.pts - origin_ns >= end_ns)) {
        ++skipped_; // Before the video's first frame, after its last, or without a time to place it at.
        return {};
    }
    auto recorded = raw_ ? encode_raw(frame.payload(), info.pts - origin_ns)
                         : remux(frame.payload(), info, info.pts - origin_ns);
    if (recorded) {
        ++frames_;
    }
    return recorded;
}

Result<void> AudioTrack::encode_raw(std::span<const std::byte> payload, std::int64_t pts_ns)
{
    // Never trust the ring: the payload must be whole samples of every channel.
    const auto channels = static_cast<std::size_t>(*format_.channels);
    const auto sample_bytes = static_cast<std::size_t>(av_get_bytes_per_sample(ring_sample_format_));
    if (payload.empty() || payload.size() % (channels * sample_bytes) != 0 ||
        payload.size() / (channels * sample_bytes) > static_cast<std::size_t>(INT32_MAX / 2)) {
        ++skipped_;
        std::fprintf(stderr, "zb-record: warning: audio frame of %zu bytes is not whole %zu-channel samples: skipped\n",
                     payload.size(), channels);
        return {};
    }
    const std::size_t samples = payload.size() / (channels * sample_bytes);
    if (next_sample_ == AV_NOPTS_VALUE) {
        next_sample_ = av_rescale_q(pts_ns, kNanoseconds, encoder_->time_base);
    }
    // Planar rings: plane c is the c-th slice of the payload (planes packed one after another).
    const bool planar = av_sample_fmt_is_planar(ring_sample_format_) != 0;
    std::vector<void*> pointers(channels);
    for (std::size_t channel = 0; channel < channels; ++channel) {
        std::vector<float>& plane = planes_[channel];
        plane.resize(samples);
        for (std::size_t i = 0; i < samples; ++i) {
            const std::size_t offset = planar ? (channel * samples + i) * sample_bytes : (i * channels + channel) * sample_bytes;
            plane[i] = sample_as_float(payload.data() + offset, ring_sample_format_);
        }
        pointers[channel] = plane.data();
    }
    if (av_audio_fifo_write(fifo_.get(), pointers.data(), static_cast<int>(samples)) < static_cast<int>(samples)) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    const int frame_size = encoder_->frame_size > 0 ? encoder_->frame_size : static_cast<int>(samples);
    while (av_audio_fifo_size(fifo_.get()) >= frame_size) {
        if (auto sent = send_samples(frame_size); !sent) {
            return sent;
        }
    }
    return {};
}

Result<void> AudioTrack::send_samples(int count)
{
    av_frame_unref(frame_.get());
    frame_->nb_samples = count;
    frame_->format = encoder_->sample_fmt;
    frame_->sample_rate = encoder_->sample_rate;
    if (av_channel_layout_copy(&frame_->ch_layout, &encoder_->ch_layout) < 0 ||
        av_frame_get_buffer(frame_.get(), 0) < 0) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(frame_->data), count);
    frame_->pts = next_sample_;
    next_sample_ += count;
    return send_to_encoder(frame_.get());
}

Result<void> AudioTrack::send_to_encoder(AVFrame* frame)
{
    if (const int sent = avcodec_send_frame(encoder_.get(), frame); sent < 0) {
        return make_error(FfmpegIoErrc::OutputError, "the AAC encoder failed: " + av_error_text(sent));
    }
    while (true) {
        const int received = avcodec_receive_packet(encoder_.get(), packet_.get());
        if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) {
            return {};
        }
        if (received < 0) {
            return make_error(FfmpegIoErrc::OutputError, "the AAC encoder failed: " + av_error_text(received));
        }
        av_packet_rescale_ts(packet_.get(), encoder_->time_base, stream_time_base_);
        if (auto written = write(*packet_); !written) {
            return written;
        }
    }
}

Result<void> AudioTrack::remux(std::span<const std::byte> payload, const zerobuffer::FrameInfo& info,
                               std::int64_t pts_ns)
{
    if (payload.empty() || payload.size() > static_cast<std::size_t>(INT32_MAX / 2)) {
        ++skipped_;
        return {};
    }
    av_packet_unref(packet_.get());
    if (av_new_packet(packet_.get(), static_cast<int>(payload.size())) < 0) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    std::memcpy(packet_->data, payload.data(), payload.size());
    packet_->pts = av_rescale_q(pts_ns, kNanoseconds, stream_time_base_);
    packet_->dts = packet_->pts;
    packet_->duration =
        info.duration == zerobuffer::kNoTimestamp ? 0 : av_rescale_q(info.duration, kNanoseconds, stream_time_base_);
    packet_->flags |= AV_PKT_FLAG_KEY;
    if (last_dts_ != AV_NOPTS_VALUE && packet_->dts <= last_dts_) {
        packet_->dts = last_dts_ + 1; // Muxers need increasing decode times.
        packet_->pts = std::max(packet_->pts, packet_->dts);
    }
    return write(*packet_);
}

Result<void> AudioTrack::write(AVPacket& packet)
{
    packet.stream_index = stream_index_;
    last_dts_ = packet.dts;
    // Interleaved with the video by the muxer, which buffers each stream until the other has caught up.
    if (const int written = av_interleaved_write_frame(output_, &packet); written < 0) {
        return make_error(FfmpegIoErrc::OutputError,
                          "cannot write audio to '" + output_name_ + "': " + av_error_text(written));
    }
    return {};
}

Result<void> AudioTrack::finish()
{
    if (!encoder_ || output_ == nullptr) {
        return {};
    }
    if (const int left = av_audio_fifo_size(fifo_.get()); left > 0 && next_sample_ != AV_NOPTS_VALUE) {
        if (auto sent = send_samples(left); !sent) {
            return sent;
        }
    }
    return send_to_encoder(nullptr);
}

} // namespace zbffmpeg
