// SPDX-License-Identifier: MIT
// The stream registry of zb-relay: placeholder until the broker is written.
#include "broker.h"

#include <cstdio>

namespace zerobuffer::relay {

int broker_main(int /*argc*/, char** /*argv*/)
{
    std::fputs("zb-relay: error: the broker is not written yet\n", stderr);
    return 2;
}

} // namespace zerobuffer::relay
