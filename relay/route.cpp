// SPDX-License-Identifier: MIT
// One route of zb-relay: a ring source fanned out to rings and/or the network, or the network into rings.
#include "route.h"

#include <memory>
#include <thread>
#include <vector>

#include "publisher.h"
#include "ring_io.h"
#include "subscriber.h"

namespace zerobuffer::relay {

namespace {

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
        rings.emplace_back(output, route.name);
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
    std::string address = route.from.address;
    if (route.from.kind == EndpointKind::Broker)
        return relay_error(RelayErrc::InvalidConfig, "broker:// sources are not available in this build yet");
    return run_subscriber(route, address, rings, stats, stop);
}

} // namespace zerobuffer::relay
