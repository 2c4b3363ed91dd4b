// SPDX-License-Identifier: MIT
// zb-gst-probe and metas: --add-metas puts test metas on buffers (the writer side of the meta tests), and every
// buffer line lists the metas that cross a ring, so that a writer's and a reader's lines compare with diff.
#pragma once

#include <cstdint>
#include <string>

#include <gst/gst.h>

namespace zbprobe {

/// Registers the custom meta of the tests (ZbProbeMeta), as an application that uses one does in every process
/// that handles it: a reader that has not registered it gets a warning and no meta.
void register_test_metas();

/// Adds to buffer number `index`: two regions of interest (a "person" and a "face" inside it, each with a parameter
/// structure), a reference timestamp (caps timestamp/x-zb-probe), a custom meta ZbProbeMeta and user bytes
/// (GstZeroBufferUserMeta). The buffer must be writable.
void add_test_metas(GstBuffer* buffer, std::uint64_t index);

/// " rois=[...] timecode=... refs=[...] custom=[...] user=HEX", each part only when the buffer has such metas, in
/// the buffer's order; "" for a buffer without any. The commit-timestamp meta of zerobuffersrc is left out (it is
/// about one ring, and a reader may add it).
[[nodiscard]] std::string describe_metas(GstBuffer* buffer);

} // namespace zbprobe
