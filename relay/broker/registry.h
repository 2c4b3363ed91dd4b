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

/// Who sent a request, as libzmq reported it.
struct Requester {
    std::string_view address; ///< The client's IP ("" when unknown); replaces a wildcard host in a REG address.
    std::string_view key;     ///< The client's Z85 CURVE key (ZAP's user id); "" on a plain broker.
};

/// The registry. Single-threaded: owned and used by the broker's loop only.
class Registry {
public:
    struct Limits {
        std::chrono::milliseconds default_ttl;
        std::size_t max_streams;
    };

    explicit Registry(Limits limits) : limits_(limits) {}

    /// Handles one request body. The requester's address replaces a wildcard host in a REG address (tcp://*:5555
    /// registers as tcp://PEER:5555). Under CURVE a name belongs to the key that registered it until the
    /// registration expires: REG and DEREG of it by another key are refused (not_owner). Never throws.
    [[nodiscard]] Reply handle(std::string_view body, const Requester& requester, Clock::time_point now);

    /// Removes registrations not refreshed within their TTL; returns one log line per removed entry.
    [[nodiscard]] std::vector<std::string> expire(Clock::time_point now);

    /// When the next registration may expire (possibly earlier than it will, if it was refreshed), if any.
    [[nodiscard]] std::optional<Clock::time_point> next_expiry() const { return earliest_deadline_; }

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    struct Entry {
        std::string address;           ///< What DISC returns (wildcard host resolved).
        std::string requested_address; ///< What the publisher sent; DEREG must match it when it names one.
        std::string owner;             ///< The registering client's CURVE key ("" on a plain broker).
        nlohmann::json info;
        std::chrono::milliseconds ttl;
        Clock::time_point refreshed;
        Clock::time_point created;
    };

    Reply handle_object(const nlohmann::json& request, const Requester& requester, Clock::time_point now);
    Reply handle_reg(const nlohmann::json& request, const Requester& requester, Clock::time_point now);
    Reply handle_disc(const nlohmann::json& request, Clock::time_point now);
    Reply handle_dereg(const nlohmann::json& request, const Requester& requester, Clock::time_point now);
    Reply handle_list(Clock::time_point now);
    /// The live entry of that name, after dropping it if it has expired.
    Entry* find_live(const std::string& name, Clock::time_point now);
    /// The not_owner refusal when `entry` belongs to another key than the requester's, nullopt otherwise.
    [[nodiscard]] std::optional<Reply> refuse_other_owner(const std::string& name, const Entry& entry,
                                                          const Requester& requester, Clock::time_point now) const;

    /// Lowers earliest_deadline_ to `deadline` if that is earlier.
    void note_deadline(Clock::time_point deadline);

    Limits limits_;
    std::map<std::string, Entry, std::less<>> entries_;
    /// No entry expires before this. Refreshes leave it early (never late); expire() rescans only once it passes,
    /// so a request costs O(log n), not a scan of every registration.
    std::optional<Clock::time_point> earliest_deadline_;
};

} // namespace zerobuffer::relay::detail
