// SPDX-License-Identifier: MIT
// `zb-relay broker query`: a command-line client of the broker (LIST, or DISC of one name).
#pragma once

#include "broker_options.h"

namespace zerobuffer::relay {

/// Runs `zb-relay broker query ENDPOINT [NAME] [OPTIONS]` with its parsed options. Returns the exit code.
[[nodiscard]] int broker_query_main(const detail::BrokerQueryOptions& options);

} // namespace zerobuffer::relay
