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
// The learning. A paced writer commits on a grid (its clock's deadlines) plus its own lateness, which is never
// negative. So the reader estimates the interval (commit deltas divided by the sequence distance, so a latest
// reader that skips frames learns the stream's interval, not its own; the stream format's frame rate is the first
// guess) and the grid's phase as the lower envelope of the commits (a commit earlier than the grid moves it at once,
// later ones pull it back only slowly), and how late commits come after their grid point (the writer's lateness) and
// how late its own timed sleeps wake up. It sleeps until the grid point less its own wake-up lateness, then polls
// until the grid point plus about twice the writer's usual lateness: at most `budget` of the interval in all.
// Commits that deviate from the grid by more than half an interval (dropped frames, a pause) teach nothing and close
// the windows until four regular intervals in a row come again; many of them in a row start the learning again.
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
        // From the stream format, which another process wrote: only a rate periodic() could accept is used.
        nominal_ns_ = interval_ns > 0 && interval_ns <= kMaxIntervalNs ? interval_ns : 0;
        if (interval_ns_ == 0)
            interval_ns_ = nominal_ns_;
    }

    /// A frame the reader got: its sequence and commit time.
    void on_frame(std::uint64_t sequence, std::int64_t commit_ns) noexcept
    {
        // The commit time is written by another process: one that no monotonic clock can show is not learnt
        // from, so that no difference or grid point below can overflow (found by fuzz-segment-reader).
        if (commit_ns <= 0 || commit_ns > kMaxCommitNs)
            return;
        if (samples_ != 0 && sequence > last_sequence_ && commit_ns > last_commit_ns_) {
            const auto frames = static_cast<std::int64_t>(std::min<std::uint64_t>(sequence - last_sequence_, 1'000'000));
            const std::int64_t delta = (commit_ns - last_commit_ns_) / frames;
            if (interval_ns_ == 0) {
                interval_ns_ = delta;
                grid_ns_ = commit_ns;
            } else if (std::llabs(delta - interval_ns_) <= interval_ns_ / 2) {
                interval_ns_ += (delta - interval_ns_) / 16;
                follow_grid(commit_ns);
                ++regular_;
                irregular_ = 0;
            } else {
                // An interval off the rate: no window until four regular ones in a row again (a bursty stream that
                // only sometimes looks regular never gets one).
                regular_ = 0;
                if (++irregular_ > 8) {
                    // The rate changed (or never was one): learn again from here.
                    interval_ns_ = delta;
                    grid_ns_ = commit_ns;
                    writer_late_ns_ = 0;
                    irregular_ = 0;
                }
            }
        } else if (samples_ == 0) {
            grid_ns_ = commit_ns;
        }
        last_sequence_ = sequence;
        last_commit_ns_ = commit_ns;
        ++samples_;
    }

    /// How late a timed sleep that was asked to end at `asked_ns` woke up (at `woke_ns`).
    void on_sleep(std::int64_t asked_ns, std::int64_t woke_ns) noexcept
    {
        const std::int64_t late = std::max<std::int64_t>(0, woke_ns - asked_ns);
        wake_late_ns_ += (std::min(late, interval_ns_ / 4) - wake_late_ns_) / 8;
    }

    /// A stream regular enough to wait for: enough regular intervals of 1 ms to 10 s.
    [[nodiscard]] bool periodic() const noexcept
    {
        return regular_ >= 4 && interval_ns_ >= 1'000'000 && interval_ns_ <= kMaxIntervalNs;
    }

    /// The grid point of the frame after the last one the reader got.
    [[nodiscard]] std::int64_t next_due_ns() const noexcept { return grid_ns_ + interval_ns_; }
    /// When to stop sleeping (registered) and start polling for it.
    [[nodiscard]] std::int64_t poll_from_ns() const noexcept { return next_due_ns() - kGuardNs - wake_late_ns_; }
    /// When to give up polling for it (the frame is late: the plain wait takes over).
    [[nodiscard]] std::int64_t poll_until_ns() const noexcept
    {
        const auto budget = static_cast<std::int64_t>(static_cast<double>(interval_ns_) * budget_);
        const std::int64_t cover = std::max<std::int64_t>(kGuardNs, std::min(2 * writer_late_ns_ + kGuardNs,
                                                                            budget - kGuardNs - wake_late_ns_));
        return next_due_ns() + cover;
    }

    [[nodiscard]] std::int64_t interval_ns() const noexcept { return interval_ns_; }
    [[nodiscard]] std::int64_t window_ns() const noexcept { return poll_until_ns() - poll_from_ns(); }

private:
    static constexpr std::int64_t kGuardNs = 20'000;
    static constexpr std::int64_t kMaxIntervalNs = 10'000'000'000; ///< The slowest stream waited for: 0.1 fps.
    /// 2^62 ns, some 146 years of uptime: differences of two such times and grid sums stay within int64.
    static constexpr std::int64_t kMaxCommitNs = std::int64_t{1} << 62;

    /// The grid: the lower envelope of the commits, anchored at the newest grid point.
    void follow_grid(std::int64_t commit_ns) noexcept
    {
        const std::int64_t steps = (commit_ns - grid_ns_ + interval_ns_ / 2) / interval_ns_;
        const std::int64_t point = grid_ns_ + steps * interval_ns_;
        const std::int64_t late = commit_ns - point;
        if (late < 0) {
            grid_ns_ = commit_ns; // Earlier than we thought: the grid is there.
        } else {
            grid_ns_ = point + late / 32; // Later: the writer was late, or the grid drifts; follow slowly.
            writer_late_ns_ += (std::min(late, interval_ns_ / 4) - writer_late_ns_) / 8;
        }
    }

    double budget_;
    std::int64_t nominal_ns_ = 0;
    std::int64_t interval_ns_ = 0;
    std::int64_t grid_ns_ = 0;
    std::int64_t writer_late_ns_ = 0;
    std::int64_t wake_late_ns_ = 0;
    std::uint64_t last_sequence_ = 0;
    std::int64_t last_commit_ns_ = 0;
    std::uint64_t samples_ = 0;
    std::uint64_t regular_ = 0;
    std::uint64_t irregular_ = 0;
};

} // namespace zerobuffer::detail
