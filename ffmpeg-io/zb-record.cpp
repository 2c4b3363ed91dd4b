// SPDX-License-Identifier: MIT
// zb-record: reads raw or encoded video frames from a ZeroBuffer ring and writes a playable file.
//
// Raw frames are encoded (libx264 by default); the encoder reads ring memory in place when it accepts the
// ring's pixel format (the frame is wrapped in an AVBuffer that releases the ring frame when FFmpeg is done),
// otherwise libswscale converts into one reusable frame. Encoded frames (Annex-B H.264/H.265, ...) are remuxed
// without re-encoding, straight from ring memory. The file is finalized (trailer written) on end-of-stream,
// SIGINT/SIGTERM, and when the writer dies, so it always plays. --audio-ring adds an audio ring's stream
// (record/audio_track.h).
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <zerobuffer/zerobuffer.h>

#include "attach.h"
#include "audio_track.h"
#include "av_handles.h"
#include "error.h"
#include "formats.h"
#include "options.h"
#include "program.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace zbffmpeg::record {
namespace {

constexpr AVRational kNanoseconds{1, 1'000'000'000};
constexpr AVRational kDefaultTimeBase{1, 90'000};

/// A ring frame the encoder reads in place; released when FFmpeg drops its last reference (any thread).
struct HeldFrame {
    zerobuffer::Frame frame;
    std::atomic<bool> in_use{false};
};

extern "C" void release_held_frame(void* opaque, std::uint8_t* /*data*/)
{
    auto* held = static_cast<HeldFrame*>(opaque);
    held->frame.release();
    held->in_use.store(false, std::memory_order_release);
}

/// The output file: a muxer with one video stream, fed either by an encoder (raw rings) or by remuxing.
class Recorder {
public:
    explicit Recorder(const RecordOptions& options)
        : options_(options), held_(std::make_unique<HeldFrame[]>(kHeldFrameSlots)), packet_(make_packet()),
          converted_(make_frame()), wrapped_(make_frame())
    {
    }

    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;
    ~Recorder()
    {
        // The encoder may still reference ring frames: free it before the slots that own them.
        encoder_.reset();
        wrapped_.reset();
    }

    /// Sets up (or checks) the stream for a stream-format generation before its first frame.
    Result<void> use_format(const std::string& json)
    {
        auto parsed = zerobuffer::parse_stream_format(json);
        if (!parsed) {
            return make_error(FfmpegIoErrc::InputInvalid,
                              "the ring's stream metadata is invalid: " + parsed.error().message +
                                  " - the writer is broken or not a ZeroBuffer producer");
        }
        format_ = std::move(*parsed);
        raw_ = format_.media_type == "video/x-raw";
        if (raw_) {
            ring_pixel_format_ = pixel_format_from_gst(format_.pixel_format);
            if (ring_pixel_format_ == AV_PIX_FMT_NONE) {
                return make_error(FfmpegIoErrc::Unsupported,
                                  "the ring's pixel format '" + format_.pixel_format +
                                      "' is not one zb-record knows (docs/ffmpeg.md lists them)");
            }
            auto layout = checked_layout(format_, ring_pixel_format_, format_.frame_size.value_or(SIZE_MAX));
            if (!layout) {
                return tl::unexpected(layout.error());
            }
            layout_ = std::move(*layout);
        } else if (codec_id_of(format_) == AV_CODEC_ID_NONE) {
            return make_error(FfmpegIoErrc::Unsupported, "the ring carries '" + format_.media_type + "' (codec '" +
                                                             format_.codec + "'), which zb-record cannot record");
        } else if (const std::string alignment = extra_string(format_, "alignment");
                   !alignment.empty() && alignment != "au") {
            // One packet per NAL unit would give the muxer several packets with one timestamp.
            return make_error(FfmpegIoErrc::Unsupported,
                              "the ring's " + format_.codec + " frames are aligned by '" + alignment +
                                  "', zb-record needs one access unit per frame: put 'h264parse ! "
                                  "video/x-h264,alignment=au' (or h265parse) before zerobuffersink");
        } else if (const std::string packaging = extra_string(format_, "stream_format");
                   (packaging == "avc" || packaging == "hvc1" || packaging == "hev1") &&
                   format_.codec_extradata.empty()) {
            return make_error(FfmpegIoErrc::InputInvalid,
                              "the ring's " + format_.codec + " frames are length-prefixed (" + packaging +
                                  ") but it carries no codec_extradata to decode them: use stream-format=byte-stream");
        }
        if (header_written_) {
            return check_same_stream();
        }
        return {};
    }

    /// Adds `audio`'s stream to the file (before the first frame).
    void add_audio(AudioTrack& audio) noexcept { audio_ = &audio; }
    /// The ring timestamp that is time 0 of the file (valid once started()).
    [[nodiscard]] std::int64_t origin_ns() const noexcept { return origin_ns_; }

    /// The writer restarted: the next frame's timestamps continue after the last recorded one.
    void rebase() noexcept { rebase_pending_ = true; }

    /// Records one frame; frames before the first keyframe of an encoded stream are skipped.
    Result<void> record(zerobuffer::Frame frame)
    {
        const zerobuffer::FrameInfo& info = frame.info();
        std::int64_t pts_ns = info.pts;
        if (pts_ns == zerobuffer::kNoTimestamp) {
            // No timestamps from the producer: count frames at the stream's rate (or 30/s).
            const AVRational rate =
                to_rational(format_.framerate).num > 0 ? to_rational(format_.framerate) : AVRational{30, 1};
            pts_ns = av_rescale_q(static_cast<std::int64_t>(frames_ + skipped_), av_inv_q(rate), kNanoseconds);
        }
        if (!header_written_) {
            if (!raw_ && (info.flags & zerobuffer::kFrameKeyframe) == 0) {
                ++skipped_;
                return {}; // A remuxed file must start with a keyframe.
            }
            if (auto opened = open_output(frame); !opened) {
                return opened;
            }
            origin_ns_ = pts_ns;
        }
        if (rebase_pending_) {
            origin_ns_ = pts_ns - next_pts_ns_; // The new writer's first frame follows our last one.
            rebase_pending_ = false;
        }
        const std::int64_t relative_pts = pts_ns - origin_ns_;
        const std::int64_t relative_dts = info.dts == zerobuffer::kNoTimestamp ? AV_NOPTS_VALUE : info.dts - origin_ns_;
        const std::int64_t duration_ns = info.duration == zerobuffer::kNoTimestamp ? 0 : info.duration;
        next_pts_ns_ = std::max(next_pts_ns_, relative_pts + std::max<std::int64_t>(duration_ns, 1));
        media_end_ns_ = std::max(media_end_ns_, relative_pts + duration_ns);
        auto written =
            raw_ ? encode(std::move(frame), relative_pts) : remux(frame, relative_pts, relative_dts, duration_ns);
        if (written) {
            ++frames_;
        }
        return written;
    }

    /// Drains the encoder and writes the trailer: after this the file plays.
    Result<void> finish()
    {
        if (!header_written_ || finished_) {
            return {};
        }
        finished_ = true;
        if (encoder_) {
            if (auto drained = send_to_encoder(nullptr); !drained) {
                return drained;
            }
        }
        if (audio_ != nullptr) {
            if (auto drained = audio_->finish(); !drained) {
                return drained;
            }
        }
        if (const int trailer = av_write_trailer(output_.get()); trailer < 0) {
            return make_error(FfmpegIoErrc::OutputError,
                              "cannot finish '" + options_.output + "': " + av_error_text(trailer));
        }
        if (output_->pb != nullptr) {
            avio_flush(output_->pb);
        }
        return {};
    }

    [[nodiscard]] bool started() const noexcept { return header_written_; }
    /// True while the encoder still references ring frames in place.
    [[nodiscard]] bool holds_ring_frames() const noexcept
    {
        for (std::size_t i = 0; i < kHeldFrameSlots; ++i) {
            if (held_[i].in_use.load(std::memory_order_acquire)) {
                return true;
            }
        }
        return false;
    }
    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
    [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }
    [[nodiscard]] std::uint64_t corrupt() const noexcept { return corrupt_; }
    [[nodiscard]] std::int64_t media_time_ns() const noexcept { return media_end_ns_; }

private:
    Result<void> check_same_stream() const
    {
        const bool same_size = format_.width == width_ && format_.height == height_;
        const bool same_codec = raw_ ? stream_raw_ : (!stream_raw_ && codec_id_of(format_) == stream_codec_);
        if (!same_size || !same_codec) {
            return make_error(FfmpegIoErrc::Unsupported,
                              "the ring's stream changed to " + format_.media_type + " " +
                                  std::to_string(format_.width.value_or(0)) + "x" +
                                  std::to_string(format_.height.value_or(0)) +
                                  " mid-recording; a file holds one stream: record the rest into a new file");
        }
        return {};
    }

    Result<void> open_output(const zerobuffer::Frame& first_frame)
    {
        AVFormatContext* raw_output = nullptr;
        const int allocated = avformat_alloc_output_context2(
            &raw_output, nullptr, options_.container.empty() ? nullptr : options_.container.c_str(),
            options_.output.c_str());
        if (allocated < 0 || raw_output == nullptr) {
            return make_error(FfmpegIoErrc::OutputError,
                              "cannot set up a muxer for '" + options_.output + "': " + av_error_text(allocated));
        }
        output_.reset(raw_output);
        AVStream* stream = avformat_new_stream(output_.get(), nullptr);
        if (stream == nullptr) {
            return make_error(FfmpegIoErrc::Internal, "out of memory");
        }
        width_ = format_.width;
        height_ = format_.height;
        stream_raw_ = raw_;
        const AVRational framerate = to_rational(format_.framerate);
        if (framerate.num > 0) {
            stream->avg_frame_rate = framerate;
            stream->r_frame_rate = framerate;
        }
        if (raw_) {
            if (auto encoder = open_encoder(*stream); !encoder) {
                return encoder;
            }
        } else {
            if (auto parameters = set_remux_parameters(*stream, first_frame); !parameters) {
                return parameters;
            }
        }
        if (audio_ != nullptr) {
            if (auto added = audio_->add_stream(*output_); !added) {
                return added;
            }
        }
        if ((output_->oformat->flags & AVFMT_NOFILE) == 0) {
            if (const int opened = avio_open(&output_->pb, options_.output.c_str(), AVIO_FLAG_WRITE); opened < 0) {
                return make_error(FfmpegIoErrc::OutputError, "cannot create '" + options_.output +
                                                                 "': " + av_error_text(opened) +
                                                                 " - check the folder exists and is writable");
            }
        }
        if (const int header = avformat_write_header(output_.get(), nullptr); header < 0) {
            return make_error(FfmpegIoErrc::OutputError, "cannot write a " + std::string(output_->oformat->name) +
                                                             " header to '" + options_.output +
                                                             "': " + av_error_text(header) +
                                                             " - the container may not take this codec: try .mkv");
        }
        stream_time_base_ = stream->time_base;
        if (audio_ != nullptr) {
            audio_->header_written();
        }
        header_written_ = true;
        return {};
    }

    Result<void> open_encoder(AVStream& stream)
    {
        const AVCodec* codec =
            avcodec_find_encoder_by_name(options_.codec.empty() ? "libx264" : options_.codec.c_str());
        if (codec == nullptr) {
            codec = options_.codec.empty() ? avcodec_find_encoder_by_name("mpeg4") : nullptr;
        }
        if (codec == nullptr || codec->type != AVMEDIA_TYPE_VIDEO) {
            return make_error(FfmpegIoErrc::OutputError,
                              "no video encoder '" +
                                  (options_.codec.empty() ? std::string("libx264") : options_.codec) +
                                  "' in this FFmpeg: pass --codec with one from 'ffmpeg -encoders'");
        }
        encoder_.reset(avcodec_alloc_context3(codec));
        if (!encoder_) {
            return make_error(FfmpegIoErrc::Internal, "out of memory");
        }
        AVPixelFormat encoder_format = options_.pixel_format;
        if (encoder_format == AV_PIX_FMT_NONE) {
            encoder_format = ring_pixel_format_;
            if (codec->pix_fmts != nullptr) {
                bool accepted = false;
                bool has_yuv420p = false;
                for (const AVPixelFormat* format = codec->pix_fmts; *format != AV_PIX_FMT_NONE; ++format) {
                    accepted = accepted || *format == ring_pixel_format_;
                    has_yuv420p = has_yuv420p || *format == AV_PIX_FMT_YUV420P;
                }
                if (!accepted) {
                    // yuv420p plays everywhere; otherwise the closest format the encoder has.
                    encoder_format = has_yuv420p ? AV_PIX_FMT_YUV420P
                                                 : avcodec_find_best_pix_fmt_of_list(codec->pix_fmts,
                                                                                     ring_pixel_format_, 0, nullptr);
                }
            }
        }
        const AVRational framerate = to_rational(format_.framerate);
        const AVRational time_base =
            to_rational(format_.time_base).num > 0 ? to_rational(format_.time_base) : kDefaultTimeBase;
        encoder_->width = static_cast<int>(*format_.width);
        encoder_->height = static_cast<int>(*format_.height);
        encoder_->pix_fmt = encoder_format;
        encoder_->time_base = time_base;
        encoder_->framerate = framerate;
        encoder_->sample_aspect_ratio = to_rational(format_.pixel_aspect_ratio).num > 0
                                            ? to_rational(format_.pixel_aspect_ratio)
                                            : AVRational{1, 1};
        encoder_->thread_count = options_.threads;
        if (options_.bitrate != 0) {
            encoder_->bit_rate = static_cast<std::int64_t>(options_.bitrate);
        }
        if ((output_->oformat->flags & AVFMT_GLOBALHEADER) != 0) {
            encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        }
        Dictionary dictionary;
        const std::string_view name = codec->name;
        if (name == "libx264" || name == "libx265") {
            dictionary.set("preset", options_.preset.c_str());
            if (!options_.crf.empty()) {
                dictionary.set("crf", options_.crf.c_str());
            }
        }
        for (const auto& [key, value] : options_.encoder_options) {
            dictionary.set(key.c_str(), value.c_str());
        }
        if (const int opened = avcodec_open2(encoder_.get(), codec, dictionary.address()); opened < 0) {
            return make_error(FfmpegIoErrc::OutputError,
                              std::string("cannot open the ") + codec->name + " encoder for " +
                                  std::to_string(encoder_->width) + "x" + std::to_string(encoder_->height) + " " +
                                  av_get_pix_fmt_name(encoder_format) + ": " + av_error_text(opened) +
                                  " - try another --codec or --pix-fmt");
        }
        if (const AVDictionaryEntry* unused = dictionary.first_left()) {
            return make_error(FfmpegIoErrc::InvalidArgument,
                              std::string("encoder option '") + unused->key + "' is not known to " + codec->name);
        }
        if (avcodec_parameters_from_context(stream.codecpar, encoder_.get()) < 0) {
            return make_error(FfmpegIoErrc::Internal, "out of memory");
        }
        stream.time_base = encoder_->time_base;
        encoder_name_ = codec->name;
        return {};
    }

    Result<void> set_remux_parameters(AVStream& stream, const zerobuffer::Frame& first_frame)
    {
        AVCodecParameters& parameters = *stream.codecpar;
        parameters.codec_type = AVMEDIA_TYPE_VIDEO;
        parameters.codec_id = codec_id_of(format_);
        stream_codec_ = parameters.codec_id;
        parameters.codec_tag = 0;
        if (format_.width && format_.height) {
            parameters.width = static_cast<int>(*format_.width);
            parameters.height = static_cast<int>(*format_.height);
        }
        std::string extradata = format_.codec_extradata;
        if (extradata.empty()) {
            extradata = extract_extradata(first_frame, parameters.codec_id);
        }
        if (!extradata.empty()) {
            parameters.extradata =
                static_cast<std::uint8_t*>(av_mallocz(extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
            if (parameters.extradata == nullptr) {
                return make_error(FfmpegIoErrc::Internal, "out of memory");
            }
            std::copy(extradata.begin(), extradata.end(), reinterpret_cast<char*>(parameters.extradata));
            parameters.extradata_size = static_cast<int>(extradata.size());
        }
        stream.time_base = to_rational(format_.time_base).num > 0 ? to_rational(format_.time_base) : kDefaultTimeBase;
        return {};
    }

    /// Codec headers (SPS/PPS...) from the first keyframe, when the ring's stream format carries none.
    static std::string extract_extradata(const zerobuffer::Frame& frame, AVCodecID codec_id)
    {
        const AVBitStreamFilter* extractor = av_bsf_get_by_name("extract_extradata");
        AVBSFContext* raw_filter = nullptr;
        if (extractor == nullptr || av_bsf_alloc(extractor, &raw_filter) < 0) {
            return {};
        }
        BsfContextPtr filter(raw_filter);
        filter->par_in->codec_id = codec_id;
        filter->par_in->codec_type = AVMEDIA_TYPE_VIDEO;
        PacketPtr packet = make_packet();
        if (!packet || av_bsf_init(filter.get()) < 0 ||
            av_new_packet(packet.get(), static_cast<int>(frame.payload().size())) < 0) {
            return {};
        }
        std::copy(frame.payload().begin(), frame.payload().end(), reinterpret_cast<std::byte*>(packet->data));
        if (av_bsf_send_packet(filter.get(), packet.get()) < 0 ||
            av_bsf_receive_packet(filter.get(), packet.get()) < 0) {
            return {};
        }
        std::size_t size = 0;
        const std::uint8_t* data = av_packet_get_side_data(packet.get(), AV_PKT_DATA_NEW_EXTRADATA, &size);
        return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data), size);
    }

    Result<void> remux(const zerobuffer::Frame& frame, std::int64_t pts_ns, std::int64_t dts_ns,
                       std::int64_t duration_ns)
    {
        if (frame.payload().empty()) {
            return {};
        }
        if (frame.payload().size() > static_cast<std::size_t>(INT32_MAX)) {
            ++corrupt_;
            return {};
        }
        // Non-refcounted packet over ring memory: av_write_frame does not keep it after returning.
        av_packet_unref(packet_.get());
        packet_->data = const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(frame.payload().data()));
        packet_->size = static_cast<int>(frame.payload().size());
        packet_->stream_index = 0;
        packet_->pts = av_rescale_q(pts_ns, kNanoseconds, stream_time_base_);
        packet_->dts = dts_ns == AV_NOPTS_VALUE ? packet_->pts : av_rescale_q(dts_ns, kNanoseconds, stream_time_base_);
        packet_->duration = av_rescale_q(duration_ns, kNanoseconds, stream_time_base_);
        if ((frame.info().flags & zerobuffer::kFrameKeyframe) != 0) {
            packet_->flags |= AV_PKT_FLAG_KEY;
        }
        // Muxers need strictly increasing decode times; repair a producer that repeats them.
        if (last_dts_ != AV_NOPTS_VALUE && packet_->dts <= last_dts_) {
            packet_->dts = last_dts_ + 1;
            packet_->pts = std::max(packet_->pts, packet_->dts);
        }
        last_dts_ = packet_->dts;
        // With audio the muxer interleaves (and copies the packet); alone it is written straight from the ring.
        const int written = audio_ != nullptr ? av_interleaved_write_frame(output_.get(), packet_.get())
                                              : av_write_frame(output_.get(), packet_.get());
        packet_->data = nullptr;
        packet_->size = 0;
        if (written < 0) {
            return make_error(FfmpegIoErrc::OutputError,
                              "cannot write to '" + options_.output + "': " + av_error_text(written));
        }
        return {};
    }

    HeldFrame* free_slot() noexcept
    {
        for (std::size_t i = 0; i < kHeldFrameSlots; ++i) {
            if (!held_[i].in_use.load(std::memory_order_acquire)) {
                return &held_[i];
            }
        }
        return nullptr;
    }

    Result<void> encode(zerobuffer::Frame frame, std::int64_t pts_ns)
    {
        // Never trust the ring: the planes of this generation must lie inside this frame's payload.
        if (frame.payload().size() < layout_.frame_size) {
            ++corrupt_;
            std::fprintf(stderr, "%s: warning: frame %llu has %zu bytes, less than its format's %zu: skipped\n",
                         kProgram, static_cast<unsigned long long>(frame.sequence()), frame.payload().size(),
                         layout_.frame_size);
            return {};
        }
        std::int64_t pts = av_rescale_q(pts_ns, kNanoseconds, encoder_->time_base);
        if (last_pts_ != AV_NOPTS_VALUE && pts <= last_pts_) {
            pts = last_pts_ + 1; // Encoders refuse repeated timestamps.
        }
        last_pts_ = pts;
        const auto* payload = reinterpret_cast<const std::uint8_t*>(frame.payload().data());
        AVFrame* to_send = nullptr;
        HeldFrame* slot = ring_pixel_format_ == encoder_->pix_fmt ? free_slot() : nullptr;
        if (slot != nullptr) {
            // In place: the encoder reads ring memory; the slot keeps the ring frame until FFmpeg lets go.
            av_frame_unref(wrapped_.get());
            slot->frame = std::move(frame);
            slot->in_use.store(true, std::memory_order_relaxed);
            AVBufferRef* buffer = av_buffer_create(const_cast<std::uint8_t*>(payload), slot->frame.payload().size(),
                                                   release_held_frame, slot, AV_BUFFER_FLAG_READONLY);
            if (buffer == nullptr) {
                release_held_frame(slot, nullptr);
                return make_error(FfmpegIoErrc::Internal, "out of memory");
            }
            wrapped_->buf[0] = buffer;
            for (std::size_t i = 0; i < layout_.planes.size(); ++i) {
                wrapped_->data[i] = const_cast<std::uint8_t*>(payload) + layout_.planes[i].offset;
                wrapped_->linesize[i] = static_cast<int>(layout_.planes[i].stride);
            }
            wrapped_->format = ring_pixel_format_;
            wrapped_->width = encoder_->width;
            wrapped_->height = encoder_->height;
            to_send = wrapped_.get();
        } else {
            if (auto converted = convert(payload); !converted) {
                return converted;
            }
            to_send = converted_.get();
        }
        to_send->pts = pts;
        to_send->pict_type = AV_PICTURE_TYPE_NONE;
        return send_to_encoder(to_send);
    }

    /// Converts (or copies, when no in-place slot was free) a ring frame into converted_.
    Result<void> convert(const std::uint8_t* payload)
    {
        if (converted_->data[0] == nullptr) {
            converted_->format = encoder_->pix_fmt;
            converted_->width = encoder_->width;
            converted_->height = encoder_->height;
            if (av_frame_get_buffer(converted_.get(), 0) < 0) {
                return make_error(FfmpegIoErrc::Internal, "out of memory");
            }
        }
        if (av_frame_make_writable(converted_.get()) < 0) {
            return make_error(FfmpegIoErrc::Internal, "out of memory");
        }
        std::array<const std::uint8_t*, 4> planes{};
        std::array<int, 4> strides{};
        for (std::size_t i = 0; i < layout_.planes.size(); ++i) {
            planes[i] = payload + layout_.planes[i].offset;
            strides[i] = static_cast<int>(layout_.planes[i].stride);
        }
        if (ring_pixel_format_ == encoder_->pix_fmt) {
            av_image_copy(converted_->data, converted_->linesize, planes.data(), strides.data(), ring_pixel_format_,
                          encoder_->width, encoder_->height);
            return {};
        }
        if (!scaler_ || scaler_format_ != ring_pixel_format_) {
            scaler_.reset(sws_getContext(encoder_->width, encoder_->height, ring_pixel_format_, encoder_->width,
                                         encoder_->height, encoder_->pix_fmt, SWS_BICUBIC, nullptr, nullptr, nullptr));
            scaler_format_ = ring_pixel_format_;
            if (!scaler_) {
                return make_error(FfmpegIoErrc::Unsupported, std::string("cannot convert ") +
                                                                 av_get_pix_fmt_name(ring_pixel_format_) + " to " +
                                                                 av_get_pix_fmt_name(encoder_->pix_fmt));
            }
        }
        sws_scale(scaler_.get(), planes.data(), strides.data(), 0, encoder_->height, converted_->data,
                  converted_->linesize);
        return {};
    }

    Result<void> send_to_encoder(AVFrame* frame)
    {
        const int sent = avcodec_send_frame(encoder_.get(), frame);
        if (frame != nullptr) {
            av_frame_unref(wrapped_.get()); // Our reference; the encoder keeps its own while it needs the frame.
        }
        if (sent < 0) {
            return make_error(FfmpegIoErrc::OutputError,
                              "the " + encoder_name_ + " encoder failed: " + av_error_text(sent));
        }
        while (true) {
            const int received = avcodec_receive_packet(encoder_.get(), packet_.get());
            if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) {
                return {};
            }
            if (received < 0) {
                return make_error(FfmpegIoErrc::OutputError,
                                  "the " + encoder_name_ + " encoder failed: " + av_error_text(received));
            }
            av_packet_rescale_ts(packet_.get(), encoder_->time_base, stream_time_base_);
            packet_->stream_index = 0;
            const int written = av_interleaved_write_frame(output_.get(), packet_.get());
            av_packet_unref(packet_.get());
            if (written < 0) {
                return make_error(FfmpegIoErrc::OutputError,
                                  "cannot write to '" + options_.output + "': " + av_error_text(written));
            }
        }
    }

    const RecordOptions& options_;
    AudioTrack* audio_ = nullptr;
    std::unique_ptr<HeldFrame[]> held_; ///< Declared before encoder_: outlives the encoder's references.
    PacketPtr packet_;
    FramePtr converted_;
    FramePtr wrapped_;
    OutputContextPtr output_;
    CodecContextPtr encoder_;
    SwsContextPtr scaler_;
    AVPixelFormat scaler_format_ = AV_PIX_FMT_NONE;
    std::string encoder_name_;
    zerobuffer::StreamFormat format_;
    bool raw_ = false;
    AVPixelFormat ring_pixel_format_ = AV_PIX_FMT_NONE;
    RawLayout layout_;
    std::optional<std::uint32_t> width_;
    std::optional<std::uint32_t> height_;
    bool stream_raw_ = false;
    AVCodecID stream_codec_ = AV_CODEC_ID_NONE;
    AVRational stream_time_base_{1, 1};
    bool header_written_ = false;
    bool finished_ = false;
    bool rebase_pending_ = false;
    std::int64_t origin_ns_ = 0;
    std::int64_t next_pts_ns_ = 0;
    std::int64_t media_end_ns_ = 0;
    std::int64_t last_pts_ = AV_NOPTS_VALUE;
    std::int64_t last_dts_ = AV_NOPTS_VALUE;
    std::uint64_t frames_ = 0;
    std::uint64_t skipped_ = 0;
    std::uint64_t corrupt_ = 0;
};

int run(const RecordOptions& options)
{
    av_log_set_level(options.verbose ? AV_LOG_INFO : AV_LOG_ERROR);
    install_stop_handlers();
    // Readers are declared before the recorder: ring frames the encoder still holds must not outlive them.
    std::vector<zerobuffer::Reader> readers;
    AudioTrack audio(options.audio_ring, options.output); ///< Outlives the recorder, which points to it.
    const bool with_audio = !options.audio_ring.empty();
    Recorder recorder(options);
    Progress progress(kProgram);
    std::uint64_t dropped = 0;
    std::string ending; ///< Why the recording stopped, for the summary.
    std::optional<Failure> failure;
    std::optional<RingIdentity> finished_ring; ///< The ring whose writer we saw go, while waiting for a new one.

    while (!failure) {
        const bool waiting_for_return = finished_ring.has_value();
        AttachResult attached = with_audio && !waiting_for_return ? attach_with_audio(options, audio)
                                                                  : attach(options, options.ring, finished_ring);
        if (attached.outcome == Attached::Stopped) {
            ending = "stopped by signal";
            break;
        }
        if (attached.outcome != Attached::Yes) {
            if (waiting_for_return) {
                ending = "writer gone";
                std::fprintf(stderr, "%s: warning: %s\n", kProgram, attached.message.c_str());
            } else {
                failure = Failure{kExitInput, attached.message};
            }
            break;
        }
        if (!recorder.holds_ring_frames()) {
            readers.clear(); // Rings of earlier writers are no longer needed.
        }
        zerobuffer::Reader& reader = readers.emplace_back(std::move(*attached.reader));
        if (with_audio) {
            recorder.add_audio(audio);
        }
        if (waiting_for_return) {
            recorder.rebase();
        }
        bool writer_gone = false;
        while (!failure && !writer_gone) {
            if (stop_requested()) {
                ending = "stopped by signal";
                break;
            }
            if (options.max_frames != 0 && recorder.frames() >= options.max_frames) {
                ending = "frame limit";
                break;
            }
            auto frame = reader.acquire(std::chrono::milliseconds(200));
            if (!frame) {
                const zerobuffer::Errc code = frame.error().code;
                if (code == zerobuffer::Errc::WriterGone) {
                    writer_gone = true;
                } else if (code == zerobuffer::Errc::ChecksumMismatch ||
                           code == zerobuffer::Errc::AuthenticationFailed) {
                    std::fprintf(stderr, "%s: warning: %s (frame skipped)\n", kProgram, frame.error().message.c_str());
                } else if (code != zerobuffer::Errc::Timeout) {
                    failure =
                        Failure{kExitInput, "reading ring '" + options.ring + "' failed: " + frame.error().message};
                } else if (with_audio && recorder.started()) {
                    // No video for a while: keep reading audio, so a writer that is ahead with it is not held up.
                    if (auto pulled = audio.pull(recorder.origin_ns(), zerobuffer::kNoTimestamp, {}); !pulled) {
                        failure = failure_of(pulled.error());
                    }
                }
                continue;
            }
            dropped += frame->frames_skipped();
            if ((frame->info().flags & zerobuffer::kFrameEndOfStream) != 0) {
                ending = "end of stream";
                break;
            }
            if (frame->format_changed() || recorder.frames() + recorder.skipped() == 0) {
                if (reader.stream_metadata().empty()) {
                    failure = Failure{kExitInput, "ring '" + options.ring +
                                                      "' has no stream metadata, so its frames cannot be interpreted"
                                                      " - its writer must publish a stream format"};
                    continue;
                }
                if (auto used = recorder.use_format(reader.stream_metadata()); !used) {
                    // Once recording, a format that cannot be used is a change the file cannot follow.
                    ending = recorder.started() ? "stopped at a change of stream format"
                                                : "stopped: the stream format cannot be recorded";
                    failure = Failure{kExitInput, used.error().message};
                    continue;
                }
            }
            if (auto recorded = recorder.record(std::move(*frame)); !recorded) {
                failure = failure_of(recorded.error());
                continue;
            }
            if (with_audio && recorder.started()) {
                if (auto pulled = audio.pull(recorder.origin_ns(), zerobuffer::kNoTimestamp, {}); !pulled) {
                    failure = failure_of(pulled.error());
                    continue;
                }
            }
            progress.update(recorder.frames(), dropped, recorder.media_time_ns());
        }
        if (!writer_gone) {
            break;
        }
        // WriterGone without end-of-stream: the writer died (or closed without saying so).
        if (!options.reconnect) {
            ending = "writer gone";
            std::fprintf(stderr,
                         "%s: warning: the writer of ring '%s' is gone without end-of-stream; "
                         "finishing the file\n",
                         kProgram, options.ring.c_str());
            break;
        }
        finished_ring = attached.identity;
    }

    // The audio up to the video's end (the ring's writer ends both rings), then finish the file whatever happened,
    // so what was recorded plays.
    if (with_audio && recorder.started() && !failure) {
        while (!audio.ended() && !audio.past_end() && !stop_requested()) {
            if (auto pulled =
                    audio.pull(recorder.origin_ns(), recorder.media_time_ns(), std::chrono::milliseconds(200));
                !pulled) {
                failure = failure_of(pulled.error());
                break;
            }
        }
    }
    if (auto finished = recorder.finish(); !finished && !failure) {
        failure = Failure{kExitOutput, finished.error().message};
    }
    if (ending.empty()) {
        ending = "stopped by the error below";
    }
    std::string extra = ending;
    if (recorder.skipped() != 0) {
        extra += ", " + std::to_string(recorder.skipped()) + " frames before the first keyframe skipped";
    }
    if (recorder.corrupt() != 0) {
        extra += ", " + std::to_string(recorder.corrupt()) + " bad frames skipped";
    }
    if (recorder.started()) {
        extra += ", wrote " + options.output;
    }
    if (with_audio) {
        extra += "; audio: " + std::to_string(audio.frames()) + " frames" +
                 (audio.description().empty() ? std::string() : " (" + audio.description() + ")") +
                 (audio.skipped() != 0 ? ", " + std::to_string(audio.skipped()) + " outside the video left out" : "");
    }
    progress.summary(recorder.frames(), dropped, recorder.media_time_ns(), extra);
    if (failure) {
        std::fprintf(stderr, "%s: error: %s\n", kProgram, failure->message.c_str());
        return failure->exit_code;
    }
    if (!recorder.started()) {
        if (stop_requested()) {
            std::fprintf(stderr, "%s: interrupted before any frame was recorded; no file written\n", kProgram);
            return kExitInterrupted;
        }
        std::fprintf(stderr, "%s: error: ring '%s' ended before any recordable frame; no file written\n", kProgram,
                     options.ring.c_str());
        return kExitInput;
    }
    return kExitOk;
}

} // namespace
} // namespace zbffmpeg::record

int main(int argc, char** argv)
{
    zbffmpeg::record::RecordOptions options;
    if (auto exit_code = zbffmpeg::record::parse_arguments(argc, argv, options)) {
        return *exit_code;
    }
    return zbffmpeg::record::run(options);
}
