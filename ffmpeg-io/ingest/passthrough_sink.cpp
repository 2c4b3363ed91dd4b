// SPDX-License-Identifier: MIT
// zb-ingest's pass-through mode (--no-decode): encoded packets into the ring, H.264/H.265 as Annex-B access units.
#include "passthrough_sink.h"

#include <algorithm>
#include <string>

#include "formats.h"

namespace zbffmpeg::ingest {
namespace {

/// Pass-through mode: packet -> (Annex-B bitstream filter) -> ring, one access unit per frame.
class PassthroughSink final : public Sink {
public:
    PassthroughSink(Context& context, BsfContextPtr filter, PacketPtr filtered, zerobuffer::StreamFormat format)
        : context_(context), filter_(std::move(filter)), filtered_(std::move(filtered)), format_(std::move(format))
    {
    }

    Result<void> send(const AVPacket* packet) override
    {
        if (packet != nullptr && packet->size == 0) {
            return {};
        }
        if (!filter_) {
            return packet ? write_packet(*packet) : Result<void>{};
        }
        // The filter takes ownership of what it is sent, so give it a reference of its own.
        int sent = 0;
        if (packet != nullptr) {
            if (av_packet_ref(filtered_.get(), packet) < 0) {
                return make_error(FfmpegIoErrc::Internal, "out of memory");
            }
            sent = av_bsf_send_packet(filter_.get(), filtered_.get());
            av_packet_unref(filtered_.get());
        } else {
            sent = av_bsf_send_packet(filter_.get(), nullptr);
        }
        if (sent < 0) {
            context_.report_corrupt("packet", packet ? context_.clock.to_ns(packet->pts) : zerobuffer::kNoTimestamp,
                                    sent);
            return {};
        }
        while (!context_.limit_reached()) {
            const int received = av_bsf_receive_packet(filter_.get(), filtered_.get());
            if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) {
                break;
            }
            if (received < 0) {
                context_.report_corrupt("packet", zerobuffer::kNoTimestamp, received);
                continue;
            }
            auto written = write_packet(*filtered_);
            av_packet_unref(filtered_.get());
            if (!written) {
                return written;
            }
        }
        return {};
    }

    void restart() override
    {
        if (filter_) {
            av_bsf_flush(filter_.get());
        }
    }

private:
    Result<void> write_packet(const AVPacket& packet)
    {
        if (!published_) {
            if (auto published = context_.ring.publish(format_, static_cast<std::size_t>(packet.size)); !published) {
                return published;
            }
            published_ = true;
        }
        const std::int64_t pts_ns = context_.clock.to_ns(packet.pts);
        const std::int64_t dts_ns = context_.clock.to_ns(packet.dts);
        const std::int64_t duration_ns = context_.clock.duration_ns(packet.duration);
        context_.clock.pace(dts_ns != zerobuffer::kNoTimestamp ? dts_ns : pts_ns);
        const auto size = static_cast<std::size_t>(packet.size);
        auto reservation = context_.ring.reserve(size);
        if (!reservation) {
            return tl::unexpected(reservation.error());
        }
        if (!*reservation) {
            return {};
        }
        std::copy_n(reinterpret_cast<const std::byte*>(packet.data), size, (*reservation)->payload().data());
        zerobuffer::FrameInfo info;
        info.pts = pts_ns;
        info.dts = dts_ns;
        info.duration = duration_ns;
        std::uint32_t flags = zerobuffer::kFrameNone;
        if ((packet.flags & AV_PKT_FLAG_KEY) != 0) {
            flags |= zerobuffer::kFrameKeyframe;
        }
        if ((packet.flags & AV_PKT_FLAG_CORRUPT) != 0) {
            // The demuxer knows data is missing (e.g. an MPEG-TS continuity error): pass it on, flagged.
            flags |= zerobuffer::kFrameCorrupted;
            ++context_.corrupt;
            std::fprintf(stderr,
                         "%s: warning: corrupt packet at %.3f s (the demuxer lost data; written flagged corrupted)\n",
                         kProgram, static_cast<double>(pts_ns) / 1e9);
        }
        if ((packet.flags & AV_PKT_FLAG_DISPOSABLE) != 0) {
            flags |= zerobuffer::kFrameDroppable;
        }
        info.flags = context_.take_flags(flags);
        context_.clock.saw(pts_ns, duration_ns);
        return context_.ring.commit(**reservation, info, size, true);
    }

    Context& context_;
    BsfContextPtr filter_; ///< nullptr when packets go through unchanged.
    PacketPtr filtered_;
    zerobuffer::StreamFormat format_;
    bool published_ = false;
};

} // namespace

Result<std::unique_ptr<Sink>> make_passthrough_sink(Context& context, const AVStream& stream, AVRational framerate)
{
    const AVCodecID codec_id = stream.codecpar->codec_id;
    BsfContextPtr filter;
    const AVCodecParameters* parameters = stream.codecpar;
    if (codec_id == AV_CODEC_ID_H264 || codec_id == AV_CODEC_ID_HEVC) {
        // Converts length-prefixed (mp4/mkv) streams to Annex-B and puts SPS/PPS before keyframes;
        // streams that are Annex-B already pass unchanged.
        const AVBitStreamFilter* annexb =
            av_bsf_get_by_name(codec_id == AV_CODEC_ID_H264 ? "h264_mp4toannexb" : "hevc_mp4toannexb");
        AVBSFContext* raw_filter = nullptr;
        if (annexb == nullptr || av_bsf_alloc(annexb, &raw_filter) < 0) {
            return make_error(FfmpegIoErrc::Unsupported, "this FFmpeg lacks the mp4toannexb bitstream filters");
        }
        filter.reset(raw_filter);
        if (avcodec_parameters_copy(filter->par_in, stream.codecpar) < 0) {
            return make_error(FfmpegIoErrc::Internal, "out of memory");
        }
        filter->time_base_in = stream.time_base;
        if (const int initialised = av_bsf_init(filter.get()); initialised < 0) {
            return make_error(FfmpegIoErrc::InputInvalid, "cannot convert the input's " +
                                                              std::string(avcodec_get_name(codec_id)) +
                                                              " stream to Annex-B: " + av_error_text(initialised) +
                                                              " (its codec headers are damaged)");
        }
        parameters = filter->par_out;
    }
    auto format = encoded_stream_format(*parameters, framerate, stream.time_base);
    if (!format) {
        return tl::unexpected(format.error());
    }
    PacketPtr filtered = make_packet();
    if (!filtered) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    return std::make_unique<PassthroughSink>(context, std::move(filter), std::move(filtered), std::move(*format));
}

} // namespace zbffmpeg::ingest
