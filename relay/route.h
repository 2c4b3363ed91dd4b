// SPDX-License-Identifier: MIT
// Running one route of zb-relay (ring -> rings, ring -> network, network -> rings) until asked to stop.
#pragma once

#include <atomic>
#include <cstdint>

#include "config.h"
#include "relay_error.h"

namespace zerobuffer::relay {

/// Counters of one route, written by the route's thread and read by the status printer and --metrics.
struct RouteStats {
    std::atomic<std::uint64_t> frames{0};   ///< Frames taken from the source.
    std::atomic<std::uint64_t> bytes{0};    ///< Payload bytes taken from the source.
    std::atomic<std::uint64_t> drops{0};    ///< Frames not delivered to some output or subscriber (all counted).
    std::atomic<std::uint64_t> peers{0};    ///< Network subscribers now (sending) or 1 when connected (receiving).
    std::atomic<std::uint64_t> rejected{0}; ///< Network messages or clients refused (hostile or wrong key).
    std::atomic<std::uint64_t> disconnects{0}; ///< Receiving: connections to the sender lost (each one reconnects).
};

/// Runs `route` on the calling thread until `stop` is set. Returns an error only when the route cannot run
/// at all (bad keys, bind failure, ring cannot be created); transient trouble is logged and retried.
[[nodiscard]] RelayResult<void> run_route(const RouteConfig& route, RouteStats& stats, const std::atomic<bool>& stop);

} // namespace zerobuffer::relay
