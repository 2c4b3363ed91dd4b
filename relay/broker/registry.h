// SPDX-License-Identifier: MIT
// The broker's table of published streams: turns one request body into one reply, and expires stale entries.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace zerobuffer::relay::detail {

using Clock = std::chrono::steady_clock;

/// A reply to send back and, for refused requests, what to log and count.
struct Reply {
    nlohmann::json body;
    std::string error_code;           ///< Empty when the request succeeded.
    std::string log_line;             ///< What happened, for stderr (empty for routine successes like DISC).
    std::vector<std::string> expired; ///< Registrations that expired just before this request, for the log.
};

/// Builds {"ok":false,"error":code,"message":message}.
[[nodiscard]] Reply error_reply(std::string_view code, std::string message);

/// The registry. Single-threaded: owned and used by the broker's loop only.
class Registry {
public:
    struct Limits {
        std::chrono::milliseconds default_ttl;
        std::size_t max_streams;
    };

    explicit Registry(Limits limits) : limits_(limits) {}

    /// Handles one request body. peer_address is the requester's IP as libzmq saw it ("" when unknown); it
    /// replaces a wildcard host in a REG address (tcp://*:5555 registers as tcp://PEER:5555). Never throws.
    [[nodiscard]] Reply handle(std::string_view body, std::string_view peer_address, Clock::time_point now);

    /// Removes registrations not refreshed within their TTL; returns one log line per removed entry.
    [[nodiscard]] std::vector<std::string> expire(Clock::time_point now);

    /// When the next registration may expire (possibly earlier than it will, if it was refreshed), if any.
    [[nodiscard]] std::optional<Clock::time_point> next_expiry() const { return earliest_deadline_; }

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    struct Entry {
        std::string address;           ///< What DISC returns (wildcard host resolved).
        std::string requested_address; ///< What the publisher sent; DEREG must match it when it names one.
        nlohmann::json info;
        std::chrono::milliseconds ttl;
        Clock::time_point refreshed;
        Clock::time_point created;
    };

    Reply handle_object(const nlohmann::json& request, std::string_view peer_address, Clock::time_point now);
    Reply handle_reg(const nlohmann::json& request, std::string_view peer_address, Clock::time_point now);
    Reply handle_disc(const nlohmann::json& request, Clock::time_point now);
    Reply handle_dereg(const nlohmann::json& request, Clock::time_point now);
    Reply handle_list(Clock::time_point now);
    /// The live entry of that name, after dropping it if it has expired.
    Entry* find_live(const std::string& name, Clock::time_point now);

    /// Lowers earliest_deadline_ to `deadline` if that is earlier.
    void note_deadline(Clock::time_point deadline);

    Limits limits_;
    std::map<std::string, Entry, std::less<>> entries_;
    /// No entry expires before this. Refreshes leave it early (never late); expire() rescans only once it passes,
    /// so a request costs O(log n), not a scan of every registration.
    std::optional<Clock::time_point> earliest_deadline_;
};

} // namespace zerobuffer::relay::detail
