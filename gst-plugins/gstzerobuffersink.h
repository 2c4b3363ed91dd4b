// SPDX-License-Identifier: MIT
// zerobuffersink: writes a pipeline's buffers, caps and timestamps into a ZeroBuffer ring.
#pragma once

#include <gst/base/gstbasesink.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_ZERO_BUFFER_SINK (gst_zero_buffer_sink_get_type())
G_DECLARE_FINAL_TYPE(GstZeroBufferSink, gst_zero_buffer_sink, GST, ZERO_BUFFER_SINK, GstBaseSink)

/// How frames are protected when no secret is set (a secret always means keyed MACs).
#define GST_TYPE_ZERO_BUFFER_CHECKSUM (gst_zero_buffer_checksum_get_type())
GType gst_zero_buffer_checksum_get_type(void);

G_END_DECLS
