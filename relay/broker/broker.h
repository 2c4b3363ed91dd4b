// SPDX-License-Identifier: MIT
// The stream registry of zb-relay (`zb-relay broker`): entry point of the subcommand.
#pragma once

#include "broker_options.h"

namespace zerobuffer::relay {

/// Runs `zb-relay broker` with the options its command line gave (broker_options.h). Returns the exit code.
[[nodiscard]] int broker_main(detail::BrokerOptions options);

} // namespace zerobuffer::relay
