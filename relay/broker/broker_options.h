// SPDX-License-Identifier: MIT
// The command lines of `zb-relay broker` and `zb-relay broker query`: their options with defaults and bounds,
// help texts and examples (on CLI11, tools/cli), and the checks that need the broker's knowledge.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "broker_protocol.h"

namespace CLI {
class App;
} // namespace CLI

namespace zerobuffer::relay::detail {

/// What `zb-relay broker` was asked to do; defaults as documented in its --help and docs/relay.md.
struct BrokerOptions {
    std::string bind = "tcp://*:5550";
    std::chrono::milliseconds default_ttl = protocol::kDefaultTtl;
    std::size_t max_request_bytes = protocol::kDefaultMaxRequestBytes;
    std::size_t max_streams = 1024;
    std::size_t max_clients = 512;
    std::string curve_secret_file;
    std::string allowed_keys_file;
    bool insecure = false;
    std::chrono::milliseconds status_interval{60'000};
};

/// What `zb-relay broker query` was asked: LIST (no name) or DISC of `name` at `endpoint`.
struct BrokerQueryOptions {
    std::string endpoint;
    std::string name;
    std::string broker_key_file;
    std::string secret_file;
    std::chrono::milliseconds timeout{2000};
};

/// The `broker` subcommand of zb-relay and its `query`, as added to the parent by add_broker_commands.
struct BrokerCommands {
    CLI::App* broker = nullptr;
    CLI::App* query = nullptr;
};

/// Adds `broker` and `broker query` to `parent` (configured with zerobuffer::cli::configure); parsing fills
/// `broker` or `query`, which must outlive the parse.
BrokerCommands add_broker_commands(CLI::App& parent, BrokerOptions& broker, BrokerQueryOptions& query);

/// Prints "zb-relay broker: error: WHAT" on stderr.
void print_broker_error(const std::string& what);

/// Why the broker must not serve with `options` (plain tcp without --insecure), or nullopt.
[[nodiscard]] std::optional<std::string> refusal(const BrokerOptions& options);

} // namespace zerobuffer::relay::detail
