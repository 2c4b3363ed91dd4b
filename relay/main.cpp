// SPDX-License-Identifier: MIT
// zb-relay: moves frames from a ring to rings or ZeroMQ peers; `zb-relay broker` runs the stream registry.
#include <cstdio>
#include <string_view>

#include "broker.h"

int main(int argc, char** argv)
{
    if (argc > 1 && std::string_view(argv[1]) == "broker") {
        return zerobuffer::relay::broker_main(argc - 1, argv + 1);
    }
    std::fputs("zb-relay: error: relaying is not written yet\n", stderr);
    return 2;
}
