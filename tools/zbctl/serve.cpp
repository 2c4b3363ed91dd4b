// SPDX-License-Identifier: MIT
// zbctl metrics (one exposition on stdout) and zbctl serve (the same at /metrics over HTTP, for Prometheus).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "listen.h"

#include "metrics.h"
#include "zbctl.h"

namespace zbctl {

namespace {

void report_scrape_error(const zerobuffer::Error& error)
{
    const auto code = zerobuffer::to_string(error.code);
    std::fprintf(stderr, "zbctl: cannot list rings: %.*s: %s\n", static_cast<int>(code.size()), code.data(),
                 error.message.c_str());
}

} // namespace

int run_metrics(const Options& options)
{
    const std::vector<std::string>& names = options.names;
    auto scrape = take_scrape(names);
    if (!scrape) {
        report_scrape_error(scrape.error());
        return kExitFailure;
    }
    if (options.interval_ms > 0) {
        // Rates need a second look: the figures printed are those of the second one.
        const auto before_time = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::milliseconds(options.interval_ms));
        auto now = take_scrape(names);
        if (!now) {
            report_scrape_error(now.error());
            return kExitFailure;
        }
        add_rates(*now, *scrape, std::chrono::duration<double>(std::chrono::steady_clock::now() - before_time).count());
        scrape = std::move(now);
    }
    std::fputs(prometheus_text(*scrape).c_str(), stdout);
    for (const auto& name : scrape->missing) {
        report_inspect_error(name, zerobuffer::Error{zerobuffer::Errc::NotFound, {}});
    }
    for (const auto& bad : scrape->unreadable) {
        report_inspect_error(bad.name, bad.error);
    }
    return scrape->missing.empty() ? kExitOk : kExitFailure;
}

namespace {

// Looks at the rings every interval in the background and keeps the rates of the last window, so that a scrape
// gets rates without waiting and several scrapers do not disturb each other's windows.
class RateSampler {
public:
    RateSampler(std::vector<std::string> names, std::chrono::milliseconds interval)
        : names_(std::move(names)), interval_(interval), thread_([this] { run(); })
    {
    }
    ~RateSampler()
    {
        {
            const std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }
    RateSampler(const RateSampler&) = delete;
    RateSampler& operator=(const RateSampler&) = delete;

    // A fresh scrape with the rates of the latest complete window.
    [[nodiscard]] zerobuffer::Result<Scrape> scrape() const
    {
        auto now = take_scrape(names_);
        if (!now) {
            return now;
        }
        const std::lock_guard lock(mutex_);
        for (auto& sample : now->rings) {
            const auto it = rates_.find(sample.ring.name);
            if (it != rates_.end() && it->second.created_realtime_ns == sample.ring.created_realtime_ns &&
                it->second.writer_pid == sample.ring.writer_pid) {
                sample.rates = it->second.rates;
            }
        }
        return now;
    }

private:
    struct Window {
        std::int64_t created_realtime_ns = 0; // Which segment the rates belong to.
        std::int32_t writer_pid = 0;
        RingRates rates;
    };

    void run()
    {
        std::optional<Scrape> previous;
        auto previous_time = std::chrono::steady_clock::now();
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            auto now = take_scrape(names_);
            const auto now_time = std::chrono::steady_clock::now();
            lock.lock();
            if (now && previous) {
                add_rates(*now, *previous, std::chrono::duration<double>(now_time - previous_time).count());
                rates_.clear();
                for (const auto& sample : now->rings) {
                    if (sample.rates) {
                        rates_[sample.ring.name] =
                            Window{sample.ring.created_realtime_ns, sample.ring.writer_pid, *sample.rates};
                    }
                }
            }
            if (now) {
                previous = std::move(*now);
                previous_time = now_time;
            }
            wake_.wait_for(lock, interval_, [this] { return stopping_; });
        }
    }

    const std::vector<std::string> names_;
    const std::chrono::milliseconds interval_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;                  // Guarded by mutex_.
    std::map<std::string, Window> rates_;    // Guarded by mutex_.
    std::thread thread_;                     // Last: starts once everything above is built.
};

} // namespace

int run_serve(const Options& options)
{
    const std::vector<std::string>& names = options.names;
    // The command line checked the address (main.cpp): value() only guards that promise.
    const auto listen = zerobuffer::http::parse_listen(options.listen).value();
    // The stop signals go to a thread of their own (sigwait), so block them before any thread starts.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    httplib::Server server;
    const int bound = zerobuffer::http::bind_server(server, listen);
    if (bound < 0) {
        std::fprintf(stderr, "zbctl: cannot listen on %s: is the port in use, or the address not one of this host's?\n",
                     options.listen.c_str());
        return kExitFailure;
    }
    const RateSampler sampler(names, std::chrono::milliseconds(options.interval_ms));
    server.Get("/metrics", [&sampler](const httplib::Request&, httplib::Response& response) {
        auto scrape = sampler.scrape();
        if (!scrape) {
            response.status = 500;
            response.set_content("cannot list rings: " + scrape.error().message + "\n", "text/plain");
            return;
        }
        response.set_content(prometheus_text(*scrape), "text/plain; version=0.0.4; charset=utf-8");
    });
    server.Get("/", [](const httplib::Request&, httplib::Response& response) {
        response.set_content("zbctl serve: ZeroBuffer ring metrics at /metrics\n", "text/plain");
    });

    const std::string& host = listen.host;
    const std::string shown_host = zerobuffer::http::url_host(host);
    std::printf("zbctl: serving metrics at http://%s:%d/metrics\n", shown_host.c_str(), bound);
    if (!zerobuffer::http::is_loopback(host)) {
        std::printf("zbctl: note: %s is reachable from other machines; ring names and writer commands are visible "
                    "to them\n", shown_host.c_str());
    }
    std::fflush(stdout);

    std::atomic<bool> finished{false};
    std::thread stopper([&] {
        const timespec tick{0, 100'000'000};
        while (!finished.load()) {
            if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) {
                server.stop();
                return;
            }
        }
    });
    const bool clean = server.listen_after_bind();
    finished = true;
    stopper.join();
    return clean ? kExitOk : kExitFailure;
}

} // namespace zbctl
