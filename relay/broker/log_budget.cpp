// SPDX-License-Identifier: MIT
// Rate-limited log lines with a count of what was held back.
#include "log_budget.h"

#include <utility>

namespace zerobuffer::relay {

LogBudget::LogBudget(std::size_t lines, Clock::duration window, std::string what, Sink sink)
    : lines_(lines), window_(window), what_(std::move(what)), sink_(std::move(sink))
{
}

void LogBudget::line(const std::string& text, Clock::time_point now)
{
    flush(now);
    if (in_window_ < lines_) {
        ++in_window_;
        sink_(text);
        return;
    }
    ++held_back_;
    ++suppressed_total_;
}

void LogBudget::flush(Clock::time_point now)
{
    if (now - window_start_ < window_) {
        return;
    }
    if (held_back_ > 0) {
        // The window may have lasted longer than window_ when no line or flush came for a while: say how long.
        const auto seconds = std::chrono::duration_cast<std::chrono::duration<double>>(now - window_start_).count();
        const std::string span = seconds >= 1 ? std::to_string(static_cast<long long>(seconds + 0.5)) + " s"
                                              : std::to_string(static_cast<long long>(seconds * 1000 + 0.5)) + " ms";
        sink_("... " + std::to_string(held_back_) + " more " + what_ + " in the last " + span);
    }
    window_start_ = now;
    in_window_ = 0;
    held_back_ = 0;
}

} // namespace zerobuffer::relay
