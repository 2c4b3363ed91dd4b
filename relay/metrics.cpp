// SPDX-License-Identifier: MIT
#include "metrics.h"

#include <cinttypes>
#include <cstdio>

#include <httplib.h>

#include "exposition.h"
#include "listen.h"

namespace zerobuffer::relay {

namespace {

struct Family {
    const char* name;
    const char* type;
    const char* help;
};

// Every metric zb-relay exposes, in output order; docs/monitoring.md lists the same.
constexpr Family kFamilies[] = {
    {"zerobuffer_relay_route_frames_total", "counter", "Frames the route took from its source."},
    {"zerobuffer_relay_route_bytes_total", "counter", "Payload bytes the route took from its source."},
    {"zerobuffer_relay_route_frames_per_second", "gauge", "Frames per second since the previous scrape."},
    {"zerobuffer_relay_route_bytes_per_second", "gauge", "Payload bytes per second since the previous scrape."},
    {"zerobuffer_relay_route_drops_total", "counter",
     "Frames not delivered to some output or subscriber (latest-policy outputs, slow subscribers)."},
    {"zerobuffer_relay_route_peers", "gauge", "Sending: subscribers connected now; receiving: 1 while connected."},
    {"zerobuffer_relay_route_rejected_total", "counter",
     "Network messages or clients refused: hostile input, wrong CURVE key, over the connection limits."},
    {"zerobuffer_relay_route_disconnects_total", "counter", "Receiving: connections to the sender lost (then retried)."},
};

std::string format_number(double value)
{
    char text[64];
    std::snprintf(text, sizeof text, "%.6g", value);
    return text;
}

const char* kind_name(EndpointKind kind)
{
    switch (kind) {
    case EndpointKind::Ring:
        return "ring";
    case EndpointKind::Zmq:
        return "zmq";
    case EndpointKind::Broker:
        return "broker";
    }
    return "?";
}

} // namespace

std::string relay_metrics_text(const std::vector<MetricsRoute>& routes, const std::vector<RouteRates>& rates)
{
    std::string out;
    for (const Family& family : kFamilies) {
        out += std::string("# HELP ") + family.name + " " + family.help + "\n# TYPE " + family.name + " " +
               family.type + "\n";
        for (std::size_t i = 0; i < routes.size(); ++i) {
            const RouteConfig& config = *routes[i].config;
            const RouteStats& stats = *routes[i].stats;
            const std::string labels = "{route=\"" + http::escape_label_value(config.name) + "\",from=\"" +
                                       http::escape_label_value(config.from.text) + "\",from_kind=\"" +
                                       kind_name(config.from.kind) + "\"}";
            const std::string_view name = family.name;
            std::string value;
            const auto load = [](const std::atomic<std::uint64_t>& counter) {
                return std::to_string(counter.load(std::memory_order_relaxed));
            };
            if (name == "zerobuffer_relay_route_frames_total")
                value = load(stats.frames);
            else if (name == "zerobuffer_relay_route_bytes_total")
                value = load(stats.bytes);
            else if (name == "zerobuffer_relay_route_frames_per_second")
                value = format_number(i < rates.size() ? rates[i].frames_per_second : 0);
            else if (name == "zerobuffer_relay_route_bytes_per_second")
                value = format_number(i < rates.size() ? rates[i].bytes_per_second : 0);
            else if (name == "zerobuffer_relay_route_drops_total")
                value = load(stats.drops);
            else if (name == "zerobuffer_relay_route_peers")
                value = load(stats.peers);
            else if (name == "zerobuffer_relay_route_rejected_total")
                value = load(stats.rejected);
            else
                value = load(stats.disconnects);
            out += family.name + labels + " " + value + "\n";
        }
    }
    return out;
}

MetricsEndpoint::MetricsEndpoint(Token, std::vector<MetricsRoute> routes)
    : routes_(std::move(routes)), previous_(routes_.size()), previous_time_(Clock::now()),
      server_(std::make_unique<httplib::Server>())
{
}

RelayResult<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::start(const std::string& listen,
                                                                    std::vector<MetricsRoute> routes)
{
    const auto address = http::parse_listen(listen);
    if (!address)
        return relay_error(RelayErrc::InvalidConfig, "--metrics '" + listen + "' must be ADDR:PORT");
    auto endpoint = std::make_unique<MetricsEndpoint>(Token{}, std::move(routes));
    const int port = http::bind_server(*endpoint->server_, *address);
    if (port < 0)
        return relay_error(RelayErrc::Network, "cannot serve metrics on " + listen +
                                                   ": is the port in use, or the address not one of this host's?");
    endpoint->server_->Get("/metrics", [raw = endpoint.get()](const httplib::Request&, httplib::Response& response) {
        response.set_content(raw->scrape(), "text/plain; version=0.0.4; charset=utf-8");
    });
    endpoint->url_ = "http://" + http::url_host(address->host) + ":" + std::to_string(port) + "/metrics";
    endpoint->thread_ = std::thread([server = endpoint->server_.get()] { server->listen_after_bind(); });
    return endpoint;
}

MetricsEndpoint::~MetricsEndpoint()
{
    server_->stop();
    if (thread_.joinable())
        thread_.join();
}

std::string MetricsEndpoint::scrape()
{
    const std::lock_guard lock(mutex_);
    const Clock::time_point now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - previous_time_).count();
    std::vector<RouteRates> rates(routes_.size());
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const std::uint64_t frames = routes_[i].stats->frames.load(std::memory_order_relaxed);
        const std::uint64_t bytes = routes_[i].stats->bytes.load(std::memory_order_relaxed);
        if (seconds > 0) {
            rates[i].frames_per_second = static_cast<double>(frames - previous_[i].frames) / seconds;
            rates[i].bytes_per_second = static_cast<double>(bytes - previous_[i].bytes) / seconds;
        }
        previous_[i] = {frames, bytes};
    }
    previous_time_ = now;
    return relay_metrics_text(routes_, rates);
}

} // namespace zerobuffer::relay
