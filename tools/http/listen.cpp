// SPDX-License-Identifier: MIT
#include "listen.h"

#include <sys/socket.h>

namespace zerobuffer::http {

std::optional<ListenAddress> parse_listen(const std::string& text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        return std::nullopt;
    ListenAddress address;
    address.host = text.substr(0, colon);
    if (address.host.front() == '[') {
        if (address.host.size() < 3 || address.host.back() != ']')
            return std::nullopt;
        address.host = address.host.substr(1, address.host.size() - 2);
    } else if (address.host.find(':') != std::string::npos) {
        return std::nullopt; // An IPv6 address needs brackets.
    }
    const std::string digits = text.substr(colon + 1);
    if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    address.port = std::stoi(digits);
    if (address.port > 65535)
        return std::nullopt;
    return address;
}

bool is_loopback(const std::string& host)
{
    return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string url_host(const std::string& host)
{
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

int bind_server(httplib::Server& server, const ListenAddress& address)
{
    server.set_socket_options([](socket_t sock) {
        const int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    if (address.host.find(':') != std::string::npos)
        server.set_address_family(AF_INET6);
    if (address.port == 0)
        return server.bind_to_any_port(address.host);
    return server.bind_to_port(address.host, address.port) ? address.port : -1;
}

} // namespace zerobuffer::http
