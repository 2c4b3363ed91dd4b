// SPDX-License-Identifier: MIT
// The GstMetas that cross the ring, to and from the per-frame metadata format (frame_meta.h): regions of interest
// with their parameters, timecodes, reference timestamps, GstCustomMetas and the application's own bytes
// (GstZeroBufferUserMeta).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include <gst/gst.h>

#include "frame_meta.h"

namespace zerobuffer::gst {

/// The name of the GstCustomMeta that carries an application's own per-frame bytes: a structure with one field
/// "data" of type GBytes. zerobuffersink writes it into the frame's metadata, zerobuffersrc gives it back, and
/// frames of programs that write their own metadata bytes (not this format) arrive with it too.
inline constexpr const char* kUserMetaName = "GstZeroBufferUserMeta";

/// Registers GstZeroBufferUserMeta unless it is registered already (by the plugin, or by an application that
/// registered it before loading the plugin, which is allowed).
void register_user_meta();

/// Adds the buffer's carried metas to `meta` (in the buffer's order). The commit-timestamp reference meta that
/// zerobuffersrc adds is about one ring only and is left out.
void collect_metas(GstBuffer* buffer, frame_meta::FrameMeta& meta);

/// What a source remembers between frames while it adds metas: parsed reference caps and the names of custom
/// metas it could not add, so that it warns once per name. Streaming thread only.
class MetaAttacher {
public:
    MetaAttacher() = default;
    MetaAttacher(const MetaAttacher&) = delete;
    MetaAttacher& operator=(const MetaAttacher&) = delete;
    ~MetaAttacher();

    /// Adds the metas of `meta` to `buffer`, in the writer's order. Anything invalid (a region that does not parse,
    /// an impossible timecode, reference caps that do not parse) is left out and named in `skipped` (appended,
    /// "; "-separated), so that the caller can warn; nothing from the ring is trusted.
    void attach(GstBuffer* buffer, const frame_meta::FrameMeta& meta, std::string& skipped);

private:
    GstCaps* reference_caps(const std::string& text);
    std::map<std::string, GstCaps*> caps_; ///< Owned references; bounded by kMaxCachedCaps.
    std::set<std::string> unknown_custom_;
};

} // namespace zerobuffer::gst
