// SPDX-License-Identifier: MIT
// Registers the "zerobuffer" GStreamer plugin: zerobuffersink and zerobuffersrc.
#include <gst/gst.h>

#include "buffer_metas.h"
#include "gstzerobuffersink.h"
#include "gstzerobuffersrc.h"

static gboolean plugin_init(GstPlugin* plugin)
{
    zerobuffer::gst::register_user_meta(); // Before any buffer: applications may add it once the plugin is loaded.
    return gst_element_register(plugin, "zerobuffersink", GST_RANK_NONE, GST_TYPE_ZERO_BUFFER_SINK) &&
           gst_element_register(plugin, "zerobuffersrc", GST_RANK_NONE, GST_TYPE_ZERO_BUFFER_SRC);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, zerobuffer,
                  "Shared-memory frame ring between processes, zero copy: zerobuffersink and zerobuffersrc",
                  plugin_init, VERSION, "MIT", "zerobuffer", "https://github.com/zerobuffer")
