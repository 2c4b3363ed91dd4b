// SPDX-License-Identifier: MIT
// main() of the GoogleTest programs that need nothing else (relay and broker suites), with the project's
// command-line checks (gtest_cli.h) instead of GoogleTest's own main, which ignores unknown arguments.
#include "gtest_cli.h"

int main(int argc, char** argv)
{
    if (const auto status = zbtest::init_google_test(argc, argv)) {
        return *status;
    }
    return RUN_ALL_TESTS();
}
