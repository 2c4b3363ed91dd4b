// SPDX-License-Identifier: MIT
#include "metrics.h"

#include <cinttypes>
#include <cstdio>

#include <httplib.h>

#include "exposition.h"
#include "listen.h"

namespace zerobuffer::relay {

namespace {

std::string format_number(double value)
{
    char text[64];
    std::snprintf(text, sizeof text, "%.6g", value);
    return text;
}

const char* kind_name(EndpointKind kind)
{
    switch (kind) {
    case EndpointKind::Ring: return "ring";
    case EndpointKind::Zmq: return "zmq";
    case EndpointKind::Broker: return "broker";
    }
    return "?";
}

std::uint64_t load(const std::atomic<std::uint64_t>& counter)
{
    return counter.load(std::memory_order_relaxed);
}

/// One metric family: its header, then one sample line per label set.
class FamilyWriter {
public:
    FamilyWriter(std::string& out, const char* name, const char* type, const char* help) : out_(out), name_(name)
    {
        out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    }
    void sample(const std::string& labels, const std::string& value)
    {
        out_ += name_ + "{" + labels + "} " + value + "\n";
    }
    void sample(const std::string& labels, std::uint64_t value) { sample(labels, std::to_string(value)); }

private:
    std::string& out_;
    std::string name_;
};

std::string route_labels(const RouteConfig& config)
{
    return "route=\"" + http::escape_label_value(config.name) + "\",from=\"" +
           http::escape_label_value(config.from.text) + "\",from_kind=\"" + kind_name(config.from.kind) + "\"";
}

/// The per-route families; docs/monitoring.md lists the same, in this order.
void write_route_families(std::string& out, const std::vector<MetricsRoute>& routes,
                          const std::vector<RouteRates>& rates, const std::vector<std::string>& labels)
{
    using Counter = std::atomic<std::uint64_t> RouteStats::*;
    const auto each = [&](const char* name, const char* type, const char* help, Counter counter) {
        FamilyWriter family(out, name, type, help);
        for (std::size_t i = 0; i < routes.size(); ++i)
            family.sample(labels[i], load(routes[i].stats->*counter));
    };
    each("zerobuffer_relay_route_frames_total", "counter", "Frames the route took from its source.",
         &RouteStats::frames);
    each("zerobuffer_relay_route_bytes_total", "counter", "Payload bytes the route took from its source.",
         &RouteStats::bytes);
    {
        FamilyWriter fps(out, "zerobuffer_relay_route_frames_per_second", "gauge",
                         "Frames per second since the previous scrape.");
        for (std::size_t i = 0; i < routes.size(); ++i)
            fps.sample(labels[i], format_number(i < rates.size() ? rates[i].frames_per_second : 0));
        FamilyWriter bps(out, "zerobuffer_relay_route_bytes_per_second", "gauge",
                         "Payload bytes per second since the previous scrape.");
        for (std::size_t i = 0; i < routes.size(); ++i)
            bps.sample(labels[i], format_number(i < rates.size() ? rates[i].bytes_per_second : 0));
    }
    {
        FamilyWriter drops(out, "zerobuffer_relay_route_drops_total", "counter",
                           "Frames not delivered to some output ring or subscriber, by reason.");
        for (std::size_t i = 0; i < routes.size(); ++i)
            for (std::size_t r = 0; r < kDropReasons; ++r)
                drops.sample(labels[i] + ",reason=\"" + drop_reason_label(static_cast<DropReason>(r)) + "\"",
                             load(routes[i].stats->dropped_by_reason[r]));
    }
    each("zerobuffer_relay_route_recovered_total", "counter",
         "Frames counted as dropped for a subscriber that a resume from the newest keyframe delivered after all.",
         &RouteStats::recovered);
    each("zerobuffer_relay_route_peers", "gauge", "Sending: subscribers connected now; receiving: 1 while connected.",
         &RouteStats::peers);
    each("zerobuffer_relay_route_rejected_total", "counter",
         "Network messages or clients refused: hostile input, wrong CURVE key, over the connection limits.",
         &RouteStats::rejected);
    each("zerobuffer_relay_route_curve_refusals_total", "counter",
         "CURVE refusals: sending, clients whose key is not allowed; receiving, our key refused by the sender.",
         &RouteStats::curve_refusals);
    each("zerobuffer_relay_route_disconnects_total", "counter",
         "Receiving: connections to the sender lost (then retried).", &RouteStats::disconnects);
    each("zerobuffer_relay_route_reconnects_total", "counter",
         "Receiving: connections to the sender made again after one was lost.", &RouteStats::reconnects);
}

const char* policy_label(FlowPolicy policy)
{
    return policy == FlowPolicy::Latest ? "latest" : "lossless";
}

std::string subscriber_labels(const std::string& route_labels, const SubscriberFigures& peer)
{
    return route_labels + ",subscriber=\"" + std::to_string(peer.number) + "\",policy=\"" + policy_label(peer.policy) +
           "\"";
}

/// The per-subscriber families of sending routes (at most SubscriberBoard::kListed series per route, the rest
/// summed up as subscriber="other").
void write_subscriber_families(std::string& out, const std::vector<MetricsRoute>& routes,
                               const std::vector<std::string>& labels)
{
    std::vector<SubscriberBoard::Snapshot> boards;
    boards.reserve(routes.size());
    for (const MetricsRoute& route : routes)
        boards.push_back(route.stats->subscribers.snapshot());
    using Field = std::uint64_t SubscriberFigures::*;
    const auto each = [&](const char* name, const char* type, const char* help, Field field) {
        FamilyWriter family(out, name, type, help);
        for (std::size_t i = 0; i < routes.size(); ++i) {
            for (const SubscriberFigures& peer : boards[i].listed)
                family.sample(subscriber_labels(labels[i], peer), peer.*field);
            if (boards[i].others > 0)
                family.sample(labels[i] + ",subscriber=\"other\",policy=\"\"", boards[i].others_total.*field);
        }
    };
    each("zerobuffer_relay_subscriber_frames_total", "counter", "Frames sent to this subscriber in its session.",
         &SubscriberFigures::delivered);
    each("zerobuffer_relay_subscriber_drops_total", "counter", "Frames not sent to this subscriber (every reason).",
         &SubscriberFigures::dropped);
    each("zerobuffer_relay_subscriber_in_flight", "gauge", "Frames sent to this subscriber and not yet acknowledged.",
         &SubscriberFigures::in_flight);
    each("zerobuffer_relay_subscriber_resumes_total", "counter",
         "Times this subscriber was resumed from the newest keyframe.", &SubscriberFigures::resumes);
    {
        FamilyWriter window(out, "zerobuffer_relay_subscriber_credit_window", "gauge",
                            "Frames this subscriber allows in flight (its credit window).");
        for (std::size_t i = 0; i < routes.size(); ++i)
            for (const SubscriberFigures& peer : boards[i].listed)
                window.sample(subscriber_labels(labels[i], peer), std::uint64_t{peer.window});
    }
    FamilyWriter unlisted(out, "zerobuffer_relay_route_subscribers_unlisted", "gauge",
                          "Subscribers summed up as subscriber=\"other\" (beyond the 64 listed one by one).");
    for (std::size_t i = 0; i < routes.size(); ++i)
        unlisted.sample(labels[i], std::uint64_t{boards[i].others});
}

} // namespace

std::string relay_metrics_text(const std::vector<MetricsRoute>& routes, const std::vector<RouteRates>& rates)
{
    std::vector<std::string> labels;
    labels.reserve(routes.size());
    for (const MetricsRoute& route : routes)
        labels.push_back(route_labels(*route.config));
    std::string out;
    write_route_families(out, routes, rates, labels);
    write_subscriber_families(out, routes, labels);
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
