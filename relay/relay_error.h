// SPDX-License-Identifier: MIT
// Errors of zb-relay's library code: one enum for the component plus a message, returned as values.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace zerobuffer::relay {

/// What went wrong in the relay. The message names the problem and says what to do.
enum class RelayErrc {
    InvalidConfig, ///< A flag, endpoint or config-file key is wrong; exit code 2.
    Io,            ///< A file could not be read or written (key files, config file).
    Security,      ///< Keys missing, malformed or refused.
    Network,       ///< A ZeroMQ socket could not be set up (bind/connect failed).
    Ring,          ///< A ring could not be created or attached.
};

struct RelayError {
    RelayErrc code;
    std::string message;
};

template <typename T>
using RelayResult = tl::expected<T, RelayError>;

[[nodiscard]] inline tl::unexpected<RelayError> relay_error(RelayErrc code, std::string message)
{
    return tl::unexpected<RelayError>(RelayError{code, std::move(message)});
}

} // namespace zerobuffer::relay
