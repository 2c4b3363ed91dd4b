// SPDX-License-Identifier: MIT
// Entry point of the cross-process suites: "--child=ROLE ..." runs a child role, anything else runs GoogleTest.
#include <cstring>

#include "gtest_cli.h"
#include "support.h"

int main(int argc, char** argv)
{
    if (argc > 1 && std::strncmp(argv[1], "--child=", 8) == 0) {
        return zbtest::run_child_role(argc, argv);
    }
    if (const auto status = zbtest::init_google_test(argc, argv)) {
        return *status;
    }
    // GoogleTest takes ownership of environments passed to AddGlobalTestEnvironment.
    ::testing::AddGlobalTestEnvironment(new zbtest::ShmLeakEnvironment);
    return RUN_ALL_TESTS();
}
