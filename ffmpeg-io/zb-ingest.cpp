// SPDX-License-Identifier: MIT
// zb-ingest: reads any FFmpeg input (file, URL, device, lavfi source) and writes its video into a ZeroBuffer ring.
//
// The parts, in ingest/: options (command line), input (opening the input), ring_output (the ring), decode_sink
// (decode mode), passthrough_sink (--no-decode) and audio_sink (--audio-ring). This file is the main loop: read
// packets, feed the mode's sink, end the stream cleanly whatever happened.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "audio_sink.h"
#include "decode_sink.h"
#include "error.h"
#include "input.h"
#include "options.h"
#include "passthrough_sink.h"
#include "program.h"
#include "ring_output.h"
#include "sink.h"

extern "C" {
#ifdef ZB_HAVE_AVDEVICE
#include <libavdevice/avdevice.h>
#endif
}

namespace zbffmpeg::ingest {
namespace {

/// Default size of the --audio-ring ring: seconds of decoded 48 kHz 8-channel float audio.
constexpr std::size_t kAudioRingSize = std::size_t{4} << 20;

Failure failure_from(const FfmpegIoError& error)
{
    switch (error.code) {
    case FfmpegIoErrc::InvalidArgument: return Failure{kExitUsage, error.message};
    case FfmpegIoErrc::InputUnavailable:
    case FfmpegIoErrc::InputInvalid:
    case FfmpegIoErrc::Unsupported: return Failure{kExitInput, error.message};
    case FfmpegIoErrc::RingError:
    case FfmpegIoErrc::OutputError: return Failure{kExitOutput, error.message};
    case FfmpegIoErrc::Interrupted: return Failure{kExitOk, error.message};
    case FfmpegIoErrc::Internal: return Failure{kExitFailure, error.message};
    }
    return Failure{kExitFailure, error.message};
}

/// The audio ring's side (--audio-ring): its own ring, clock and sink.
struct AudioPart {
    Context& context;
    Sink& sink;
};

/// Reads packets until the end (or the limit, or a signal) and feeds the sink (and the audio's).
Result<void> pump(const IngestOptions& options, Input& input, Context& context, Sink& sink, AudioPart* audio)
{
    PacketPtr packet = make_packet();
    if (!packet) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    int consecutive_errors = 0;
    bool any_packet_since_start = false;
    while (!stop_requested() && !context.limit_reached()) {
        const int read = av_read_frame(input.context.get(), packet.get());
        if (read == AVERROR(EAGAIN)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        if (read == AVERROR_EOF || (read < 0 && avio_feof(input.context->pb) != 0 && read != AVERROR_INVALIDDATA)) {
            if (auto drained = sink.send(nullptr); !drained) {
                return drained;
            }
            if (audio != nullptr) {
                if (auto drained = audio->sink.send(nullptr); !drained) {
                    return drained;
                }
            }
            if (!options.loop || !any_packet_since_start || context.limit_reached()) {
                return {};
            }
            // Loop: rewind, reset the decoder, and continue the timestamps after the last frame.
            if (const int sought = avformat_seek_file(input.context.get(), -1, INT64_MIN, 0, 0, 0); sought < 0) {
                return make_error(FfmpegIoErrc::InputInvalid, "cannot loop: seeking to the start failed (" +
                                                                  av_error_text(sought) + "); live inputs cannot loop");
            }
            sink.restart();
            context.clock.looped();
            context.discontinuity = true;
            if (audio != nullptr) {
                audio->sink.restart();
                audio->context.clock.looped_by(context.clock.loop_offset_ns());
                audio->context.discontinuity = true;
            }
            any_packet_since_start = false;
            continue;
        }
        if (read < 0) {
            if (stop_requested()) {
                break;
            }
            if (read == AVERROR_INVALIDDATA && ++consecutive_errors < 100) {
                context.report_corrupt("packet", zerobuffer::kNoTimestamp, read);
                continue;
            }
            return make_error(FfmpegIoErrc::InputInvalid, "reading '" + options.input +
                                                              "' failed: " + av_error_text(read) + " - " +
                                                              open_hint(read, options.input));
        }
        consecutive_errors = 0;
        if (packet->stream_index == input.stream_index) {
            any_packet_since_start = true;
            auto sent = sink.send(packet.get());
            av_packet_unref(packet.get());
            if (!sent) {
                return sent;
            }
            context.progress.update(context.ring.frames(), context.ring.dropped(), context.clock.media_time_ns());
        } else if (audio != nullptr && packet->stream_index == input.audio_stream_index) {
            auto sent = audio->sink.send(packet.get());
            av_packet_unref(packet.get());
            if (!sent) {
                return sent;
            }
        } else {
            av_packet_unref(packet.get());
        }
    }
    return {};
}

int run(const IngestOptions& options)
{
    av_log_set_level(options.verbose ? AV_LOG_INFO : AV_LOG_ERROR);
#ifdef ZB_HAVE_AVDEVICE
    avdevice_register_all();
#endif
    avformat_network_init();
    install_stop_handlers();

    InterruptState interrupt;
    auto input = open_input(options, interrupt);
    if (!input) {
        const Failure failure = failure_from(input.error());
        std::fprintf(stderr, failure.exit_code == kExitOk ? "%s: %s\n" : "%s: error: %s\n", kProgram,
                     failure.message.c_str());
        return failure.exit_code;
    }
    const AVStream& stream = *input->context->streams[input->stream_index];
    const AVRational framerate =
        av_guess_frame_rate(input->context.get(), input->context->streams[input->stream_index], nullptr);

    RingOutput ring(options, options.ring);
    Clock clock(stream.time_base, stream.start_time, options.realtime);
    Progress progress(kProgram);
    Context context{options, ring, clock, progress};
    auto sink = options.decode ? make_decode_sink(context, stream, framerate)
                               : make_passthrough_sink(context, stream, framerate);

    // --audio-ring: audio frames are small, so its ring is too unless --ring-size says otherwise.
    IngestOptions audio_options = options;
    if (!options.ring_size_given) {
        audio_options.writer.ring_size = kAudioRingSize;
    }
    RingOutput audio_ring(audio_options, options.audio_ring);
    const bool with_audio = input->audio_stream_index >= 0;
    const AVStream* audio_stream = with_audio ? input->context->streams[input->audio_stream_index] : nullptr;
    Clock audio_clock(with_audio ? audio_stream->time_base : AVRational{1, 1},
                      with_audio ? audio_stream->start_time : AV_NOPTS_VALUE, false);
    Context audio_context{audio_options, audio_ring, audio_clock, progress};
    Result<std::unique_ptr<Sink>> audio_sink = std::unique_ptr<Sink>();
    if (with_audio && sink) {
        audio_sink = make_audio_sink(audio_context, *audio_stream, options.audio_decode);
    }
    std::optional<AudioPart> audio;
    if (audio_sink && *audio_sink) {
        audio.emplace(AudioPart{audio_context, **audio_sink});
    }
    Result<void> result = !sink         ? tl::unexpected(sink.error())
                          : !audio_sink ? tl::unexpected(audio_sink.error())
                                        : pump(options, *input, context, **sink, audio ? &*audio : nullptr);

    // Whatever happened, readers get a clean end of stream. Open reservations of this thread were aborted by their
    // destructors; the decoder's pictures go with the decoder (the sink), after this.
    const zerobuffer::WriterCounters counters = ring.counters(); // The video frames only, not end-of-stream.
    ring.end_of_stream();
    audio_ring.end_of_stream();
    const std::string extra = std::to_string(context.corrupt) + " corrupt packets or frames, " +
                              std::to_string(counters.frames_in_place) + " in place, " +
                              std::to_string(counters.frames_copied) + " copied" +
                              (stop_requested() ? ", stopped by signal" : "");
    if (ring.created() || result) {
        progress.summary(ring.frames(), ring.dropped(), clock.media_time_ns(), extra);
        if (audio_ring.created()) {
            std::fprintf(stderr, "%s: audio: %llu frames (%.3f s) into ring '%s', %llu dropped, %llu corrupt\n",
                         kProgram, static_cast<unsigned long long>(audio_ring.frames()),
                         static_cast<double>(audio_clock.media_time_ns()) / 1e9, options.audio_ring.c_str(),
                         static_cast<unsigned long long>(audio_ring.dropped()),
                         static_cast<unsigned long long>(audio_context.corrupt));
        }
        if (const std::string note = sink ? (*sink)->summary_note(options.verbose) : std::string(); !note.empty()) {
            std::fprintf(stderr, "%s: %s\n", kProgram, note.c_str());
        }
    }
    if (!result) {
        const Failure failure = failure_from(result.error());
        std::fprintf(stderr, failure.exit_code == kExitOk ? "%s: %s\n" : "%s: error: %s\n", kProgram,
                     failure.message.c_str());
        return failure.exit_code;
    }
    if (!ring.published() && !stop_requested()) {
        std::fprintf(stderr, "%s: error: input '%s' gave no video frame - check that it is not empty or corrupt\n",
                     kProgram, options.input.c_str());
        return kExitInput;
    }
    return kExitOk;
}

} // namespace
} // namespace zbffmpeg::ingest

int main(int argc, char** argv)
{
    zbffmpeg::ingest::IngestOptions options;
    if (auto exit_code = zbffmpeg::ingest::parse_arguments(argc, argv, options)) {
        return *exit_code;
    }
    return zbffmpeg::ingest::run(options);
}
