// SPDX-License-Identifier: MIT
// Errors of the broker client (relay/broker): one enum for the component, returned as values, never thrown.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace zerobuffer::relay {

/// What went wrong talking to `zb-relay broker`. Every value has a fixed meaning callers may branch on.
enum class BrokerErrc {
    InvalidArgument, ///< A name, address, TTL or endpoint is malformed; nothing was sent. The message says which.
    KeyFile,         ///< A CURVE key file is missing, unreadable or not a 40-character Z85 key.
    Timeout,         ///< No reply within the timeout: broker down, unreachable, or it refused our CURVE key.
    NotFound,        ///< The broker has no live registration of that name (error "not_found").
    Refused,         ///< The broker answered {"ok":false}; BrokerError::broker_code holds its "error" code.
    ProtocolError,   ///< The reply is not the JSON the protocol promises (wrong peer or a broken broker).
    SystemError,     ///< A libzmq call failed; the message holds zmq's reason.
};

/// An error value: a code to branch on, a message that says what failed and what to do.
struct BrokerError {
    BrokerErrc code;
    std::string message;
    std::string broker_code; ///< The broker's "error" code for NotFound and Refused, empty otherwise.
};

/// The name of an error code, for logs ("Timeout", "NotFound", ...).
[[nodiscard]] constexpr std::string_view to_string(BrokerErrc code) noexcept
{
    switch (code) {
    case BrokerErrc::InvalidArgument: return "InvalidArgument";
    case BrokerErrc::KeyFile: return "KeyFile";
    case BrokerErrc::Timeout: return "Timeout";
    case BrokerErrc::NotFound: return "NotFound";
    case BrokerErrc::Refused: return "Refused";
    case BrokerErrc::ProtocolError: return "ProtocolError";
    case BrokerErrc::SystemError: return "SystemError";
    }
    return "Unknown";
}

template <typename T>
using BrokerResult = tl::expected<T, BrokerError>;

[[nodiscard]] inline tl::unexpected<BrokerError> make_broker_error(BrokerErrc code, std::string message,
                                                                   std::string broker_code = {})
{
    return tl::unexpected<BrokerError>(BrokerError{code, std::move(message), std::move(broker_code)});
}

} // namespace zerobuffer::relay
