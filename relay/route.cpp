// SPDX-License-Identifier: MIT
// One route of zb-relay: a ring source fanned out to rings and/or the network, or the network into rings.
#include "route.h"

#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "broker_client.h"

#include "publisher.h"
#include "ring_io.h"
#include "route_security.h"
#include "subscriber.h"

namespace zerobuffer::relay {

namespace {

/// Options for talking to the broker: CURVE when --broker-key is given, plain otherwise (validated earlier).
RelayResult<BrokerClientOptions> broker_options(const RouteConfig& route, const std::string& endpoint)
{
    BrokerClientOptions options;
    options.endpoint = endpoint;
    options.timeout = std::chrono::milliseconds(2000);
    if (!route.broker_key_file.empty()) {
        auto keys = load_curve_client_keys(route.broker_key_file, route.security.secret_key_file);
        if (!keys)
            return relay_error(RelayErrc::Security, "broker keys: " + keys.error().message);
        options.curve = std::move(*keys);
    }
    return options;
}

RelayResult<void> run_from_ring(const RouteConfig& route, std::vector<OutputRing>& rings, const Endpoint* network,
                                RouteStats& stats, const std::atomic<bool>& stop)
{
    // The relay reads as a latest reader only when no output asks for every frame.
    bool all_latest = true;
    for (const Endpoint& output : route.to)
        all_latest = all_latest && output.policy_given && output.policy == FlowPolicy::Latest;
    // Declared before the publisher: frames lent to libzmq must be given back before the Reader goes.
    RingSource source(route.from.address, all_latest ? ReaderPolicy::Latest : ReaderPolicy::Lossless, route.name);
    std::unique_ptr<Publisher> publisher;
    if (network != nullptr) {
        auto started = Publisher::start(route, *network, stats);
        if (!started)
            return tl::unexpected(started.error());
        publisher = std::move(*started);
    }
    // Declared after the publisher: deregistered (destroyed) before the publisher stops serving.
    std::optional<Registration> registration;
    if (publisher && !route.broker.empty()) {
        auto options = broker_options(route, route.broker);
        if (!options)
            return tl::unexpected(options.error());
        const std::string name = route.name;
        auto started =
            Registration::start(std::move(*options), route.publish_name, publisher->connect_address(),
                                nlohmann::json::object({{"route", route.name}}), std::chrono::milliseconds(10000),
                                [name](std::string_view line) { log_route(name, "broker: " + std::string(line)); });
        if (!started)
            return relay_error(RelayErrc::InvalidConfig, "cannot register with the broker: " + started.error().message);
        registration.emplace(std::move(*started));
    }
    bool encoded = false;
    const auto wait = publisher ? std::chrono::milliseconds(20) : std::chrono::milliseconds(100);
    while (!stop.load(std::memory_order_relaxed)) {
        if (publisher) {
            publisher->service(std::chrono::milliseconds(0));
            if (publisher->waiting_for_peers()) {
                publisher->service(std::chrono::milliseconds(100));
                continue;
            }
        }
        if (source.needs_detach()) {
            if (!publisher || publisher->idle())
                source.detach();
            else
                publisher->service(std::chrono::milliseconds(10));
            continue;
        }
        bool discontinuity = false;
        auto frame = source.next(wait, discontinuity);
        if (!frame)
            continue;
        if (source.metadata_changed()) {
            const std::string& json = source.stream_metadata();
            encoded = is_encoded_stream(json);
            for (OutputRing& ring : rings)
                ring.publish_stream_metadata(json);
            if (publisher)
                publisher->set_stream_metadata(json, frame->format_generation(), encoded);
        }
        FrameInfo info = frame->info();
        if (discontinuity)
            info.flags |= kFrameDiscontinuity;
        stats.frames.fetch_add(1, std::memory_order_relaxed);
        stats.bytes.fetch_add(frame->payload().size(), std::memory_order_relaxed);
        for (OutputRing& ring : rings)
            ring.write(frame->payload(), frame->metadata(), info, encoded, stop);
        std::uint64_t drops = 0;
        for (const OutputRing& ring : rings)
            drops += ring.dropped();
        if (publisher) {
            publisher->send(std::move(*frame), info, stop);
            drops += publisher->dropped_total();
        }
        stats.drops.store(drops, std::memory_order_relaxed);
    }
    for (const OutputRing& ring : rings)
        ring.log_summary();
    if (publisher)
        publisher->log_summary();
    return {};
}

} // namespace

RelayResult<void> run_route(const RouteConfig& route, RouteStats& stats, const std::atomic<bool>& stop)
{
    std::vector<OutputRing> rings;
    const Endpoint* network = nullptr;
    rings.reserve(route.to.size());
    for (const Endpoint& output : route.to) {
        if (output.kind != EndpointKind::Ring) {
            network = &output;
            continue;
        }
        rings.emplace_back(output, route.name, stats);
        if (auto opened = rings.back().open(); !opened)
            return opened;
    }
    // wait-readers: nothing is taken from the source before the downstream readers are there to see it.
    for (OutputRing& ring : rings) {
        bool logged = false;
        while (!ring.readers_ready() && !stop.load(std::memory_order_relaxed)) {
            if (!logged)
                log_route(route.name, "waiting for " + std::to_string(ring.endpoint().wait_readers) +
                                          " reader(s) of output ring '" + ring.endpoint().address + "'");
            logged = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    if (route.from.kind == EndpointKind::Ring)
        return run_from_ring(route, rings, network, stats, stop);
    if (route.from.kind == EndpointKind::Zmq)
        return run_subscriber(route, route.from.address, rings, stats, stop);

    // broker://HOST:PORT/NAME: ask the broker until the stream is published, then follow it if it moves.
    auto options = broker_options(route, route.from.address);
    if (!options)
        return tl::unexpected(options.error());
    auto client = BrokerClient::connect(std::move(*options));
    if (!client)
        return relay_error(RelayErrc::InvalidConfig, "broker '" + route.from.address + "': " + client.error().message);
    // What the broker says is checked like any network input: a CURVE route takes only tcp:// (its pinned key is a
    // network publisher's), so a registration that points it at a local socket is refused, and logged once.
    std::string refused_address;
    std::string last_problem;
    auto discover = [&]() -> std::optional<std::string> {
        auto location = client->discover(route.from.stream_name);
        if (!location) {
            last_problem = location.error().message;
            return std::nullopt;
        }
        if (auto why = refuse_discovered_address(route, location->address)) {
            if (location->address != refused_address)
                log_route(route.name, "refused the broker's address " + location->address + " for stream '" +
                                          route.from.stream_name + "': " + *why + " (registered by " +
                                          (location->owner.empty() ? "an unknown key" : "key " + location->owner) +
                                          "); asking again");
            refused_address = location->address;
            return std::nullopt;
        }
        return location->address;
    };
    bool logged = false;
    std::optional<std::string> address;
    while (!stop.load(std::memory_order_relaxed)) {
        address = discover();
        if (address)
            break;
        if (!logged && refused_address.empty())
            log_route(route.name, "stream '" + route.from.stream_name + "' not found at the broker " +
                                      route.from.address + " yet (" + last_problem + "); asking again");
        logged = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (!address)
        return {};
    log_route(route.name, "the broker says stream '" + route.from.stream_name + "' is at " + *address);
    return run_subscriber(route, *address, rings, stats, stop, discover);
}

} // namespace zerobuffer::relay
