// SPDX-License-Identifier: MIT
// zb-relay --metrics ADDR:PORT: each route's counters in the Prometheus text format over HTTP (docs/monitoring.md).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "relay_error.h"
#include "route.h"

namespace httplib {
class Server;
}

namespace zerobuffer::relay {

/// One route as the endpoint shows it: its configuration and its live counters (owned by the caller).
struct MetricsRoute {
    const RouteConfig* config = nullptr;
    const RouteStats* stats = nullptr;
};

/// The Prometheus text of `routes`; `rates` per route (frames/s, bytes/s over the window since the last scrape).
struct RouteRates {
    double frames_per_second = 0;
    double bytes_per_second = 0;
};
[[nodiscard]] std::string relay_metrics_text(const std::vector<MetricsRoute>& routes,
                                             const std::vector<RouteRates>& rates);

/// Serves /metrics on its own thread from start until destruction. The routes must outlive it.
class MetricsEndpoint {
    struct Token { // Only start() makes one: an endpoint always serves.
        explicit Token() = default;
    };

public:
    MetricsEndpoint(Token, std::vector<MetricsRoute> routes);
    /// Binds `listen` (ADDR:PORT) and starts serving; an error names the address when it cannot be bound.
    [[nodiscard]] static RelayResult<std::unique_ptr<MetricsEndpoint>> start(const std::string& listen,
                                                                            std::vector<MetricsRoute> routes);
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;
    ~MetricsEndpoint();

    [[nodiscard]] const std::string& url() const noexcept { return url_; }

private:
    using Clock = std::chrono::steady_clock;
    struct Previous {
        std::uint64_t frames = 0;
        std::uint64_t bytes = 0;
    };

    std::string scrape();

    std::vector<MetricsRoute> routes_;
    std::mutex mutex_; // Guards the previous scrape's figures (httplib answers on a thread pool).
    std::vector<Previous> previous_;
    Clock::time_point previous_time_;
    std::unique_ptr<httplib::Server> server_;
    std::string url_;
    std::thread thread_;
};

} // namespace zerobuffer::relay
