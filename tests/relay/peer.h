// SPDX-License-Identifier: MIT
// zb-relay-peer (the relay tests' helper): its options, the known stream it writes and checks, and its modes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <zerobuffer/frame.h>
#include <zerobuffer/stream_format.h>

namespace zerobuffer::relay::test {

using Clock = std::chrono::steady_clock;

inline constexpr std::int64_t kFrameDuration = 16'666'667;

struct Options {
    std::string mode;
    std::string target;
    std::uint64_t frames = 60;
    std::uint32_t width = 1920;
    std::uint32_t height = 1080;
    bool encoded = false;
    double fps = 0;
    std::uint32_t wait_readers = 0;
    std::size_t ring_size = std::size_t{64} << 20;
    std::uint64_t format_change_at = UINT64_MAX;
    bool no_eos = false;
    bool eos_on_sigterm = false; ///< write: SIGTERM ends the stream (end-of-stream written) instead of the process.
    std::vector<std::uint64_t> pause_at; ///< Before writing these frames, print "paused at K" and wait pause_ms.
    int pause_ms = 3000;
    std::uint64_t gop = 10; ///< Encoded streams: a keyframe every `gop` frames.
    bool allow_gaps = false;
    bool reattach = false;
    int slow_ms = 0;
    int timeout_s = 60;
    bool print_arrivals = false; ///< read: print "arrival: INDEX UNIX_SECONDS DISCONTINUITY" per frame (recovery times)
    std::string stream_name; ///< broker-reg
    std::string address;     ///< broker-reg
    std::string broker_key;
    std::string curve_secret;
    int ttl_ms = 10'000;
    double seconds = 5;               ///< hello-flood
    std::size_t part_bytes = 200'000; ///< flood-*
    std::uint64_t megabytes = 400;    ///< flood-*
};

// The known stream (peer_stream.cpp): what the writer writes for frame `index`, and what the reader expects.

/// The stream format in effect for frame `index`.
[[nodiscard]] StreamFormat format_for(const Options& options, std::uint64_t index);
[[nodiscard]] bool is_keyframe(const Options& options, std::uint64_t index);
[[nodiscard]] std::size_t payload_size_for(const Options& options, std::uint64_t index);
[[nodiscard]] FrameInfo info_for(const Options& options, std::uint64_t index);
[[nodiscard]] std::string blob_for(std::uint64_t index);
void fill_payload(std::span<std::byte> payload, std::uint64_t index, bool encoded, bool keyframe);
[[nodiscard]] bool payload_matches(const Options& options, std::span<const std::byte> payload, std::uint64_t index);
/// Prints "zb-relay-peer: error: MESSAGE" and returns 1 (the exit code).
int fail(const std::string& message);

// The modes; each returns the exit code.
int run_writer(const Options& options);         ///< peer_ring.cpp
int run_reader(const Options& options);         ///< peer_ring.cpp
int run_hostile_sender(const Options& options); ///< peer_hostile.cpp, as the ones below
int run_hostile_client(const Options& options);
int run_hello_flood(const Options& options);
int run_flood(const Options& options, bool as_sender);
int run_broker_reg(const Options& options);
int run_torn_sender(const Options& options); ///< peer_torn.cpp

} // namespace zerobuffer::relay::test
