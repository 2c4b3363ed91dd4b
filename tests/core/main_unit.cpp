// SPDX-License-Identifier: MIT
// Entry point of the in-process core suites: GoogleTest plus the /dev/shm leak check at exit.
#include <gtest/gtest.h>

#include "support.h"

int main(int argc, char** argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    // GoogleTest takes ownership of environments passed to AddGlobalTestEnvironment.
    ::testing::AddGlobalTestEnvironment(new zbtest::ShmLeakEnvironment);
    return RUN_ALL_TESTS();
}
