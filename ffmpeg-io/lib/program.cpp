// SPDX-License-Identifier: MIT
// What zb-ingest and zb-record share at run time (program.h): stop signals, progress line, number parsing.
#include "program.h"

#include <array>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <ctime>

#include <unistd.h>

namespace zbffmpeg {
namespace {

// A signal handler can only reach process-wide state; this flag is the one piece of it, written only there.
std::atomic<int> g_stop_signal{0}; // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag must be usable from a signal handler");

extern "C" void on_stop_signal(int signal_number)
{
    g_stop_signal.store(signal_number, std::memory_order_relaxed);
}

} // namespace

bool parse_unsigned(std::string_view text, std::uint64_t& value) noexcept
{
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return !text.empty() && error == std::errc{} && end == text.data() + text.size();
}

bool parse_seconds(std::string_view text, double& value) noexcept
{
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return !text.empty() && error == std::errc{} && end == text.data() + text.size() && value >= 0.0 && value < 1e9;
}

void install_stop_handlers() noexcept
{
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // No SA_RESTART: blocking calls return EINTR so the loops see the flag soon.
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN); // A closed pipe shows up as a write error, not a silent death.
}

bool stop_requested() noexcept
{
    return g_stop_signal.load(std::memory_order_relaxed) != 0;
}

int stop_signal() noexcept
{
    return g_stop_signal.load(std::memory_order_relaxed);
}

std::int64_t monotonic_ns() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

Progress::Progress(std::string program)
    : program_(std::move(program)), terminal_(isatty(STDERR_FILENO) == 1), start_ns_(monotonic_ns()),
      next_draw_ns_(start_ns_ + 500'000'000)
{
}

std::string Progress::line(std::uint64_t frames, std::uint64_t dropped, std::int64_t media_time_ns) const
{
    const double seconds = static_cast<double>(monotonic_ns() - start_ns_) / 1e9;
    const double fps = seconds > 0.0 ? static_cast<double>(frames) / seconds : 0.0;
    const double speed = seconds > 0.0 && media_time_ns > 0 ? static_cast<double>(media_time_ns) / 1e9 / seconds : 0.0;
    std::array<char, 160> text{};
    std::snprintf(text.data(), text.size(), "%llu frames in %.1f s (%.1f fps, speed %.2fx), %llu dropped",
                  static_cast<unsigned long long>(frames), seconds, fps, speed,
                  static_cast<unsigned long long>(dropped));
    return text.data();
}

void Progress::update(std::uint64_t frames, std::uint64_t dropped, std::int64_t media_time_ns)
{
    if (!terminal_) {
        return;
    }
    const std::int64_t now = monotonic_ns();
    if (now < next_draw_ns_) {
        return;
    }
    next_draw_ns_ = now + 500'000'000;
    std::fprintf(stderr, "\r%s: %s   ", program_.c_str(), line(frames, dropped, media_time_ns).c_str());
    std::fflush(stderr);
    drawn_ = true;
}

void Progress::summary(std::uint64_t frames, std::uint64_t dropped, std::int64_t media_time_ns, std::string_view extra)
{
    if (drawn_) {
        std::fputc('\n', stderr);
    }
    std::fprintf(stderr, "%s: %s%s%.*s\n", program_.c_str(), line(frames, dropped, media_time_ns).c_str(),
                 extra.empty() ? "" : ", ", static_cast<int>(extra.size()), extra.data());
}

} // namespace zbffmpeg
