// SPDX-License-Identifier: MIT
// zb-record's audio track (--audio-ring): reads an audio ring and adds its stream to the video's file, encoded
// with libavcodec's AAC encoder when the ring carries raw audio, remuxed when it carries encoded packets.
// Timestamps are relative to the video's first recorded frame, so both streams keep their sync.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <zerobuffer/zerobuffer.h>

#include "av_handles.h"
#include "error.h"

extern "C" {
#include <libavutil/audio_fifo.h>
#include <libavutil/samplefmt.h>
}

namespace zbffmpeg {

struct AudioFifoDeleter {
    void operator()(AVAudioFifo* fifo) const noexcept { av_audio_fifo_free(fifo); }
};
using AudioFifoPtr = std::unique_ptr<AVAudioFifo, AudioFifoDeleter>;

class AudioTrack {
public:
    AudioTrack(std::string ring, std::string output) : ring_(std::move(ring)), output_name_(std::move(output)) {}
    AudioTrack(const AudioTrack&) = delete;
    AudioTrack& operator=(const AudioTrack&) = delete;
    ~AudioTrack();

    /// Takes the ring's reader and waits (until a signal) for its first frame, whose stream format says what the
    /// track is. Errors name the ring and what is wrong with its format.
    [[nodiscard]] Result<void> start(zerobuffer::Reader reader);

    /// Adds the audio stream (and opens the AAC encoder for raw audio) to `output`, before its header.
    [[nodiscard]] Result<void> add_stream(AVFormatContext& output);
    /// After the header: the stream's time base is final.
    void header_written() noexcept;

    /// Records the audio frames the ring has (waiting up to `wait` for the first one), with timestamps relative
    /// to `origin_ns`; frames before it, and from `end_ns` on (when not kNoTimestamp), are left out.
    [[nodiscard]] Result<void> pull(std::int64_t origin_ns, std::int64_t end_ns, std::chrono::milliseconds wait);
    /// True once the ring ended (end-of-stream, or its writer is gone).
    [[nodiscard]] bool ended() const noexcept { return ended_; }
    /// True once a frame from `end_ns` on was seen: the rest of the ring is past the video.
    [[nodiscard]] bool past_end() const noexcept { return past_end_; }
    /// Encodes what the encoder still has, before the file's trailer.
    [[nodiscard]] Result<void> finish();

    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
    [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }
    [[nodiscard]] const std::string& description() const noexcept { return description_; }

private:
    Result<void> use_format(const std::string& json);
    Result<void> record(const zerobuffer::Frame& frame, std::int64_t origin_ns, std::int64_t end_ns);
    Result<void> encode_raw(std::span<const std::byte> payload, std::int64_t pts_ns);
    Result<void> remux(std::span<const std::byte> payload, const zerobuffer::FrameInfo& info, std::int64_t pts_ns);
    Result<void> send_samples(int count);
    Result<void> send_to_encoder(AVFrame* frame);
    Result<void> write(AVPacket& packet);

    std::string ring_;
    std::string output_name_;
    std::optional<zerobuffer::Reader> reader_;  ///< Before pending_: a frame must not outlive its reader.
    std::optional<zerobuffer::Frame> pending_;  ///< The first frame, read by start() for its format.
    zerobuffer::StreamFormat format_;
    bool raw_ = false;
    AVSampleFormat ring_sample_format_ = AV_SAMPLE_FMT_NONE;
    AVFormatContext* output_ = nullptr;
    int stream_index_ = -1;
    AVRational stream_time_base_{1, 1};
    CodecContextPtr encoder_;
    AudioFifoPtr fifo_;
    FramePtr frame_;
    PacketPtr packet_;
    std::vector<std::vector<float>> planes_; ///< Raw ring samples converted for the encoder (float planar).
    std::int64_t next_sample_ = AV_NOPTS_VALUE; ///< The encoder's next frame's pts, in samples.
    std::int64_t last_dts_ = AV_NOPTS_VALUE;
    std::string description_;
    bool ended_ = false;
    bool past_end_ = false;
    std::uint64_t frames_ = 0;
    std::uint64_t skipped_ = 0;
};

} // namespace zbffmpeg
