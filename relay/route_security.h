// SPDX-License-Identifier: MIT
// The security rules of a route: when it uses CURVE (whenever it has keys, on every transport), which key options
// go together, what it may register with a broker, and which addresses from a broker it accepts.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config.h"
#include "relay_error.h"

namespace zerobuffer::relay {

/// True when the route's network endpoint uses CURVE: it has a secret key and is not --insecure. The route decides,
/// never an address: a route with keys talks CURVE to its pinned key or allowed keys only, on tcp:// and ipc://
/// alike, whatever a broker says.
[[nodiscard]] bool uses_curve(const SecurityConfig& security) noexcept;

/// Checks the key options, the broker settings and --advertise of a route (the security part of validate_route).
[[nodiscard]] RelayResult<void> validate_route_security(const RouteConfig& route);

/// Why the address a broker gave for the route's stream must not be used, or nullopt. A CURVE route takes only
/// tcp:// (its --server-key is a network publisher's key; a local socket of the broker's choosing is refused), a
/// plain route tcp:// or ipc://.
[[nodiscard]] std::optional<std::string> refuse_discovered_address(const RouteConfig& route, std::string_view address);

} // namespace zerobuffer::relay
