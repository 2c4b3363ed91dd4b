// SPDX-License-Identifier: MIT
// What the writer and reader roles share: lines to the driver, kill points, and the exit on an unexpected error.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "chaos.h"
#include "support.h"

namespace zbchaos {

void say(const std::string& line)
{
    const std::string text = line + "\n";
    if (::write(1, text.data(), text.size()) < 0) { // unbuffered: the driver waits for these lines
        std::perror("write");
    }
}

void park(const std::string& point)
{
    say("parked " + point);
    while (true) {
        pause(); // until SIGKILL
    }
}

void worker_failed(const char* role, const std::string& what, const zerobuffer::Error& error)
{
    std::fprintf(stderr, "zb-chaos %s: %s: %s\n", role, what.c_str(), zbtest::describe(error).c_str());
    std::fflush(stderr);
    std::_Exit(kExitUnexpected);
}

} // namespace zbchaos
