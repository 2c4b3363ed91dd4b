// SPDX-License-Identifier: MIT
// The layout of raw audio frames across the ring: GstAudioMeta (samples, and where each channel's plane starts in a
// non-interleaved frame) to and from the per-frame metadata's audio layout record.
#pragma once

#include <optional>
#include <string>

#include <gst/audio/audio.h>

#include <zerobuffer/error.h>

#include "frame_meta.h"

namespace zerobuffer::gst {

/// The layout the writer's buffer has, for the ring: planar frames always say it (their planes may have gaps);
/// interleaved frames only when a GstAudioMeta says fewer samples than the buffer holds.
[[nodiscard]] std::optional<frame_meta::AudioLayout> audio_layout_of(const GstAudioInfo& info, GstBuffer* buffer);

/// Adds the GstAudioMeta for a frame of `size` bytes: from `layout` when the frame carried one, else the default
/// layout (interleaved, or planes packed one after another). Every plane must lie inside the frame and no two may
/// overlap; a frame that breaks this gets an error naming the problem and no meta.
[[nodiscard]] Result<void> add_audio_meta(GstBuffer* buffer, const GstAudioInfo& info,
                                          const std::optional<frame_meta::AudioLayout>& layout, std::size_t size);

} // namespace zerobuffer::gst
