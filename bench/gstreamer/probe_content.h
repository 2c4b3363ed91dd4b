// SPDX-License-Identifier: MIT
// What zb-gst-probe says about a buffer: the --checksums line (timestamps, flags, layout, SHA-1 of the content,
// running time and metas), and the --repack copy.
#pragma once

#include <cstdint>
#include <string>

#include <gst/audio/audio.h>
#include <gst/gst.h>
#include <gst/video/video.h>

namespace zbprobe {

/// What the watched pad carries, from its CAPS and SEGMENT events. Streaming thread only.
struct Media {
    GstVideoInfo video_info{};
    bool is_video = false; ///< raw video with planes
    GstAudioInfo audio_info{};
    bool is_audio = false; ///< raw audio
    GstSegment segment{};
    bool have_segment = false;
};

/// Takes the layout of new caps.
void note_caps(Media& media, GstCaps* caps);

/// "buffer N pts=... dts=... duration=... offset=... offset_end=... delta=K [strides=...|samples=... planes=...]
/// [running=T] [metas] sha1=...": the SHA-1 covers the visible bytes of each row of each raw video plane (through
/// the buffer's GstVideoMeta), the valid samples of each raw audio plane (through its GstAudioMeta), otherwise every
/// byte.
[[nodiscard]] std::string buffer_line(const Media& media, GstBuffer* buffer, std::uint64_t index, bool running_time);

/// A copy of a raw video buffer in two memories (plane 0, then the other planes) whose strides are `pad` bytes longer
/// than the default, described by a GstVideoMeta; nullptr when the pad does not carry raw video.
[[nodiscard]] GstBuffer* repacked(const Media& media, GstBuffer* buffer, std::uint32_t pad);

} // namespace zbprobe
