// SPDX-License-Identifier: MIT
// zbctl watch: live rates of a ring from successive read-only snapshots, like top.
#include "zbctl.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <map>
#include <unistd.h>

namespace zbctl {

using zerobuffer::RingSnapshot;

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int /*signal*/)
{
    g_stop = 1;
}

void install_stop_handlers()
{
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // No SA_RESTART: the sleep returns early so Ctrl-C is immediate.
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

// Sleeps, returning early when asked to stop.
void sleep_ms(std::uint32_t ms)
{
    timespec left{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000L};
    while (!g_stop && nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

std::uint64_t delta(std::uint64_t now, std::uint64_t before)
{
    return now >= before ? now - before : 0; // Counters only grow; a drop means a new segment.
}

double per_second(std::uint64_t count, double seconds)
{
    return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

std::string clock_now()
{
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char text[16];
    std::strftime(text, sizeof text, "%H:%M:%S", &tm);
    return text;
}

// The same segment as in the previous snapshot (not a ring re-created under the same name).
bool same_segment(const RingSnapshot& a, const RingSnapshot& b)
{
    return a.writer_pid == b.writer_pid && a.created_realtime_ns == b.created_realtime_ns;
}

const zerobuffer::ReaderSnapshot* find_reader(const RingSnapshot& ring, const zerobuffer::ReaderSnapshot& r)
{
    for (const auto& other : ring.readers) {
        if (other.slot == r.slot && other.pid == r.pid) {
            return &other;
        }
    }
    return nullptr;
}

struct Rates {
    std::string fps = "-";
    std::string mbps = "-";
    std::string drops_per_s = "-";
};

class Watcher {
public:
    Watcher(std::string name, const Options& options, bool terminal)
        : name_(std::move(name)), options_(options), terminal_(terminal)
    {
    }

    int run()
    {
        auto first = zerobuffer::inspect_ring(name_);
        if (!first) {
            return report_inspect_error(name_, first.error());
        }
        previous_ = std::move(*first);
        previous_time_ = std::chrono::steady_clock::now();
        install_stop_handlers();
        if (terminal_) {
            std::fputs("\x1b[2J", stdout);
            draw(previous_, 0.0, /*baseline=*/true);
        }
        for (std::uint64_t refresh = 0; !options_.count || refresh < *options_.count; ++refresh) {
            sleep_ms(options_.interval_ms);
            if (g_stop) {
                break;
            }
            auto now = zerobuffer::inspect_ring(name_);
            const auto now_time = std::chrono::steady_clock::now();
            if (!now) {
                if (now.error().code == zerobuffer::Errc::NotFound) {
                    std::printf("%s%s ring %s is gone (its writer closed it or it was removed)\n",
                                terminal_ ? "\n" : "", clock_now().c_str(), name_.c_str());
                    return kExitOk;
                }
                return report_inspect_error(name_, now.error());
            }
            const double seconds = std::chrono::duration<double>(now_time - previous_time_).count();
            const bool baseline = !same_segment(previous_, *now);
            draw(*now, seconds, baseline);
            previous_ = std::move(*now);
            previous_time_ = now_time;
        }
        if (terminal_) {
            std::fputs("\n", stdout);
        }
        return kExitOk;
    }

private:
    Rates writer_rates(const RingSnapshot& now, double seconds, bool baseline) const
    {
        Rates rates;
        if (!baseline && seconds > 0) {
            rates.fps = strprintf("%.1f", per_second(delta(now.writer.frames_written, previous_.writer.frames_written),
                                                     seconds));
            rates.mbps = format_mbps(
                per_second(delta(now.writer.bytes_written, previous_.writer.bytes_written), seconds));
        }
        return rates;
    }

    Rates reader_rates(const zerobuffer::ReaderSnapshot& r, double seconds, bool baseline) const
    {
        Rates rates;
        const auto* before = baseline ? nullptr : find_reader(previous_, r);
        if (before != nullptr && seconds > 0) {
            const auto& c = r.counters;
            const auto& p = before->counters;
            rates.fps = strprintf("%.1f", per_second(delta(c.frames_read, p.frames_read), seconds));
            rates.mbps = format_mbps(per_second(delta(c.bytes_read, p.bytes_read), seconds));
            rates.drops_per_s = strprintf("%.1f", per_second(delta(c.frames_skipped, p.frames_skipped), seconds));
        }
        return rates;
    }

    void draw(const RingSnapshot& now, double seconds, bool baseline)
    {
        const Rates w = writer_rates(now, seconds, baseline);
        if (!terminal_) {
            // One line per writer and per reader: easy to grep, log and parse.
            const std::string stamp = clock_now();
            std::printf("%s %s writer pid=%d status=%.*s state=%.*s frames/s=%s MB/s=%s frames=%llu waits=%llu "
                        "timeouts=%llu readers=%u\n",
                        stamp.c_str(), now.name.c_str(), now.writer_pid,
                        static_cast<int>(writer_status_word(now).size()), writer_status_word(now).data(),
                        static_cast<int>(ring_state(now).size()), ring_state(now).data(), w.fps.c_str(),
                        w.mbps.c_str(), static_cast<unsigned long long>(now.writer.frames_written),
                        static_cast<unsigned long long>(now.writer.waits),
                        static_cast<unsigned long long>(now.writer.timeouts), live_readers(now));
            for (const auto& r : now.readers) {
                const Rates rr = reader_rates(r, seconds, baseline);
                std::printf("%s %s reader slot=%u pid=%d alive=%s policy=%.*s frames/s=%s MB/s=%s "
                            "lag_frames=%llu lag_bytes=%llu drops/s=%s drops=%llu frames=%llu\n",
                            stamp.c_str(), now.name.c_str(), r.slot, r.pid, r.alive ? "yes" : "no",
                            static_cast<int>(policy_name(r.policy).size()), policy_name(r.policy).data(),
                            rr.fps.c_str(), rr.mbps.c_str(), static_cast<unsigned long long>(r.lag_frames),
                            static_cast<unsigned long long>(r.lag_bytes), rr.drops_per_s.c_str(),
                            static_cast<unsigned long long>(r.counters.frames_skipped),
                            static_cast<unsigned long long>(r.counters.frames_read));
            }
            std::fflush(stdout);
            return;
        }

        // Terminal: redraw in place. Each line clears its rest (\x1b[K) and the screen below is cleared
        // at the end (\x1b[J), which avoids the flicker of clearing everything first.
        std::string screen = "\x1b[H";
        auto line = [&screen](const std::string& text) { screen += text + "\x1b[K\n"; };
        line(strprintf("zbctl watch %s  every %u ms  %s  (Ctrl-C to quit)", now.name.c_str(), options_.interval_ms,
                       clock_now().c_str()));
        line(strprintf("state %.*s   writer %s (%s)   ring %s   format %s", static_cast<int>(ring_state(now).size()),
                       ring_state(now).data(), writer_status(now).c_str(),
                       now.writer_command.empty() ? "?" : now.writer_command.c_str(),
                       format_bytes(now.payload_capacity).c_str(), stream_summary(now.stream_metadata).c_str()));
        line("");
        line(strprintf("%-8s %10s %10s %14s %10s %10s", "WRITER", "FRAMES/S", "MB/S", "FRAMES", "WAITS", "TIMEOUTS"));
        line(strprintf("%-8s %10s %10s %14llu %10llu %10llu", "", w.fps.c_str(), w.mbps.c_str(),
                       static_cast<unsigned long long>(now.writer.frames_written),
                       static_cast<unsigned long long>(now.writer.waits),
                       static_cast<unsigned long long>(now.writer.timeouts)));
        line("");
        line(strprintf("%-4s %8s %-5s %-8s %10s %10s %10s %12s %8s %10s", "SLOT", "PID", "ALIVE", "POLICY", "FRAMES/S",
                       "MB/S", "LAG_FRAMES", "LAG_BYTES", "DROPS/S", "DROPS"));
        for (const auto& r : now.readers) {
            const Rates rr = reader_rates(r, seconds, baseline);
            line(strprintf("%-4u %8d %-5s %-8.*s %10s %10s %10llu %12s %8s %10llu", r.slot, r.pid,
                           r.alive ? "yes" : "no", static_cast<int>(policy_name(r.policy).size()),
                           policy_name(r.policy).data(), rr.fps.c_str(), rr.mbps.c_str(),
                           static_cast<unsigned long long>(r.lag_frames), format_bytes(r.lag_bytes).c_str(),
                           rr.drops_per_s.c_str(), static_cast<unsigned long long>(r.counters.frames_skipped)));
        }
        if (now.readers.empty()) {
            line("(no readers attached)");
        }
        screen += "\x1b[J";
        std::fputs(screen.c_str(), stdout);
        std::fflush(stdout);
    }

    std::string name_;
    const Options& options_;
    bool terminal_;
    RingSnapshot previous_;
    std::chrono::steady_clock::time_point previous_time_;
};

} // namespace

int run_watch(const Options& options)
{
    Watcher watcher(options.names.at(0), options, isatty(STDOUT_FILENO) != 0);
    return watcher.run();
}

} // namespace zbctl
