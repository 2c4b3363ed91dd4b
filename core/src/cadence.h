// SPDX-License-Identifier: MIT
// Cadence-aware waiting: a reader of a periodic (live) stream learns when the next frame is due, sleeps until
// shortly before it and spins for it, so that it does not pay a wake-up from a futex sleep on every frame.
//
// Why. A reader that sleeps in FUTEX_WAIT between frames pays the machine's wake-up on every frame: on a VM that is
// 100 us at the median and a millisecond and more at p99. A reader that spins sees the commit within the cache
// line's transfer (about a microsecond), but spinning all the time costs a core. A live stream is periodic, so the
// reader can spin only in a short window around the frame's due time.
//
// The promises of the plain wait are kept:
// - no lost wake-up: while it sleeps before the window the reader is registered in sleeping_readers exactly as in
//   the plain wait (the same Dekker handshake with the writer), so a frame that comes early wakes it at once; it
//   only leaves that registration for the window itself, where it polls `committed`;
// - no idle CPU when no frames come: the window is bounded (a fraction of the frame interval, `budget`); a frame
//   that is late past the window sends the reader back to the plain futex sleep, and a stream that is not periodic
//   (unpaced, irregular, paused) never gets a window;
// - the CPU the windows cost is counted (ReaderCounters::spin_ns) and shown by zbctl.
//
// The learning. Intervals come from commit times of the frames the reader gets (divided by the sequence distance, so a
// latest reader that skips frames learns the stream's interval, not its own) and from the stream format's frame rate
// when it has one; the jitter is the mean deviation from the interval. The window is the sleep's own lateness
// (how late timed sleeps on this machine wake up, learnt from each sleep) plus twice the jitter, at least 20 us, at
// most `budget` of the interval. The estimates adapt with weight 1/8, and a deviation of more than half an interval
// (a gap: dropped frames, a pause) does not teach anything.
#pragma once

#include "private.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace zerobuffer::detail {

class Cadence {
public:
    /// `budget`: the most of each interval the window may take (0.03: 3 % of a core at any frame rate).
    explicit Cadence(double budget) : budget_(budget) {}

    /// The frame rate the stream format announces (0: none). Used until commits teach better.
    void set_nominal(std::int64_t interval_ns) noexcept
    {
        nominal_ns_ = interval_ns > 0 ? interval_ns : 0;
        if (interval_ns_ == 0)
            interval_ns_ = nominal_ns_;
    }

    /// A frame the reader got: its sequence and commit time.
    void on_frame(std::uint64_t sequence, std::int64_t commit_ns) noexcept
    {
        if (samples_ != 0 && sequence > last_sequence_ && commit_ns > last_commit_ns_) {
            const std::int64_t delta =
                (commit_ns - last_commit_ns_) / static_cast<std::int64_t>(std::min<std::uint64_t>(sequence - last_sequence_, 1'000'000));
            if (interval_ns_ == 0) {
                interval_ns_ = delta;
            } else if (std::llabs(delta - interval_ns_) <= interval_ns_ / 2) {
                const std::int64_t deviation = std::llabs(delta - interval_ns_);
                interval_ns_ += (delta - interval_ns_) / 8;
                jitter_ns_ += (deviation - jitter_ns_) / 8;
                ++regular_;
            } else if (++irregular_ > 8 && irregular_ > regular_ / 4) {
                // The rate changed (or never was one): learn again from scratch.
                interval_ns_ = delta;
                jitter_ns_ = 0;
                regular_ = irregular_ = 0;
            }
        }
        last_sequence_ = sequence;
        last_commit_ns_ = commit_ns;
        ++samples_;
    }

    /// How late a timed sleep that was asked to end at `asked_ns` woke up (at `woke_ns`).
    void on_sleep(std::int64_t asked_ns, std::int64_t woke_ns) noexcept
    {
        const std::int64_t late = std::max<std::int64_t>(0, woke_ns - asked_ns);
        // A slowly decaying maximum: one late wake-up widens the window at once, calm ones narrow it slowly.
        lateness_ns_ = std::max(late, lateness_ns_ - lateness_ns_ / 32);
    }

    /// A stream regular enough to wait for: enough regular intervals of 1 ms to 10 s, jitter under a quarter.
    [[nodiscard]] bool periodic() const noexcept
    {
        return regular_ >= 4 && interval_ns_ >= 1'000'000 && interval_ns_ <= 10'000'000'000 &&
               jitter_ns_ <= interval_ns_ / 4;
    }

    /// When the frame after the last one the reader got is due.
    [[nodiscard]] std::int64_t next_due_ns() const noexcept { return last_commit_ns_ + interval_ns_; }

    /// How long before (and after) the due time to poll for the frame.
    [[nodiscard]] std::int64_t window_ns() const noexcept
    {
        const std::int64_t wanted = lateness_ns_ + 2 * jitter_ns_ + 20'000;
        const auto most = static_cast<std::int64_t>(static_cast<double>(interval_ns_) * budget_);
        return std::max<std::int64_t>(20'000, std::min(wanted, most));
    }

    [[nodiscard]] std::int64_t interval_ns() const noexcept { return interval_ns_; }
    [[nodiscard]] std::int64_t nominal_ns() const noexcept { return nominal_ns_; }

private:
    double budget_;
    std::int64_t nominal_ns_ = 0;
    std::int64_t interval_ns_ = 0;
    std::int64_t jitter_ns_ = 0;
    std::int64_t lateness_ns_ = 0;
    std::uint64_t last_sequence_ = 0;
    std::int64_t last_commit_ns_ = 0;
    std::uint64_t samples_ = 0;
    std::uint64_t regular_ = 0;
    std::uint64_t irregular_ = 0;
};

} // namespace zerobuffer::detail
