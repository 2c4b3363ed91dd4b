// SPDX-License-Identifier: MIT
// zb-ingest's ring: created when the first frame's format is known, publishes the stream format, reserves and
// commits frames, and ends with an end-of-stream frame.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include <zerobuffer/zerobuffer.h>

#include "cli.h"
#include "error.h"
#include "options.h"

namespace zbffmpeg::ingest {

/// The ring, created lazily when the first frame's format is known (so a bad input leaves no ring behind).
class RingOutput {
public:
    explicit RingOutput(const IngestOptions& options) : options_(options) {}

    /// Creates the ring on first use (sized for frames of frame_size) and publishes the format when it changed.
    Result<void> publish(const zerobuffer::StreamFormat& format, std::size_t frame_size)
    {
        if (!writer_) {
            zerobuffer::WriterOptions writer_options = options_.writer;
            if (!options_.ring_size_given) {
                writer_options.ring_size = std::max<std::size_t>(writer_options.ring_size, frame_size * 8);
            }
            auto writer = zerobuffer::Writer::create(options_.ring, writer_options);
            if (!writer) {
                return make_error(FfmpegIoErrc::RingError,
                                  "cannot create ring '" + options_.ring + "': " + writer.error().message);
            }
            writer_.emplace(std::move(*writer));
        }
        if (frame_size > writer_->max_payload_size()) {
            return make_error(FfmpegIoErrc::RingError, "a frame of " + std::to_string(frame_size) +
                                                           " bytes does not fit in ring '" + options_.ring +
                                                           "' (at most " + std::to_string(writer_->max_payload_size()) +
                                                           " bytes): use a larger --ring-size");
        }
        std::string json = zerobuffer::to_json(format);
        if (json != published_json_) {
            auto generation = writer_->set_stream_metadata(json);
            if (!generation) {
                return make_error(FfmpegIoErrc::RingError, "cannot publish the stream format on ring '" +
                                                               options_.ring + "': " + generation.error().message);
            }
            published_json_ = std::move(json);
        }
        if (options_.wait_for_readers > 0 && !waited_) {
            std::fprintf(stderr, "%s: waiting for %u reader(s) on ring '%s'\n", kProgram, options_.wait_for_readers,
                         options_.ring.c_str());
            while (!stop_requested()) {
                if (writer_->wait_for_readers(options_.wait_for_readers, std::chrono::milliseconds(200))) {
                    break;
                }
            }
            waited_ = true;
            if (stop_requested()) {
                return make_error(FfmpegIoErrc::Interrupted, "stopped while waiting for a reader");
            }
        }
        return {};
    }

    /// Reserves a frame; an empty optional (and one more drop) when slow lossless readers leave no room in time.
    Result<std::optional<zerobuffer::FrameReservation>> reserve(std::size_t size)
    {
        auto reservation = writer_->reserve(size);
        if (!reservation) {
            if (reservation.error().code == zerobuffer::Errc::Timeout) {
                ++dropped_;
                return std::optional<zerobuffer::FrameReservation>{};
            }
            if (reservation.error().code == zerobuffer::Errc::FrameTooLarge) {
                return make_error(FfmpegIoErrc::RingError, "a frame of " + std::to_string(size) +
                                                               " bytes does not fit in ring '" + options_.ring +
                                                               "': use a larger --ring-size");
            }
            return make_error(FfmpegIoErrc::RingError,
                              "cannot reserve a frame in ring '" + options_.ring + "': " + reservation.error().message);
        }
        return std::optional<zerobuffer::FrameReservation>(std::move(*reservation));
    }

    Result<void> commit(zerobuffer::FrameReservation& reservation, const zerobuffer::FrameInfo& info, std::size_t size)
    {
        auto committed = writer_->commit(reservation, info, size, 0);
        if (!committed) {
            return make_error(FfmpegIoErrc::RingError,
                              "cannot commit a frame to ring '" + options_.ring + "': " + committed.error().message);
        }
        ++frames_;
        return {};
    }

    /// Commits the end-of-stream frame (empty payload), if the ring exists.
    void end_of_stream()
    {
        if (!writer_) {
            return;
        }
        zerobuffer::FrameInfo info;
        info.flags = zerobuffer::kFrameEndOfStream;
        if (auto written = writer_->write({}, info); !written) {
            std::fprintf(stderr, "%s: warning: cannot write the end-of-stream frame: %s\n", kProgram,
                         written.error().message.c_str());
        }
    }

    [[nodiscard]] bool created() const noexcept { return writer_.has_value(); }
    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

private:
    const IngestOptions& options_;
    std::optional<zerobuffer::Writer> writer_;
    std::string published_json_;
    bool waited_ = false;
    std::uint64_t frames_ = 0;
    std::uint64_t dropped_ = 0;
};

} // namespace zbffmpeg::ingest
