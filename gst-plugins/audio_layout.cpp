// SPDX-License-Identifier: MIT
// GstAudioMeta to and from the per-frame audio layout record (see audio_layout.h).
#include "audio_layout.h"

#include <algorithm>
#include <array>
#include <vector>

namespace zerobuffer::gst {

std::optional<frame_meta::AudioLayout> audio_layout_of(const GstAudioInfo& info, GstBuffer* buffer)
{
    const GstAudioMeta* meta = gst_buffer_get_audio_meta(buffer);
    const bool planar = GST_AUDIO_INFO_LAYOUT(&info) == GST_AUDIO_LAYOUT_NON_INTERLEAVED;
    const auto channels = static_cast<std::size_t>(GST_AUDIO_INFO_CHANNELS(&info));
    const auto bps = static_cast<std::size_t>(GST_AUDIO_INFO_BPS(&info));
    const gsize size = gst_buffer_get_size(buffer);
    frame_meta::AudioLayout layout;
    if (meta != nullptr) {
        layout.samples = static_cast<std::uint32_t>(meta->samples);
        if (meta->offsets != nullptr)
            layout.offsets.assign(meta->offsets, meta->offsets + GST_AUDIO_INFO_CHANNELS(&meta->info));
        const auto bpf = static_cast<std::size_t>(GST_AUDIO_INFO_BPF(&info));
        if (!planar && bpf != 0 && meta->samples * bpf == size)
            return std::nullopt; // Interleaved and whole: the frame size says it all.
        return layout;
    }
    if (!planar || channels == 0 || bps == 0)
        return std::nullopt;
    // Planar without a meta: packed planes (what GstAudioMeta's default means).
    layout.samples = static_cast<std::uint32_t>(size / (channels * bps));
    for (std::size_t channel = 0; channel < channels; ++channel)
        layout.offsets.push_back(channel * layout.samples * bps);
    return layout;
}

Result<void> add_audio_meta(GstBuffer* buffer, const GstAudioInfo& info,
                            const std::optional<frame_meta::AudioLayout>& layout, std::size_t size)
{
    const bool planar = GST_AUDIO_INFO_LAYOUT(&info) == GST_AUDIO_LAYOUT_NON_INTERLEAVED;
    const auto channels = static_cast<std::size_t>(GST_AUDIO_INFO_CHANNELS(&info));
    const auto bps = static_cast<std::size_t>(GST_AUDIO_INFO_BPS(&info));
    const auto bpf = static_cast<std::size_t>(GST_AUDIO_INFO_BPF(&info));
    if (channels == 0 || bps == 0 || bpf == 0)
        return make_error(Errc::InvalidArgument, "the audio caps have no channels or sample size");
    std::size_t samples = 0;
    std::vector<gsize> offsets;
    if (layout) {
        samples = layout->samples;
        if (planar && layout->offsets.size() != channels)
            return make_error(Errc::CorruptSegment, "the frame's audio layout lists " +
                                                        std::to_string(layout->offsets.size()) + " planes for " +
                                                        std::to_string(channels) + " channels");
        if (!planar && !layout->offsets.empty())
            return make_error(Errc::CorruptSegment, "the frame's audio layout lists planes for interleaved audio");
        offsets.assign(layout->offsets.begin(), layout->offsets.end());
    } else {
        const std::size_t unit = planar ? channels * bps : bpf;
        if (size % unit != 0)
            return make_error(Errc::CorruptSegment, "a frame of " + std::to_string(size) +
                                                        " bytes is not a whole number of " + std::to_string(unit) +
                                                        "-byte audio frames");
        samples = size / unit;
        if (planar)
            for (std::size_t channel = 0; channel < channels; ++channel)
                offsets.push_back(channel * samples * bps);
    }
    if (!planar) {
        if (samples > size / bpf)
            return make_error(Errc::CorruptSegment, std::to_string(samples) + " samples do not fit in a frame of " +
                                                        std::to_string(size) + " bytes");
    } else {
        if (samples > size / bps)
            return make_error(Errc::CorruptSegment, std::to_string(samples) + " samples do not fit in a frame of " +
                                                        std::to_string(size) + " bytes");
        const std::size_t plane = samples * bps;
        std::vector<gsize> sorted = offsets;
        std::sort(sorted.begin(), sorted.end());
        for (std::size_t i = 0; i < sorted.size(); ++i) {
            if (sorted[i] > size || plane > size - sorted[i])
                return make_error(Errc::CorruptSegment, "an audio plane at offset " + std::to_string(sorted[i]) +
                                                            " runs past the frame of " + std::to_string(size) +
                                                            " bytes");
            if (i > 0 && sorted[i] - sorted[i - 1] < plane)
                return make_error(Errc::CorruptSegment, "two audio planes overlap (offsets " +
                                                            std::to_string(sorted[i - 1]) + " and " +
                                                            std::to_string(sorted[i]) + ")");
        }
    }
    gst_buffer_add_audio_meta(buffer, &info, samples, planar ? offsets.data() : nullptr);
    return {};
}

} // namespace zerobuffer::gst
