// SPDX-License-Identifier: MIT
// zb-ingest's decode mode: packets are decoded with libavcodec and each frame written into a ring reservation.
#include "decode_sink.h"

#include <array>
#include <cstring>
#include <string>

#include "formats.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace zbffmpeg::ingest {
namespace {

/// Decode mode: packet -> decoder -> (swscale) -> ring reservation.
class DecodeSink final : public Sink {
public:
    DecodeSink(Context& context, CodecContextPtr decoder, FramePtr frame, AVRational framerate, AVRational time_base)
        : context_(context), decoder_(std::move(decoder)), frame_(std::move(frame)), framerate_(framerate),
          time_base_(time_base)
    {
    }

    Result<void> send(const AVPacket* packet) override
    {
        const int sent = avcodec_send_packet(decoder_.get(), packet);
        if (sent < 0 && sent != AVERROR_EOF) {
            if (sent == AVERROR(EAGAIN)) {
                return make_error(FfmpegIoErrc::Internal, "the decoder refused input while it had no output");
            }
            context_.report_corrupt("packet", packet ? context_.clock.to_ns(packet->pts) : zerobuffer::kNoTimestamp,
                                    sent);
            return {};
        }
        while (!context_.limit_reached()) {
            const int received = avcodec_receive_frame(decoder_.get(), frame_.get());
            if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) {
                break;
            }
            if (received < 0) {
                if (received == AVERROR_INVALIDDATA) {
                    context_.report_corrupt("frame", zerobuffer::kNoTimestamp, received);
                    continue;
                }
                return make_error(FfmpegIoErrc::InputInvalid, "decoding failed: " + av_error_text(received));
            }
            auto written = write_frame(*frame_);
            av_frame_unref(frame_.get());
            if (!written) {
                return written;
            }
        }
        return {};
    }

    void restart() override { avcodec_flush_buffers(decoder_.get()); }

private:
    /// Sets up the output format (and a scaler when asked or needed) for frames like `frame`.
    Result<void> configure(const AVFrame& frame)
    {
        const auto input_format = static_cast<AVPixelFormat>(frame.format);
        const auto& options = context_.options;
        const AVPixelFormat output_format =
            options.pixel_format != AV_PIX_FMT_NONE ? options.pixel_format : input_format;
        const int width = options.width != 0 ? options.width : frame.width;
        const int height = options.height != 0 ? options.height : frame.height;
        if (gst_format_name(output_format).empty()) {
            const char* name = av_get_pix_fmt_name(output_format);
            return make_error(FfmpegIoErrc::Unsupported,
                              std::string("the decoder outputs pixel format ") + (name ? name : "?") +
                                  ", which has no GStreamer name: pass --pix-fmt, e.g. --pix-fmt I420");
        }
        scaler_.reset();
        if (output_format != input_format || width != frame.width || height != frame.height) {
            scaler_.reset(sws_getContext(frame.width, frame.height, input_format, width, height, output_format,
                                         SWS_BICUBIC, nullptr, nullptr, nullptr));
            if (!scaler_) {
                return make_error(FfmpegIoErrc::Unsupported,
                                  std::string("cannot convert ") + av_get_pix_fmt_name(input_format) + " " +
                                      std::to_string(frame.width) + "x" + std::to_string(frame.height) + " to " +
                                      av_get_pix_fmt_name(output_format) + " " + std::to_string(width) + "x" +
                                      std::to_string(height));
            }
        }
        auto layout = packed_layout(output_format, width, height);
        if (!layout) {
            return tl::unexpected(layout.error());
        }
        layout_ = std::move(*layout);
        output_format_ = output_format;
        output_width_ = width;
        output_height_ = height;
        input_format_ = input_format;
        input_width_ = frame.width;
        input_height_ = frame.height;
        const AVRational aspect = frame.sample_aspect_ratio;
        return context_.ring.publish(
            raw_stream_format(output_format, width, height, layout_, framerate_, aspect, time_base_),
            layout_.frame_size);
    }

    Result<void> write_frame(const AVFrame& frame)
    {
        if (frame.format != input_format_ || frame.width != input_width_ || frame.height != input_height_) {
            if (auto configured = configure(frame); !configured) {
                return configured;
            }
        }
        std::int64_t duration_ns = context_.clock.duration_ns(frame.pkt_duration);
        if (duration_ns == zerobuffer::kNoTimestamp && framerate_.num > 0) {
            duration_ns = av_rescale_q(1, av_inv_q(framerate_), kNanoseconds);
        }
        const std::int64_t pts_ns = context_.clock.or_next(context_.clock.to_ns(frame.best_effort_timestamp));
        context_.clock.pace(pts_ns);
        auto reservation = context_.ring.reserve(layout_.frame_size);
        if (!reservation) {
            return tl::unexpected(reservation.error());
        }
        if (!*reservation) {
            return {}; // Dropped: readers too slow; counted by the ring output.
        }
        std::array<std::uint8_t*, 4> planes{};
        std::array<int, 4> strides{};
        auto* payload = reinterpret_cast<std::uint8_t*>((*reservation)->payload().data());
        for (std::size_t i = 0; i < layout_.planes.size(); ++i) {
            planes[i] = payload + layout_.planes[i].offset;
            strides[i] = static_cast<int>(layout_.planes[i].stride);
        }
        if (scaler_) {
            sws_scale(scaler_.get(), frame.data, frame.linesize, 0, frame.height, planes.data(), strides.data());
        } else {
            // The one copy of decode mode: from the decoder's (reference-counted) frame into the ring.
            (*reservation)->mark_copied();
            for (std::size_t i = 0; i < layout_.planes.size(); ++i) {
                const std::uint32_t rows = layout_.plane_heights[i];
                if (frame.linesize[i] == strides[i] && rows > 0) {
                    // Same stride: one large memcpy (non-temporal stores in glibc) instead of one per row.
                    std::memcpy(planes[i], frame.data[i],
                                static_cast<std::size_t>(strides[i]) * (rows - 1) + layout_.row_bytes[i]);
                } else {
                    av_image_copy_plane(planes[i], strides[i], frame.data[i], frame.linesize[i],
                                        static_cast<int>(layout_.row_bytes[i]), static_cast<int>(rows));
                }
            }
        }
        zerobuffer::FrameInfo info;
        info.pts = pts_ns;
        info.duration = duration_ns;
        std::uint32_t flags = frame.key_frame != 0 ? zerobuffer::kFrameKeyframe : zerobuffer::kFrameNone;
        if ((frame.flags & AV_FRAME_FLAG_CORRUPT) != 0 || frame.decode_error_flags != 0) {
            // The decoder concealed damage: pass the frame on, flagged, and say so.
            flags |= zerobuffer::kFrameCorrupted;
            ++context_.corrupt;
            std::fprintf(stderr,
                         "%s: warning: corrupt data in the frame at %.3f s (concealed by the decoder, "
                         "flagged corrupted)\n",
                         kProgram, static_cast<double>(pts_ns) / 1e9);
        }
        info.flags = context_.take_flags(flags);
        context_.clock.saw(pts_ns, duration_ns);
        return context_.ring.commit(**reservation, info, layout_.frame_size);
    }

    Context& context_;
    CodecContextPtr decoder_;
    FramePtr frame_;
    AVRational framerate_;
    AVRational time_base_;
    SwsContextPtr scaler_;
    RawLayout layout_;
    int input_format_ = AV_PIX_FMT_NONE;
    int input_width_ = 0;
    int input_height_ = 0;
    AVPixelFormat output_format_ = AV_PIX_FMT_NONE;
    int output_width_ = 0;
    int output_height_ = 0;
};

} // namespace

Result<std::unique_ptr<Sink>> make_decode_sink(Context& context, const AVStream& stream, AVRational framerate)
{
    const AVCodec* codec = avcodec_find_decoder(stream.codecpar->codec_id);
    if (codec == nullptr) {
        return make_error(FfmpegIoErrc::Unsupported, std::string("no decoder for the input's video codec ") +
                                                         avcodec_get_name(stream.codecpar->codec_id) +
                                                         " in this FFmpeg: use --no-decode");
    }
    CodecContextPtr decoder(avcodec_alloc_context3(codec));
    FramePtr frame = make_frame();
    if (!decoder || !frame || avcodec_parameters_to_context(decoder.get(), stream.codecpar) < 0) {
        return make_error(FfmpegIoErrc::Internal, "cannot set up the decoder: out of memory");
    }
    decoder->pkt_timebase = stream.time_base;
    decoder->thread_count = context.options.threads;
    decoder->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (const int opened = avcodec_open2(decoder.get(), codec, nullptr); opened < 0) {
        return make_error(FfmpegIoErrc::Unsupported,
                          std::string("cannot open the ") + codec->name + " decoder: " + av_error_text(opened));
    }
    return std::make_unique<DecodeSink>(context, std::move(decoder), std::move(frame), framerate, stream.time_base);
}

} // namespace zbffmpeg::ingest
