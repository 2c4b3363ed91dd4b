// SPDX-License-Identifier: MIT
// Rate-limited log lines: a flood of events (hostile or not) must not flood stderr; what is held back is counted
// and reported in one line.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace zerobuffer::relay {

/// Lets `lines` log lines through per `window`; the others are counted, and once the window is over the next line
/// or flush() prints one summary first: "... 31000 more WHAT in the last 10 s". Used by one thread at a time.
class LogBudget {
public:
    using Clock = std::chrono::steady_clock;
    using Sink = std::function<void(const std::string& line)>;

    LogBudget(std::size_t lines, Clock::duration window, std::string what, Sink sink);

    /// Prints `text` when the window has room, counts it otherwise.
    void line(const std::string& text, Clock::time_point now = Clock::now());
    /// Ends the current window when it is over, printing the summary of what it held back. Call it now and then
    /// (a status tick) so that the summary of a flood that stopped is not delayed until the next line.
    void flush(Clock::time_point now = Clock::now());
    /// Lines held back since the start.
    [[nodiscard]] std::uint64_t suppressed() const noexcept { return suppressed_total_; }

private:
    std::size_t lines_;
    Clock::duration window_;
    std::string what_;
    Sink sink_;
    Clock::time_point window_start_{};
    std::size_t in_window_ = 0;
    std::uint64_t held_back_ = 0; ///< In the current window.
    std::uint64_t suppressed_total_ = 0;
};

} // namespace zerobuffer::relay
