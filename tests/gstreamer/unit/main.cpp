// SPDX-License-Identifier: MIT
// Entry point of the GStreamer unit tests: GStreamer is initialised once, before any test.
#include <gst/gst.h>
#include <gtest/gtest.h>

int main(int argc, char** argv)
{
    gst_init(&argc, &argv);
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
