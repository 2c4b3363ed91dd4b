// SPDX-License-Identifier: MIT
// zerobuffersrc: reads frames from a ZeroBuffer ring as zero-copy buffers, with caps from the ring's metadata.
#pragma once

#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_ZERO_BUFFER_SRC (gst_zero_buffer_src_get_type())
G_DECLARE_FINAL_TYPE(GstZeroBufferSrc, gst_zero_buffer_src, GST, ZERO_BUFFER_SRC, GstPushSrc)

/// The reader policy: lossless (the writer waits for this reader) or latest (never slows the writer).
#define GST_TYPE_ZERO_BUFFER_POLICY (gst_zero_buffer_policy_get_type())
GType gst_zero_buffer_policy_get_type(void);
#define GST_TYPE_ZERO_BUFFER_WAIT_MODE (gst_zero_buffer_wait_mode_get_type())
GType gst_zero_buffer_wait_mode_get_type(void);

G_END_DECLS
