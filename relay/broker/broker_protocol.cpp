// SPDX-License-Identifier: MIT
// Field checks of the broker protocol, used by the broker on every request and by the client before sending.
#include "broker_protocol.h"

#include <algorithm>

namespace zerobuffer::relay::protocol {

namespace {

/// Printable ASCII without space, or any byte of a UTF-8 sequence (the JSON parser already validated UTF-8).
bool is_visible_byte(char c)
{
    const auto byte = static_cast<unsigned char>(c);
    return (byte > 0x20 && byte < 0x7f) || byte >= 0x80;
}

/// Shows a value in a message without echoing control characters or unbounded length back to a log.
std::string printable_excerpt(std::string_view text)
{
    constexpr std::size_t kExcerpt = 40;
    std::string out;
    for (const char c : text.substr(0, kExcerpt)) {
        out += is_visible_byte(c) || c == ' ' ? c : '?';
    }
    if (text.size() > kExcerpt) {
        out += "...";
    }
    return out;
}

} // namespace

std::optional<std::string> check_name(std::string_view name)
{
    if (name.empty()) {
        return "name is empty";
    }
    if (name.size() > kMaxNameBytes) {
        return "name is " + std::to_string(name.size()) + " bytes, the limit is " + std::to_string(kMaxNameBytes);
    }
    if (!std::all_of(name.begin(), name.end(), is_visible_byte)) {
        return "name '" + printable_excerpt(name) + "' contains a space or control character";
    }
    return std::nullopt;
}

std::optional<std::string> check_address(std::string_view address)
{
    if (address.size() > kMaxAddressBytes) {
        return "address is " + std::to_string(address.size()) + " bytes, the limit is " +
               std::to_string(kMaxAddressBytes);
    }
    if (!std::all_of(address.begin(), address.end(), is_visible_byte)) {
        return "address '" + printable_excerpt(address) + "' contains a space or control character";
    }
    constexpr std::string_view kTcp = "tcp://";
    constexpr std::string_view kIpc = "ipc://";
    const bool tcp = address.starts_with(kTcp);
    if (!tcp && !address.starts_with(kIpc)) {
        return "address '" + printable_excerpt(address) + "' is not tcp://HOST:PORT or ipc://PATH";
    }
    const std::string_view rest = address.substr(kTcp.size());
    if (rest.empty()) {
        return "address '" + printable_excerpt(address) + "' has nothing after the scheme";
    }
    if (tcp) {
        const auto colon = rest.rfind(':');
        const std::string_view port = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
        if (colon == 0 || port.empty() || port.size() > 5 ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return "address '" + printable_excerpt(address) + "' has no numeric port (tcp://HOST:PORT)";
        }
    }
    return std::nullopt;
}

std::optional<std::string> check_ttl(std::chrono::milliseconds ttl)
{
    if (ttl < kMinTtl || ttl > kMaxTtl) {
        return "ttl " + std::to_string(ttl.count()) + " ms is outside [" + std::to_string(kMinTtl.count()) + ", " +
               std::to_string(kMaxTtl.count()) + "] ms";
    }
    return std::nullopt;
}

} // namespace zerobuffer::relay::protocol
