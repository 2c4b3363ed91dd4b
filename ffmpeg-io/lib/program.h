// SPDX-License-Identifier: MIT
// What zb-ingest and zb-record share at run time: failures, stop signals, the progress line (and the number parsing
// the test helper zb-frame-md5 uses; the programs parse their command lines with CLI11, see options.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "error.h"

namespace zbffmpeg {

/// Parses a whole decimal integer; false on junk, sign or overflow.
[[nodiscard]] bool parse_unsigned(std::string_view text, std::uint64_t& value) noexcept;
/// Parses seconds with an optional fraction: "2.5".
[[nodiscard]] bool parse_seconds(std::string_view text, double& value) noexcept;

/// Installs SIGINT/SIGTERM handlers that only set a flag (async-signal-safe), and ignores SIGPIPE.
void install_stop_handlers() noexcept;
/// True once SIGINT or SIGTERM arrived.
[[nodiscard]] bool stop_requested() noexcept;
/// The signal that asked us to stop (0 if none).
[[nodiscard]] int stop_signal() noexcept;

/// Why a program stops early: the exit code (error.h) and the message for stderr.
struct Failure {
    int exit_code;
    std::string message;
};

/// Nanoseconds of CLOCK_MONOTONIC.
[[nodiscard]] std::int64_t monotonic_ns() noexcept;

/// The "frames, fps, speed, dropped" line: redrawn in place twice a second on a terminal (stderr),
/// silent otherwise; summary() prints one final line in both cases.
class Progress {
public:
    explicit Progress(std::string program);

    /// Call after each frame; cheap (one clock read) unless a redraw is due.
    void update(std::uint64_t frames, std::uint64_t dropped, std::int64_t media_time_ns);
    /// The final line: "PROGRAM: N frames in S s (F fps, speed X), D dropped[, extra]".
    void summary(std::uint64_t frames, std::uint64_t dropped, std::int64_t media_time_ns, std::string_view extra);

private:
    [[nodiscard]] std::string line(std::uint64_t frames, std::uint64_t dropped, std::int64_t media_time_ns) const;

    std::string program_;
    bool terminal_ = false;
    std::int64_t start_ns_ = 0;
    std::int64_t next_draw_ns_ = 0;
    bool drawn_ = false;
};

} // namespace zbffmpeg
