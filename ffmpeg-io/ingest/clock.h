// SPDX-License-Identifier: MIT
// zb-ingest's clock: frame timestamps in ns across --loop, and --realtime pacing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>

#include <zerobuffer/frame.h>

#include "program.h"

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/mathematics.h>
}

namespace zbffmpeg::ingest {

inline constexpr AVRational kNanoseconds{1, 1'000'000'000};

/// Timestamps in ns that keep increasing across --loop, and --realtime pacing on them.
class Clock {
public:
    Clock(AVRational time_base, std::int64_t start_time, bool realtime)
        : time_base_(time_base), start_ns_(start_time == AV_NOPTS_VALUE ? 0 : rescale(start_time)), realtime_(realtime)
    {
    }

    [[nodiscard]] std::int64_t to_ns(std::int64_t timestamp) const noexcept
    {
        return timestamp == AV_NOPTS_VALUE ? zerobuffer::kNoTimestamp : rescale(timestamp) + loop_offset_ns_;
    }
    [[nodiscard]] std::int64_t duration_ns(std::int64_t duration) const noexcept
    {
        return duration <= 0 ? zerobuffer::kNoTimestamp : rescale(duration);
    }

    /// Remembers the end of the latest frame (for the next loop's offset and the progress line).
    void saw(std::int64_t pts_ns, std::int64_t duration_ns) noexcept
    {
        if (pts_ns == zerobuffer::kNoTimestamp) {
            return;
        }
        if (first_ns_ == zerobuffer::kNoTimestamp) {
            first_ns_ = pts_ns;
        }
        end_ns_ = std::max(end_ns_, pts_ns + (duration_ns == zerobuffer::kNoTimestamp ? 0 : duration_ns));
    }

    /// A timestamp, or (for inputs without any, like raw .h264) the end of the previous frame.
    [[nodiscard]] std::int64_t or_next(std::int64_t pts_ns) const noexcept
    {
        return pts_ns != zerobuffer::kNoTimestamp ? pts_ns : end_ns_;
    }

    /// The input starts again: its timestamps continue after the latest frame.
    void looped() noexcept { loop_offset_ns_ = end_ns_ - start_ns_; }
    /// The offset a loop added (the audio clock takes the video's, so both streams stay in sync).
    [[nodiscard]] std::int64_t loop_offset_ns() const noexcept { return loop_offset_ns_; }
    void looped_by(std::int64_t offset_ns) noexcept { loop_offset_ns_ = offset_ns; }

    /// With --realtime, sleeps until the frame's time has come relative to the first frame.
    void pace(std::int64_t pts_ns) noexcept
    {
        if (!realtime_ || pts_ns == zerobuffer::kNoTimestamp) {
            return;
        }
        const std::int64_t now = monotonic_ns();
        if (wall_start_ns_ == 0) {
            wall_start_ns_ = now;
            pace_origin_ns_ = pts_ns;
            return;
        }
        std::int64_t wait = wall_start_ns_ + (pts_ns - pace_origin_ns_) - now;
        while (wait > 0 && !stop_requested()) {
            std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(wait, 100'000'000)));
            wait = wall_start_ns_ + (pts_ns - pace_origin_ns_) - monotonic_ns();
        }
    }

    [[nodiscard]] std::int64_t media_time_ns() const noexcept
    {
        return first_ns_ == zerobuffer::kNoTimestamp ? 0 : end_ns_ - first_ns_;
    }

private:
    [[nodiscard]] std::int64_t rescale(std::int64_t value) const noexcept
    {
        return av_rescale_q(value, time_base_, kNanoseconds);
    }

    AVRational time_base_;
    std::int64_t start_ns_;
    bool realtime_;
    std::int64_t loop_offset_ns_ = 0;
    std::int64_t first_ns_ = zerobuffer::kNoTimestamp;
    std::int64_t end_ns_ = 0;
    std::int64_t wall_start_ns_ = 0;
    std::int64_t pace_origin_ns_ = 0;
};

} // namespace zbffmpeg::ingest
