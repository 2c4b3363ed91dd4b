// SPDX-License-Identifier: MIT
// zb-gst-probe's command line (see zb-gst-probe.cpp for what the program does).
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace zbprobe {

inline constexpr int kExitOk = 0;
inline constexpr int kExitPipelineError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitTimeout = 3;
inline constexpr int kExitInterrupted = 4;

struct Options {
    std::string probe_name = "probe";
    bool checksums = false;
    bool stamp = false;
    bool latency = false;
    double report_every_s = 0.0;
    double timeout_s = 0.0;
    // --repack PAD: each raw video buffer is copied into a new one made of two memories whose plane strides are
    // PAD bytes longer than the default (a padded-stride layout described by GstVideoMeta, not from a sink's pool).
    std::uint32_t repack_pad = 0;
    bool repack = false;
    std::uint64_t warmup = 0;     // --warmup: the first buffers count in neither frames/s nor latency
    std::uint64_t max_frames = 0; // --frames: stop after this many buffers (shmsrc never sees end of stream)
    std::string label;
    // --switch-caps N:CAPS: after N buffers, the capsfilter named "switch" gets CAPS (a caps change mid-stream).
    std::uint64_t switch_after = 0;
    std::string switch_caps;
    // --pause N:DELAY:HOLD: DELAY ms after the Nth buffer the pipeline goes to PAUSED, and HOLD ms later back to
    // PLAYING; "state paused" and "state playing" lines on stdout say when.
    bool pause = false;
    std::uint64_t pause_after = 0;
    unsigned pause_delay_ms = 0;
    unsigned pause_hold_ms = 0;
    // --running-time: buffer lines also say each buffer's running time in the pad's segment.
    bool running_time = false;
    // --add-metas: the probe adds regions of interest, a reference timestamp, a custom meta and user bytes to each
    // buffer (the writer side of the meta tests); buffer lines always list the metas a buffer carries.
    bool add_metas = false;
    // --seek N:POS: after N buffers, a flushing seek to POS ms (from the main loop).
    bool seek = false;
    std::uint64_t seek_after = 0;
    unsigned seek_to_ms = 0;
    // --loop N: play the stream N times with segment seeks (seamless, as a looping player does).
    unsigned loops = 0;
    // --force-key-unit N: after N buffers, send a force-key-unit event upstream from the watched pad.
    std::uint64_t force_key_unit_after = 0;
    std::string pipeline;
};

void print_usage(std::FILE* out);

/// The options, or nullopt after printing why they are wrong. --help prints the usage and exits 0.
[[nodiscard]] std::optional<Options> parse_options(int argc, char** argv);

} // namespace zbprobe
