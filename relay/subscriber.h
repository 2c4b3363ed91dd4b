// SPDX-License-Identifier: MIT
// The receiving side of a network route: a DEALER that connects to a sending relay, grants it credit, checks
// every message and writes the frames into the output rings.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "config.h"
#include "relay_error.h"
#include "ring_io.h"
#include "route.h"

namespace zerobuffer::relay {

/// Runs the receiving route until `stop`; `address` is the sender's ZeroMQ address (from --from or the broker).
[[nodiscard]] RelayResult<void> run_subscriber(const RouteConfig& route, const std::string& address,
                                               std::vector<OutputRing>& outputs, RouteStats& stats,
                                               const std::atomic<bool>& stop);

} // namespace zerobuffer::relay
