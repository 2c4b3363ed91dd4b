// SPDX-License-Identifier: MIT
// zb-record's attaching to its rings (see attach.h).
#include "attach.h"

#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>

namespace zbffmpeg::record {

AttachResult attach(const RecordOptions& options, const std::string& ring,
                    const std::optional<RingIdentity>& finished, bool single_try)
{
    zerobuffer::ReaderOptions reader_options;
    reader_options.policy = options.latest ? zerobuffer::ReaderPolicy::Latest : zerobuffer::ReaderPolicy::Lossless;
    reader_options.max_held = static_cast<std::uint32_t>(kHeldFrameSlots) + 4;
    const bool waiting_for_return = finished.has_value();
    const std::int64_t deadline = options.wait_timeout_seconds > 0.0
                                      ? monotonic_ns() + static_cast<std::int64_t>(options.wait_timeout_seconds * 1e9)
                                      : 0;
    bool announced = false;
    while (!stop_requested()) {
        auto reader = zerobuffer::Reader::attach(ring, reader_options);
        if (reader) {
            RingIdentity identity;
            if (auto snapshot = zerobuffer::inspect_ring(ring)) {
                identity = RingIdentity{snapshot->writer_pid, snapshot->created_realtime_ns};
            }
            if (reader->writer_alive() || !finished || identity != *finished) {
                return AttachResult{Attached::Yes, std::move(*reader), identity, ""};
            }
            // Still the ring we finished: drop it and wait for the new writer.
        } else if (reader.error().code != zerobuffer::Errc::NotFound) {
            return AttachResult{Attached::Refused,
                                std::nullopt,
                                {},
                                "cannot read ring '" + ring + "': " + reader.error().message};
        }
        if (!options.wait && !waiting_for_return) {
            return AttachResult{Attached::Refused,
                                std::nullopt,
                                {},
                                "ring '" + ring +
                                    "' does not exist - start its writer first, or drop --no-wait to wait for it"};
        }
        if (single_try) {
            return AttachResult{Attached::NotYet, std::nullopt, {}, ""};
        }
        if (deadline != 0 && monotonic_ns() > deadline) {
            return AttachResult{Attached::TimedOut,
                                std::nullopt,
                                {},
                                "ring '" + ring + "' " +
                                    (waiting_for_return ? "got no new writer" : "did not appear") +
                                    " within --wait-timeout - check that its writer is running"};
        }
        if (!announced) {
            std::fprintf(stderr, "%s: waiting for %s of ring '%s'\n", kProgram,
                         waiting_for_return ? "a new writer" : "the writer", ring.c_str());
            announced = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return AttachResult{
        Attached::Stopped, std::nullopt, {}, "interrupted while waiting for ring '" + ring + "'"};
}

Failure failure_of(const FfmpegIoError& error)
{
    const FfmpegIoErrc code = error.code;
    return Failure{code == FfmpegIoErrc::OutputError       ? kExitOutput
                   : code == FfmpegIoErrc::InvalidArgument ? kExitUsage
                   : code == FfmpegIoErrc::Internal        ? kExitFailure
                   : code == FfmpegIoErrc::Interrupted     ? kExitInterrupted
                                                           : kExitInput,
                   error.message};
}

AttachResult attach_with_audio(const RecordOptions& options, AudioTrack& audio)
{
    std::optional<AttachResult> video;
    std::optional<AttachResult> sound;
    const std::int64_t deadline = options.wait_timeout_seconds > 0.0
                                      ? monotonic_ns() + static_cast<std::int64_t>(options.wait_timeout_seconds * 1e9)
                                      : 0;
    bool announced = false;
    while (!video || !sound) {
        for (auto [slot, ring] : {std::pair{&video, &options.ring}, std::pair{&sound, &options.audio_ring}}) {
            if (!*slot) {
                AttachResult tried = attach(options, *ring, std::nullopt, true);
                if (tried.outcome == Attached::Yes) {
                    slot->emplace(std::move(tried));
                } else if (tried.outcome != Attached::NotYet) {
                    return tried;
                }
            }
        }
        if (video && sound) {
            break;
        }
        if (stop_requested()) {
            return AttachResult{Attached::Stopped, std::nullopt, {}, "interrupted while waiting for the rings"};
        }
        if (deadline != 0 && monotonic_ns() > deadline) {
            return AttachResult{Attached::TimedOut, std::nullopt, {},
                                "ring '" + (video ? options.audio_ring : options.ring) +
                                    "' did not appear within --wait-timeout - check that its writer is running"};
        }
        if (!announced) {
            std::fprintf(stderr, "%s: waiting for the writer of rings '%s' and '%s'\n", kProgram,
                         options.ring.c_str(), options.audio_ring.c_str());
            announced = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (auto started = audio.start(std::move(*sound->reader)); !started) {
        const Failure failure = failure_of(started.error());
        return AttachResult{failure.exit_code == kExitInterrupted ? Attached::Stopped : Attached::Refused,
                            std::nullopt, {}, failure.message};
    }
    return std::move(*video);
}

} // namespace zbffmpeg::record
