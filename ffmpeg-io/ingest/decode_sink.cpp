// SPDX-License-Identifier: MIT
// zb-ingest's decode mode: packets are decoded with libavcodec and every frame published into the ring, decoded
// straight into ring memory where the decoder allows it (ring_pictures.h), else converted by libswscale into a
// reservation or copied into one once.
#include "decode_sink.h"

#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "formats.h"
#include "ring_pictures.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace zbffmpeg::ingest {
namespace {

/// A plane layout and the frames it describes.
struct FrameLayout {
    AVPixelFormat format = AV_PIX_FMT_NONE;
    int width = 0;
    int height = 0;
    RawLayout layout;

    [[nodiscard]] bool describes(const AVFrame& frame) const noexcept
    {
        return frame.format == format && frame.width == width && frame.height == height;
    }
    [[nodiscard]] bool same_as(const FrameLayout& other) const noexcept
    {
        return format == other.format && width == other.width && height == other.height &&
               layout.planes == other.layout.planes && layout.frame_size == other.layout.frame_size;
    }
};

/// The planes of `frame` as it lies in `payload` (offsets from the payload, the strides the decoder used),
/// checked like a reader checks them; nullopt when a plane is outside it or runs backwards.
std::optional<FrameLayout> layout_in(const AVFrame& frame, std::span<const std::byte> payload)
{
    const auto format = static_cast<AVPixelFormat>(frame.format);
    zerobuffer::StreamFormat described;
    described.width = static_cast<std::uint32_t>(frame.width);
    described.height = static_cast<std::uint32_t>(frame.height);
    described.pixel_format = std::string(gst_format_name(format));
    const auto* base = reinterpret_cast<const std::uint8_t*>(payload.data());
    const int planes = av_pix_fmt_count_planes(format);
    for (int i = 0; i < planes && i < 4; ++i) {
        const std::uint8_t* data = frame.data[i];
        if (data == nullptr || data < base || data >= base + payload.size() || frame.linesize[i] <= 0) {
            return std::nullopt;
        }
        described.planes.push_back({static_cast<std::uint64_t>(data - base), static_cast<std::uint32_t>(frame.linesize[i])});
    }
    auto checked = checked_layout(described, format, payload.size());
    if (!checked) {
        return std::nullopt;
    }
    checked->frame_size = payload.size(); // The whole picture, padding included, is the frame.
    return FrameLayout{format, frame.width, frame.height, std::move(*checked)};
}

/// Decode mode: packet -> decoder -> ring memory (direct), or -> libswscale / one copy -> ring reservation.
class DecodeSink final : public Sink {
public:
    DecodeSink(Context& context, std::unique_ptr<RingPictures> pictures, CodecContextPtr decoder, FramePtr frame,
               AVRational framerate, AVRational time_base, std::string copy_reason)
        : context_(context), pictures_(std::move(pictures)), decoder_(std::move(decoder)), frame_(std::move(frame)),
          framerate_(framerate), time_base_(time_base), copy_reason_(std::move(copy_reason))
    {
    }

    Result<void> send(const AVPacket* packet) override
    {
        if (pictures_ && packet != nullptr) {
            // Wait for room here, where it blocks nobody: the picture this packet needs is then ready in the ring.
            auto stocked = pictures_->stock(context_.ring, context_.options.writer.reader_timeout);
            if (!stocked) {
                return tl::unexpected(stocked.error());
            }
            ring_full_ = !*stocked;
        }
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
            av_frame_unref(frame_.get()); // Never under the ring's lock: it may free a ring picture.
            if (!written) {
                return written;
            }
        }
        return {};
    }

    void restart() override { avcodec_flush_buffers(decoder_.get()); }

    std::string summary_note(bool verbose) const override
    {
        std::string details;
        if (verbose && pictures_) {
            details = "the decoder kept up to " + std::to_string(pictures_->most_pictures()) +
                      " pictures in ring memory at once";
        }
        if (copied_ == 0) {
            return details;
        }
        std::string why = copy_reason_;
        if (pictures_) {
            const CopyReasons& reasons = pictures_->copy_reasons();
            const auto add = [&](std::uint64_t count, const char* text) {
                if (count != 0) {
                    why += (why.empty() ? "" : "; ") + std::to_string(count) + text;
                }
            };
            add(reasons.no_room.load(), " decoder pictures found no room in the ring (readers held frames or had not "
                                        "read them, or the decoder kept more than its share: --ring-size gives more)");
            add(reasons.odd_format.load(), " decoder pictures were in a format ring memory is not used for "
                                           "(hardware, paletted, or not the stream's)");
            add(reasons.no_ring.load(), " decoder pictures came before the ring could be created");
            const std::uint64_t explained = reasons.no_room + reasons.odd_format + reasons.no_ring;
            add(outside_ > explained ? outside_ - explained : 0, " frames the decoder output from its own memory");
        }
        return std::to_string(copied_) + " of " + std::to_string(context_.ring.frames()) +
               " frames were copied into the ring once: " + why + (details.empty() ? "" : "; " + details);
    }

private:
    /// Sets up the scaler (when asked for a conversion) and the packed layout for frames like `frame`.
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
        packed_ = FrameLayout{output_format, width, height, std::move(*layout)};
        input_format_ = input_format;
        input_width_ = frame.width;
        input_height_ = frame.height;
        aspect_ = frame.sample_aspect_ratio;
        return {};
    }

    /// Makes `layout` the stream format of the frames committed from now on, if it is not already.
    Result<void> publish(const FrameLayout& layout)
    {
        if (published_ && published_->same_as(layout)) {
            return {};
        }
        auto published = context_.ring.publish(raw_stream_format(layout.format, layout.width, layout.height,
                                                                 layout.layout, framerate_, aspect_, time_base_),
                                               layout.layout.frame_size);
        if (published) {
            published_ = layout;
        }
        return published;
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
        info.flags = flags;
        context_.clock.saw(pts_ns, duration_ns);
        if (scaler_) {
            return write_converted(frame, info);
        }
        if (pictures_) {
            auto direct = write_direct(frame, info);
            if (!direct || *direct) {
                return direct ? Result<void>{} : tl::unexpected(direct.error());
            }
        }
        return write_copy(frame, info);
    }

    /// Publishes a frame the decoder rendered into ring memory, in place. False when it is not in a ring picture.
    Result<bool> write_direct(const AVFrame& frame, zerobuffer::FrameInfo info)
    {
        RingPicture* picture = pictures_->open_picture_of(frame);
        if (picture == nullptr) {
            ++outside_;
            return false;
        }
        std::optional<FrameLayout> layout = layout_in(frame, picture->reservation.payload());
        if (!layout) {
            ++outside_;
            return false;
        }
        if (auto published = publish(*layout); !published) {
            return tl::unexpected(published.error());
        }
        direct_ = std::move(layout);
        info.flags = context_.take_flags(info.flags);
        if (auto committed = context_.ring.commit_picture(*picture, info); !committed) {
            return tl::unexpected(committed.error());
        }
        return true;
    }

    /// The one copy: from the decoder's memory into a reservation, in the layout of the frames decoded in place
    /// when there are such (so that the stream format does not change), else the packed layout.
    Result<void> write_copy(const AVFrame& frame, zerobuffer::FrameInfo info)
    {
        const FrameLayout& target = direct_ && direct_->describes(frame) ? *direct_ : packed_;
        if (auto published = publish(target); !published) {
            return published;
        }
        // After the ring had no room for --reader-timeout ahead of this packet, only a look: one wait per frame.
        auto reservation = context_.ring.reserve_within(
            target.layout.frame_size,
            ring_full_ ? std::chrono::nanoseconds(0) : std::chrono::nanoseconds(context_.options.writer.reader_timeout));
        if (!reservation) {
            return tl::unexpected(reservation.error());
        }
        if (!*reservation) {
            context_.ring.count_drop(); // Readers too slow.
            return {};
        }
        auto* payload = reinterpret_cast<std::uint8_t*>((*reservation)->payload().data());
        const RawLayout& layout = target.layout;
        for (std::size_t i = 0; i < layout.planes.size(); ++i) {
            std::uint8_t* plane = payload + layout.planes[i].offset;
            const auto stride = static_cast<int>(layout.planes[i].stride);
            const std::uint32_t rows = layout.plane_heights[i];
            if (frame.linesize[i] == stride && rows > 0) {
                // Same stride: one large memcpy (non-temporal stores in glibc) instead of one per row.
                std::memcpy(plane, frame.data[i], static_cast<std::size_t>(stride) * (rows - 1) + layout.row_bytes[i]);
            } else {
                av_image_copy_plane(plane, stride, frame.data[i], frame.linesize[i],
                                    static_cast<int>(layout.row_bytes[i]), static_cast<int>(rows));
            }
        }
        info.flags = context_.take_flags(info.flags);
        if (auto committed = context_.ring.commit(**reservation, info, layout.frame_size, true); !committed) {
            return committed;
        }
        ++copied_;
        return {};
    }

    /// --pix-fmt/--size: libswscale writes the converted frame straight into the reservation.
    Result<void> write_converted(const AVFrame& frame, zerobuffer::FrameInfo info)
    {
        if (auto published = publish(packed_); !published) {
            return published;
        }
        auto reservation = context_.ring.reserve(packed_.layout.frame_size);
        if (!reservation) {
            return tl::unexpected(reservation.error());
        }
        if (!*reservation) {
            return {};
        }
        std::array<std::uint8_t*, 4> planes{};
        std::array<int, 4> strides{};
        auto* payload = reinterpret_cast<std::uint8_t*>((*reservation)->payload().data());
        for (std::size_t i = 0; i < packed_.layout.planes.size(); ++i) {
            planes[i] = payload + packed_.layout.planes[i].offset;
            strides[i] = static_cast<int>(packed_.layout.planes[i].stride);
        }
        sws_scale(scaler_.get(), frame.data, frame.linesize, 0, frame.height, planes.data(), strides.data());
        info.flags = context_.take_flags(info.flags);
        return context_.ring.commit(**reservation, info, packed_.layout.frame_size, false);
    }

    Context& context_;
    std::unique_ptr<RingPictures> pictures_; ///< Before decoder_: the decoder calls into it until it is freed.
    CodecContextPtr decoder_;
    FramePtr frame_;
    AVRational framerate_;
    AVRational time_base_;
    std::string copy_reason_; ///< Why the decoder does not render into ring memory at all ("" when it does).
    SwsContextPtr scaler_;
    FrameLayout packed_;                 ///< Planes one after another: the conversion's and the plain copy's layout.
    std::optional<FrameLayout> direct_;  ///< The layout of the latest frame decoded in ring memory.
    std::optional<FrameLayout> published_;
    AVRational aspect_{1, 1};
    int input_format_ = AV_PIX_FMT_NONE;
    int input_width_ = 0;
    int input_height_ = 0;
    bool ring_full_ = false; ///< The latest picture reserved ahead found no room within --reader-timeout.
    std::uint64_t copied_ = 0;
    std::uint64_t outside_ = 0; ///< Frames the decoder output from memory that is not an open ring picture.
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
    std::string copy_reason = RingPictures::refusal(*codec, *stream.codecpar, context.options);
    std::unique_ptr<RingPictures> pictures;
    if (copy_reason.empty()) {
        pictures = std::make_unique<RingPictures>(context.ring.shared(), context.options);
        pictures->install(*decoder);
    }
    if (context.options.verbose) {
        if (copy_reason.empty()) {
            std::fprintf(stderr, "%s: the %s decoder decodes straight into ring memory\n", kProgram, codec->name);
        } else {
            std::fprintf(stderr, "%s: decoded frames are copied into the ring once: %s\n", kProgram,
                         copy_reason.c_str());
        }
    }
    if (const int opened = avcodec_open2(decoder.get(), codec, nullptr); opened < 0) {
        return make_error(FfmpegIoErrc::Unsupported,
                          std::string("cannot open the ") + codec->name + " decoder: " + av_error_text(opened));
    }
    if (pictures) {
        pictures->opened(*decoder);
    }
    return std::make_unique<DecodeSink>(context, std::move(pictures), std::move(decoder), std::move(frame), framerate,
                                        stream.time_base, std::move(copy_reason));
}

} // namespace zbffmpeg::ingest
