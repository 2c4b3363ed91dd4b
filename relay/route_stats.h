// SPDX-License-Identifier: MIT
// The live figures of one route: written by the route's thread, read by the status printer and --metrics
// (docs/monitoring.md). Counters are atomics; the subscriber list is a snapshot the publisher refreshes.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "config.h"

namespace zerobuffer::relay {

/// Why a frame was not delivered to an output ring or a subscriber; the `reason` label of the drop counter.
enum class DropReason : std::uint8_t {
    RingFull,     ///< A `latest` output ring had no room.
    RingError,    ///< An output ring refused the frame (too big, broken payload, its writer failed).
    KeyframeWait, ///< An encoded stream skips to the next keyframe after an earlier drop.
    NoCredit,     ///< A `latest` subscriber had no credit left in its window.
    QueueFull,    ///< libzmq's send queue to a subscriber was full.
    UpstreamGap,  ///< Receiving: frames the sender never sent us (it dropped them for us, or restarted).
};
inline constexpr std::size_t kDropReasons = 6;
[[nodiscard]] const char* drop_reason_label(DropReason reason) noexcept;

/// One subscriber of a sending route, as the metrics show it.
struct SubscriberFigures {
    std::uint32_t number = 0; ///< The "#N" of the relay's log lines.
    FlowPolicy policy = FlowPolicy::Lossless;
    std::uint32_t window = 0;    ///< Its credit window (frames in flight it allows).
    std::uint64_t delivered = 0; ///< Frames sent to it in this session.
    std::uint64_t dropped = 0;   ///< Frames not sent to it (all reasons).
    std::uint64_t in_flight = 0; ///< Sent but not yet acknowledged.
    std::uint64_t resumes = 0;   ///< Times it was resumed from the newest keyframe.
};

/// The subscribers of a sending route, refreshed by its publisher a few times a second (not per frame) and read
/// by scrapes. At most kListed are kept one by one, so a flood of connections cannot make the endpoint's answer
/// unbounded; the rest are summed up.
class SubscriberBoard {
public:
    static constexpr std::size_t kListed = 64;
    static constexpr std::chrono::milliseconds kRefresh{250};

    struct Snapshot {
        std::vector<SubscriberFigures> listed; ///< By subscriber number.
        std::size_t others = 0;                ///< Subscribers beyond kListed.
        SubscriberFigures others_total;        ///< Their figures summed (policy and window meaningless).
    };

    /// Replaces the board with `subscribers` (any order; only the lowest kListed numbers are listed).
    void publish(std::vector<SubscriberFigures> subscribers);
    [[nodiscard]] Snapshot snapshot() const;

private:
    mutable std::mutex mutex_;
    Snapshot board_;
};

/// Counters of one route (monotonic unless said otherwise).
struct RouteStats {
    std::atomic<std::uint64_t> frames{0}; ///< Frames taken from the source.
    std::atomic<std::uint64_t> bytes{0};  ///< Payload bytes taken from the source.
    /// Frames not delivered to some output or subscriber, net of those a resume delivered later (the status line's
    /// figure; it can go down, so --metrics shows dropped_by_reason and recovered instead).
    std::atomic<std::uint64_t> drops{0};
    std::array<std::atomic<std::uint64_t>, kDropReasons> dropped_by_reason{};
    /// Frames counted as dropped for a subscriber that a resume from the newest keyframe delivered after all.
    std::atomic<std::uint64_t> recovered{0};
    std::atomic<std::uint64_t> peers{0};    ///< Network subscribers now (sending) or 1 when connected (receiving).
    std::atomic<std::uint64_t> rejected{0}; ///< Network messages or clients refused (hostile, wrong key, limits).
    /// Clients refused by CURVE: a key not in the allowed-keys file (sending), or our key refused (receiving).
    std::atomic<std::uint64_t> curve_refusals{0};
    std::atomic<std::uint64_t> disconnects{0}; ///< Receiving: connections to the sender lost (each one reconnects).
    std::atomic<std::uint64_t> reconnects{0};  ///< Receiving: connections made again after one was lost.
    SubscriberBoard subscribers;               ///< Sending: who is connected, and their figures.

    void count_drop(DropReason reason, std::uint64_t frames_dropped = 1) noexcept
    {
        dropped_by_reason[static_cast<std::size_t>(reason)].fetch_add(frames_dropped, std::memory_order_relaxed);
    }
};

} // namespace zerobuffer::relay
