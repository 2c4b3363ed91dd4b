// SPDX-License-Identifier: MIT
// The command line of `zb-relay broker`: its options with their defaults and bounds, and its --help text.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "broker_protocol.h"

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

/// Prints "zb-relay broker: error: WHAT" on stderr.
void print_broker_error(const std::string& what);

/// Parses `zb-relay broker [OPTIONS]` (argv[0] is "broker"). nullopt after printing an error (exit 2) or the help
/// (then `help_shown` is set: exit 0).
[[nodiscard]] std::optional<BrokerOptions> parse_broker_options(int argc, char** argv, bool& help_shown);

} // namespace zerobuffer::relay::detail
