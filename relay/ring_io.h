// SPDX-License-Identifier: MIT
// Ring ends of a route: the source Reader that survives writer restarts, and the output rings with their policy.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <zerobuffer/reader.h>
#include <zerobuffer/writer.h>

#include "config.h"
#include "relay_error.h"
#include "route_stats.h"

namespace zerobuffer::relay {

/// Prints "zb-relay: route NAME: MESSAGE" on stderr.
void log_route(const std::string& route, const std::string& message);

/// True for media whose frames depend on each other (anything but raw video/audio with a known media type).
[[nodiscard]] bool is_encoded_stream(const std::string& stream_metadata_json);

/// One output ring of a route. Created when the route starts (taking over a dead writer's ring of that name).
class OutputRing {
public:
    /// Its drops are also counted in `stats` by reason; `stats` must outlive it.
    OutputRing(Endpoint endpoint, std::string route_name, RouteStats& stats);

    [[nodiscard]] RelayResult<void> open();
    /// True once the ring has as many readers as its wait-readers option asks for.
    [[nodiscard]] bool readers_ready();
    /// Publishes a stream-metadata document unless it is the one already in effect.
    void publish_stream_metadata(const std::string& json);

    enum class Outcome { Written, Dropped, Stopped, Broken };
    /// Copies one frame in (the single copy of this output). Lossless outputs wait for room while `stop` is
    /// unset; latest outputs drop when the ring is full. Encoded streams skip to the next keyframe after a drop.
    Outcome write(std::span<const std::byte> payload, std::span<const std::byte> metadata, FrameInfo info, bool encoded,
                  const std::atomic<bool>& stop);
    /// Fills the payload of one frame in place: `fill` writes exactly `payload_size` bytes into the reservation
    /// (a payload stream's recv()). When `fill` fails the reservation is aborted, nothing is committed (a torn
    /// frame never reaches a reader) and the outcome is Broken. `fill` is not called when the frame is dropped.
    using Fill = std::function<bool(std::span<std::byte>)>;
    Outcome write_filled(std::size_t payload_size, std::span<const std::byte> metadata, FrameInfo info, bool encoded,
                         const std::atomic<bool>& stop, const Fill& fill);

    [[nodiscard]] std::uint64_t written() const noexcept { return written_; }
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }
    [[nodiscard]] const Endpoint& endpoint() const noexcept { return endpoint_; }
    /// Logs the final counts.
    void log_summary() const;

private:
    void count_drop(DropReason reason, std::string_view why);

    Endpoint endpoint_;
    std::string route_name_;
    RouteStats* stats_;
    std::optional<Writer> writer_;
    std::string published_; ///< Stream metadata in effect in this ring.
    bool need_keyframe_ = false;
    bool pending_discontinuity_ = false;
    std::uint64_t written_ = 0;
    std::uint64_t dropped_ = 0;
};

/// The source ring of a route: attaches when the ring appears, re-attaches after its writer closes or dies,
/// and says when something is missing before a frame.
class RingSource {
public:
    RingSource(std::string ring_name, ReaderPolicy policy, std::string route_name);

    /// The next frame, or nothing after ~`wait` (no frame, ring absent, stop requested).
    /// `discontinuity` is set when frames are missing before this one (source restart, skipped frames).
    [[nodiscard]] std::optional<Frame> next(std::chrono::milliseconds wait, bool& discontinuity);
    /// True on the first frame after attaching and whenever the frame's stream metadata changed.
    [[nodiscard]] bool metadata_changed() const noexcept { return metadata_changed_; }
    [[nodiscard]] const std::string& stream_metadata() const;
    /// True after the writer went away: call detach() once no Frame of this source is alive any more.
    [[nodiscard]] bool needs_detach() const noexcept { return gone_; }
    /// Drops the Reader (only when no Frame of it is alive any more).
    void detach() noexcept;

private:
    std::string ring_name_;
    ReaderPolicy policy_;
    std::string route_name_;
    std::optional<Reader> reader_;
    bool waiting_logged_ = false;
    bool fresh_attach_ = false;
    bool saw_end_of_stream_ = true; ///< No gap before the very first stream.
    bool lost_writer_ = false;
    bool metadata_changed_ = false;
    bool gone_ = false;
    /// The ring incarnation (writer pid, creation time) last drained to WriterGone: not re-attached to.
    std::pair<std::int32_t, std::int64_t> drained_{0, 0};
    std::string empty_;
};

} // namespace zerobuffer::relay
