// SPDX-License-Identifier: MIT
// zb-relay's configuration: endpoints, routes, command-line flags and the JSON config file, all validated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "relay_error.h"

namespace zerobuffer::relay {

enum class EndpointKind {
    Ring,   ///< ring:NAME, a shared-memory ring on this machine.
    Zmq,    ///< tcp://... or ipc://..., bound when sending, connected when receiving.
    Broker, ///< broker://HOST:PORT/NAME, receiving only: the address comes from `zb-relay broker`.
};

/// Per-output (and per-subscriber) flow control.
enum class FlowPolicy {
    Lossless, ///< Back-pressure: the source waits, nothing is dropped.
    Latest,   ///< Never slows the source: when the output is full the frame is dropped and counted.
};

/// One side of a route, parsed from `KIND:ADDRESS[?key=value&...]`.
struct Endpoint {
    EndpointKind kind = EndpointKind::Ring;
    std::string text;        ///< As the user wrote it, for messages.
    std::string address;     ///< Ring name, ZeroMQ address, or broker's tcp:// address.
    std::string stream_name; ///< Broker endpoints: the published stream name.
    FlowPolicy policy = FlowPolicy::Lossless;
    bool policy_given = false;
    std::size_t ring_size = std::size_t{64} << 20;         ///< Output rings: payload bytes.
    std::uint32_t max_readers = 8;                         ///< Output rings: reader slots.
    std::size_t metadata_capacity = std::size_t{16} << 10; ///< Output rings: stream-metadata bytes.
    std::uint32_t wait_readers = 0; ///< Output rings: the route starts once this many readers attached.
    std::uint32_t window = 4;       ///< Receiving side: frames in flight granted to the sender (credit).
    std::uint32_t wait_peers = 0;   ///< Sending side: do not read the source before this many subscribers joined.
    std::uint32_t max_peers = 64;   ///< Sending side: connections at once (handshaking ones included); more are closed.
    std::size_t max_frame = std::size_t{512} << 20; ///< Receiving side: largest payload accepted from the network.
};

struct SecurityConfig {
    bool insecure = false;         ///< Plain tcp explicitly allowed.
    std::string secret_key_file;   ///< This side's CURVE secret key (Z85, one line).
    std::string allowed_keys_file; ///< Binding side: public keys of allowed clients.
    std::string server_key_file;   ///< Connecting side: the server's public key.
};

struct RouteConfig {
    std::string name;
    Endpoint from;
    std::vector<Endpoint> to;
    SecurityConfig security;
    std::string broker;          ///< Publishing side: broker address to register with ("" = none).
    std::string publish_name;    ///< Publishing side: stream name registered with the broker.
    std::string advertise;       ///< Publishing side: address registered (default: bound address, host name for *).
    std::string broker_key_file; ///< The broker's public key: talk CURVE to the broker (our key: --curve-secret).
};

struct RelayConfig {
    std::vector<RouteConfig> routes;
    double status_interval_s = 5.0; ///< Seconds between status lines; 0 turns them off.
    std::string metrics_listen;     ///< ADDR:PORT of the Prometheus endpoint (--metrics); "" = none.
};

/// What the command line gave (CLI11 collects the words in main.cpp), before the relay's own checks: endpoints are
/// still text, and the route's other fields (name, keys, broker settings) are filled in as given.
struct RelayArguments {
    std::string config_file;       ///< --config FILE ("" = the route below).
    std::vector<std::string> from; ///< Every --from, to refuse a second one with a hint.
    std::vector<std::string> to;
    RouteConfig route;
    double status_interval_s = 5.0;
    bool status_interval_given = false; ///< --status-interval overrides the config file's.
    std::string metrics_listen;         ///< --metrics ADDR:PORT (checked by main.cpp), overrides the file's.
};

/// Parses an endpoint string; `sending` says whether it is a --to (true) or a --from (false).
[[nodiscard]] RelayResult<Endpoint> parse_endpoint(std::string_view text, bool sending);

/// The configuration the arguments describe: their one route, or the routes of --config FILE, all validated.
[[nodiscard]] RelayResult<RelayConfig> relay_config_from(RelayArguments arguments);

/// Whether `text` is ADDR:PORT for --metrics and the config file's "metrics".
[[nodiscard]] bool valid_metrics_listen(const std::string& text);

/// Reads and validates a JSON config file (format in docs/relay.md).
[[nodiscard]] RelayResult<RelayConfig> load_config_file(const std::string& path);

/// Checks one route for combinations that cannot work (net to net, tcp without keys, ...).
[[nodiscard]] RelayResult<void> validate_route(const RouteConfig& route);

/// Parses "64M", "4096", "1G" into bytes.
[[nodiscard]] RelayResult<std::size_t> parse_size(std::string_view text, std::string_view what);

} // namespace zerobuffer::relay
