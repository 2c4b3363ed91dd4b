// SPDX-License-Identifier: MIT
// Entry point of the cross-process suites: "--child=ROLE ..." runs a child role, anything else runs GoogleTest.
#include <cstring>

#include <gtest/gtest.h>

#include "support.h"

int main(int argc, char** argv)
{
    if (argc > 1 && std::strncmp(argv[1], "--child=", 8) == 0) {
        return zbtest::run_child_role(argc, argv);
    }
    ::testing::InitGoogleTest(&argc, argv);
    // GoogleTest takes ownership of environments passed to AddGlobalTestEnvironment.
    ::testing::AddGlobalTestEnvironment(new zbtest::ShmLeakEnvironment);
    return RUN_ALL_TESTS();
}
