// SPDX-License-Identifier: MIT
// The ADDR:PORT of an HTTP metrics endpoint (zbctl serve, zb-relay --metrics), and a server bound to it.
#pragma once

#include <optional>
#include <string>

#include <httplib.h>

namespace zerobuffer::http {

struct ListenAddress {
    std::string host; ///< Without brackets: "127.0.0.1", "::1", "0.0.0.0".
    int port = 0;     ///< 0: any free port.
};

/// Parses "HOST:PORT" or "[IPV6]:PORT"; nullopt for anything else.
[[nodiscard]] std::optional<ListenAddress> parse_listen(const std::string& text);

/// Whether only this machine can reach `host`.
[[nodiscard]] bool is_loopback(const std::string& host);

/// `host` as it goes in a URL (IPv6 in brackets).
[[nodiscard]] std::string url_host(const std::string& host);

/// Binds `server` to `address` with SO_REUSEADDR only (httplib's default SO_REUSEPORT would let a second server
/// silently share the port). Returns the bound port, or -1 when the port is in use or the address is not ours.
[[nodiscard]] int bind_server(httplib::Server& server, const ListenAddress& address);

} // namespace zerobuffer::http
