// SPDX-License-Identifier: MIT
// The receiving side of a network route: a DEALER that connects to a sending relay, grants it credit, checks
// every message and writes the frames into the output rings.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "relay_error.h"
#include "ring_io.h"
#include "route.h"

namespace zerobuffer::relay {

/// Asks the broker again where the stream is (nullopt: not known now).
using Rediscover = std::function<std::optional<std::string>()>;

/// Runs the receiving route until `stop`; `address` is the sender's ZeroMQ address (from --from or the broker).
/// With `rediscover`, a connection that stays down for 5 s is moved to the address the broker gives now.
[[nodiscard]] RelayResult<void> run_subscriber(const RouteConfig& route, const std::string& address,
                                               std::vector<OutputRing>& outputs, RouteStats& stats,
                                               const std::atomic<bool>& stop, const Rediscover& rediscover = {});

} // namespace zerobuffer::relay
