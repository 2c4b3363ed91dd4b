// SPDX-License-Identifier: MIT
// RAII owners of FFmpeg objects: unique_ptr with deleters that call the matching FFmpeg free function.
#pragma once

#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

namespace zbffmpeg {

struct InputContextDeleter {
    void operator()(AVFormatContext* context) const noexcept { avformat_close_input(&context); }
};
/// An opened demuxer (avformat_open_input); closing also frees it.
using InputContextPtr = std::unique_ptr<AVFormatContext, InputContextDeleter>;

struct OutputContextDeleter {
    void operator()(AVFormatContext* context) const noexcept
    {
        // Closes the file if the muxer needs one and we opened it; the trailer is written by the owner first.
        if (context->oformat != nullptr && (context->oformat->flags & AVFMT_NOFILE) == 0 && context->pb != nullptr) {
            avio_closep(&context->pb);
        }
        avformat_free_context(context);
    }
};
/// A muxer (avformat_alloc_output_context2) and the file it writes.
using OutputContextPtr = std::unique_ptr<AVFormatContext, OutputContextDeleter>;

struct CodecContextDeleter {
    void operator()(AVCodecContext* context) const noexcept { avcodec_free_context(&context); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;

struct FrameDeleter {
    void operator()(AVFrame* frame) const noexcept { av_frame_free(&frame); }
};
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;

struct PacketDeleter {
    void operator()(AVPacket* packet) const noexcept { av_packet_free(&packet); }
};
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;

struct SwsContextDeleter {
    void operator()(SwsContext* context) const noexcept { sws_freeContext(context); }
};
using SwsContextPtr = std::unique_ptr<SwsContext, SwsContextDeleter>;

struct BsfContextDeleter {
    void operator()(AVBSFContext* context) const noexcept { av_bsf_free(&context); }
};
using BsfContextPtr = std::unique_ptr<AVBSFContext, BsfContextDeleter>;

/// An AVDictionary of options; FFmpeg consumes the entries it knows and leaves the rest.
class Dictionary {
public:
    Dictionary() = default;
    Dictionary(const Dictionary&) = delete;
    Dictionary& operator=(const Dictionary&) = delete;
    ~Dictionary() { av_dict_free(&dictionary_); }

    int set(const char* key, const char* value) noexcept { return av_dict_set(&dictionary_, key, value, 0); }
    AVDictionary** address() noexcept { return &dictionary_; }
    [[nodiscard]] const AVDictionary* get() const noexcept { return dictionary_; }
    /// The first entry FFmpeg did not consume (an unknown option), or nullptr.
    [[nodiscard]] const AVDictionaryEntry* first_left() const noexcept
    {
        return av_dict_get(dictionary_, "", nullptr, AV_DICT_IGNORE_SUFFIX);
    }

private:
    AVDictionary* dictionary_ = nullptr;
};

[[nodiscard]] inline FramePtr make_frame() noexcept
{
    return FramePtr(av_frame_alloc());
}
[[nodiscard]] inline PacketPtr make_packet() noexcept
{
    return PacketPtr(av_packet_alloc());
}

} // namespace zbffmpeg
