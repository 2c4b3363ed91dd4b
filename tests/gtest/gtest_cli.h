// SPDX-License-Identifier: MIT
// The command line of the project's GoogleTest programs: --help and -h print the usage, and an argument that
// GoogleTest does not know is a usage error (exit 2) instead of being ignored while every test runs.
#pragma once

#include <cstdio>
#include <optional>
#include <string_view>

#include <gtest/gtest.h>

namespace zbtest {

/// InitGoogleTest, then the checks above. Returns the exit status when the program must stop at once: 0 after
/// the help, 2 after an unknown argument; nullopt when the tests should run.
inline std::optional<int> init_google_test(int& argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::printf("Usage: %s [GoogleTest flags, e.g. --gtest_filter='Suite.*' --gtest_repeat=10]\n\n", argv[0]);
            char help[] = "--help";
            char* args[] = {argv[0], help, nullptr};
            int count = 2;
            testing::InitGoogleTest(&count, args); // Prints GoogleTest's flags.
            return 0;
        }
    }
    testing::InitGoogleTest(&argc, argv);
    if (argc > 1) {
        std::fprintf(stderr,
                     "%s: unknown argument '%s' (GoogleTest flags begin with --gtest_)\n"
                     "Usage: %s [GoogleTest flags]; see %s --help\n",
                     argv[0], argv[1], argv[0], argv[0]);
        return 2;
    }
    return std::nullopt;
}

} // namespace zbtest
