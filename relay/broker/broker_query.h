// SPDX-License-Identifier: MIT
// `zb-relay broker query`: a command-line client of the broker (LIST, or DISC of one name).
#pragma once

namespace zerobuffer::relay {

/// Runs `zb-relay broker query ENDPOINT [NAME] [OPTIONS]`; argv[0] is "query". Returns the process exit code.
[[nodiscard]] int broker_query_main(int argc, char** argv);

} // namespace zerobuffer::relay
