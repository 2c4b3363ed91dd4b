// SPDX-License-Identifier: MIT
// Running one route of zb-relay (ring -> rings, ring -> network, network -> rings) until asked to stop.
#pragma once

#include <atomic>
#include <cstdint>

#include "config.h"
#include "relay_error.h"
#include "route_stats.h"

namespace zerobuffer::relay {

/// Runs `route` on the calling thread until `stop` is set. Returns an error only when the route cannot run
/// at all (bad keys, bind failure, ring cannot be created); transient trouble is logged and retried.
[[nodiscard]] RelayResult<void> run_route(const RouteConfig& route, RouteStats& stats, const std::atomic<bool>& stop);

} // namespace zerobuffer::relay
