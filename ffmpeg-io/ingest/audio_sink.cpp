// SPDX-License-Identifier: MIT
// zb-ingest's audio sinks (see audio_sink.h). Timestamps go through the audio stream's own time base into ns,
// the clock the video ring uses, so a reader of both rings can line them up.
#include "audio_sink.h"

#include <algorithm>
#include <string>

#include "audio_formats.h"

namespace zbffmpeg::ingest {
namespace {

/// Writes one ring frame of `size` bytes that `fill` writes; publishes `format` first when it changed.
template <typename Fill>
Result<void> write_audio_frame(Context& context, const zerobuffer::StreamFormat& format, std::size_t size,
                               zerobuffer::FrameInfo info, Fill fill)
{
    if (auto published = context.ring.publish(format, size); !published) {
        return published;
    }
    auto reservation = context.ring.reserve(size);
    if (!reservation) {
        return tl::unexpected(reservation.error());
    }
    if (!*reservation) {
        context.discontinuity = true; // Readers left no room: the next frame follows a gap.
        return {};
    }
    fill((*reservation)->payload().data());
    info.flags = context.take_flags(info.flags);
    context.clock.saw(info.pts, info.duration);
    return context.ring.commit(**reservation, info, size, true);
}

/// Decoded audio: packet -> decoder -> ring, planes packed one after another for planar formats.
class AudioDecodeSink final : public Sink {
public:
    AudioDecodeSink(Context& context, CodecContextPtr decoder, FramePtr frame)
        : context_(context), decoder_(std::move(decoder)), frame_(std::move(frame))
    {
    }

    Result<void> send(const AVPacket* packet) override
    {
        const int sent = avcodec_send_packet(decoder_.get(), packet);
        if (sent < 0 && sent != AVERROR_EOF) {
            context_.report_corrupt("audio packet", packet ? context_.clock.to_ns(packet->pts) : zerobuffer::kNoTimestamp,
                                    sent);
            return {};
        }
        while (true) {
            const int received = avcodec_receive_frame(decoder_.get(), frame_.get());
            if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) {
                return {};
            }
            if (received < 0) {
                context_.report_corrupt("audio frame", zerobuffer::kNoTimestamp, received);
                continue;
            }
            auto written = write_frame(*frame_);
            av_frame_unref(frame_.get());
            if (!written) {
                return written;
            }
        }
    }

    void restart() override { avcodec_flush_buffers(decoder_.get()); }

private:
    Result<void> write_frame(const AVFrame& frame)
    {
        const auto format = static_cast<AVSampleFormat>(frame.format);
        const int channels = frame.ch_layout.nb_channels;
        auto stream = raw_audio_stream_format(format, frame.sample_rate, channels, decoder_->pkt_timebase);
        if (!stream) {
            return tl::unexpected(stream.error());
        }
        if (frame.nb_samples <= 0) {
            return {};
        }
        const auto sample_bytes = static_cast<std::size_t>(av_get_bytes_per_sample(format));
        const auto plane_bytes = sample_bytes * static_cast<std::size_t>(frame.nb_samples) *
                                 (av_sample_fmt_is_planar(format) != 0 ? 1U : static_cast<std::size_t>(channels));
        const std::size_t planes = av_sample_fmt_is_planar(format) != 0 ? static_cast<std::size_t>(channels) : 1U;
        zerobuffer::FrameInfo info;
        const std::int64_t timestamp = frame.best_effort_timestamp != AV_NOPTS_VALUE ? frame.best_effort_timestamp
                                                                                     : frame.pts;
        info.pts = context_.clock.or_next(context_.clock.to_ns(timestamp));
        info.duration = av_rescale(frame.nb_samples, 1'000'000'000, frame.sample_rate);
        info.flags = zerobuffer::kFrameKeyframe; // Every audio frame decodes by itself.
        return write_audio_frame(context_, *stream, plane_bytes * planes, info, [&](std::byte* payload) {
            for (std::size_t plane = 0; plane < planes; ++plane) {
                const auto* data = reinterpret_cast<const std::byte*>(frame.extended_data[plane]);
                std::copy_n(data, plane_bytes, payload + plane * plane_bytes);
            }
        });
    }

    Context& context_;
    CodecContextPtr decoder_;
    FramePtr frame_;
};

/// Encoded audio: each packet as one ring frame.
class AudioPassthroughSink final : public Sink {
public:
    AudioPassthroughSink(Context& context, zerobuffer::StreamFormat format)
        : context_(context), format_(std::move(format))
    {
    }

    Result<void> send(const AVPacket* packet) override
    {
        if (packet == nullptr || packet->size <= 0) {
            return {};
        }
        zerobuffer::FrameInfo info;
        info.pts = context_.clock.or_next(context_.clock.to_ns(packet->pts));
        info.dts = context_.clock.to_ns(packet->dts);
        info.duration = context_.clock.duration_ns(packet->duration);
        info.flags = (packet->flags & AV_PKT_FLAG_KEY) != 0 ? zerobuffer::kFrameKeyframe : zerobuffer::kFrameNone;
        if ((packet->flags & AV_PKT_FLAG_CORRUPT) != 0) {
            info.flags |= zerobuffer::kFrameCorrupted;
            ++context_.corrupt;
        }
        const auto size = static_cast<std::size_t>(packet->size);
        return write_audio_frame(context_, format_, size, info, [&](std::byte* payload) {
            std::copy_n(reinterpret_cast<const std::byte*>(packet->data), size, payload);
        });
    }

    void restart() override {}

private:
    Context& context_;
    zerobuffer::StreamFormat format_;
};

} // namespace

Result<std::unique_ptr<Sink>> make_audio_sink(Context& context, const AVStream& stream, bool decode)
{
    if (!decode) {
        auto format = encoded_audio_stream_format(*stream.codecpar, stream.time_base);
        if (!format) {
            return tl::unexpected(format.error());
        }
        return std::make_unique<AudioPassthroughSink>(context, std::move(*format));
    }
    const AVCodec* codec = avcodec_find_decoder(stream.codecpar->codec_id);
    if (codec == nullptr) {
        return make_error(FfmpegIoErrc::Unsupported, "this FFmpeg has no decoder for the input's " +
                                                         std::string(avcodec_get_name(stream.codecpar->codec_id)) +
                                                         " audio: use --audio-no-decode to pass it through");
    }
    CodecContextPtr decoder(avcodec_alloc_context3(codec));
    FramePtr frame = make_frame();
    if (!decoder || !frame || avcodec_parameters_to_context(decoder.get(), stream.codecpar) < 0) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    decoder->pkt_timebase = stream.time_base; // Frame timestamps (and encoder-delay trimming) in the stream's base.
    if (const int opened = avcodec_open2(decoder.get(), codec, nullptr); opened < 0) {
        return make_error(FfmpegIoErrc::InputInvalid, std::string("cannot open the ") + codec->name +
                                                          " audio decoder: " + av_error_text(opened));
    }
    return std::make_unique<AudioDecodeSink>(context, std::move(decoder), std::move(frame));
}

} // namespace zbffmpeg::ingest
