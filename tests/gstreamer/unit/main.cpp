// SPDX-License-Identifier: MIT
// Entry point of the GStreamer unit tests: GStreamer is initialised once, before any test.
#include <gst/gst.h>

#include "gtest_cli.h"

int main(int argc, char** argv)
{
    gst_init(&argc, &argv); // Takes GStreamer's own options (--gst-debug=...) out first.
    if (const auto status = zbtest::init_google_test(argc, argv)) {
        return *status;
    }
    return RUN_ALL_TESTS();
}
