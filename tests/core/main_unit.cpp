// SPDX-License-Identifier: MIT
// Entry point of the in-process core suites: GoogleTest plus the /dev/shm leak check at exit.
#include "gtest_cli.h"
#include "support.h"

int main(int argc, char** argv)
{
    if (const auto status = zbtest::init_google_test(argc, argv)) {
        return *status;
    }
    // GoogleTest takes ownership of environments passed to AddGlobalTestEnvironment.
    ::testing::AddGlobalTestEnvironment(new zbtest::ShmLeakEnvironment);
    return RUN_ALL_TESTS();
}
