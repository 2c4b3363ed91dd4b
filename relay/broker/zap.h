// SPDX-License-Identifier: MIT
// The one ZAP (RFC 27) request handler of zb-relay: vets CURVE clients against a set of allowed public keys.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>

namespace zerobuffer::relay {

/// Raw 32-byte CURVE public keys, as libzmq's ZAP requests carry them.
using AllowedCurveKeys = std::set<std::string, std::less<>>;

/// libzmq asks the ZAP handler of a context on this endpoint; bind it before any CURVE server socket.
inline constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

/// What one ZAP request asked and how it was answered, for the caller's log and counters.
struct ZapDecision {
    bool allowed = false;
    std::string address;    ///< The client's address as libzmq reported it.
    std::string mechanism;  ///< "CURVE" for every client a CURVE server lets reach ZAP.
    std::string client_key; ///< The client's Z85 public key; empty when the request carried none.
};

/// Reads one pending ZAP request from `zap_socket` (a REP socket bound to kZapEndpoint) without blocking and
/// answers it: 200 when it is CURVE with a key in `allowed`, 400 otherwise (also for a malformed request,
/// since REP must answer every request). An admitted client's user id is its Z85 key, which libzmq attaches to its
/// messages as the "User-Id" property. nullopt when no request was pending.
[[nodiscard]] std::optional<ZapDecision> answer_zap_request(void* zap_socket, const AllowedCurveKeys& allowed);

} // namespace zerobuffer::relay
