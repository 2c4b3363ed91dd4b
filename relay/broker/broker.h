// SPDX-License-Identifier: MIT
// The stream registry of zb-relay (`zb-relay broker`): entry point of the subcommand.
#pragma once

namespace zerobuffer::relay {

/// Runs `zb-relay broker [OPTIONS]`; argv[0] is "broker". Returns the process exit code.
[[nodiscard]] int broker_main(int argc, char** argv);

} // namespace zerobuffer::relay
