// SPDX-License-Identifier: MIT
// zb-ingest's input: opening any FFmpeg input (file, URL, device, lavfi) and finding its video stream.
#include "input.h"

namespace zbffmpeg::ingest {

std::string open_hint(int av_error, std::string_view input)
{
    if (av_error == AVERROR(ENOENT)) {
        return "check the path";
    }
    if (av_error == AVERROR(ECONNREFUSED) || av_error == AVERROR(ETIMEDOUT) || av_error == AVERROR_EXIT ||
        av_error == AVERROR(EHOSTUNREACH) || av_error == AVERROR(ENETUNREACH)) {
        return "check the URL and that the server is running and reachable (--timeout sets how long to try)";
    }
    if (av_error == AVERROR_INVALIDDATA) {
        return "the file is corrupt, truncated or not a media file FFmpeg can read";
    }
    if (av_error == AVERROR_PROTOCOL_NOT_FOUND) {
        return "this FFmpeg has no protocol for that URL scheme ('ffmpeg -protocols' lists them)";
    }
    if (input.find("://") != std::string_view::npos) {
        return "check the URL";
    }
    return "check that it exists and is a media file or device FFmpeg can read";
}

Result<Input> open_input(const IngestOptions& options, InterruptState& interrupt)
{
    const AVInputFormat* input_format = nullptr;
    if (!options.format.empty()) {
        input_format = av_find_input_format(options.format.c_str());
        if (input_format == nullptr) {
            return make_error(FfmpegIoErrc::InvalidArgument,
                              "unknown input format '" + options.format +
                                  "': 'ffmpeg -formats' and 'ffmpeg -devices' list the ones this FFmpeg has");
        }
    }
    Dictionary dictionary;
    for (const auto& [key, value] : options.input_options) {
        dictionary.set(key.c_str(), value.c_str());
    }
    if (options.timeout_seconds > 0.0) {
        // Network protocols stop waiting for data after this long (microseconds), so a dead stream ends.
        const auto microseconds = static_cast<long long>(options.timeout_seconds * 1e6);
        av_dict_set_int(dictionary.address(), "rw_timeout", microseconds, AV_DICT_DONT_OVERWRITE);
        interrupt.deadline_ns = monotonic_ns() + static_cast<std::int64_t>(options.timeout_seconds * 1e9);
    }
    AVFormatContext* raw_context = avformat_alloc_context();
    if (raw_context == nullptr) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    raw_context->interrupt_callback = AVIOInterruptCB{&InterruptState::callback, &interrupt};
    const int opened = avformat_open_input(&raw_context, options.input.c_str(), input_format, dictionary.address());
    if (opened < 0) { // avformat_open_input frees the context on failure.
        if (stop_requested()) {
            return make_error(FfmpegIoErrc::Interrupted, "interrupted while opening '" + options.input + "'");
        }
        const bool timed_out = opened == AVERROR_EXIT;
        return make_error(FfmpegIoErrc::InputUnavailable,
                          "cannot open input '" + options.input + "': " +
                              (timed_out ? std::string("no answer within the timeout") : av_error_text(opened)) +
                              " - " + open_hint(opened, options.input));
    }
    Input input;
    input.context.reset(raw_context);
    if (const AVDictionaryEntry* unused = dictionary.first_left();
        unused != nullptr && unused->key != std::string("rw_timeout")) {
        return make_error(FfmpegIoErrc::InvalidArgument, std::string("input option '") + unused->key +
                                                             "' is not known to the " + input.context->iformat->name +
                                                             " demuxer or its protocol: check the name");
    }
    if (const int found = avformat_find_stream_info(input.context.get(), nullptr); found < 0) {
        return make_error(FfmpegIoErrc::InputInvalid, "cannot read stream information from '" + options.input +
                                                          "': " + av_error_text(found) + " - " +
                                                          open_hint(found, options.input));
    }
    interrupt.deadline_ns = 0; // Reads are bounded by rw_timeout from now on; the callback only checks signals.
    input.stream_index = av_find_best_stream(input.context.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (input.stream_index < 0) {
        return make_error(FfmpegIoErrc::InputInvalid,
                          "input '" + options.input + "' has no video stream (only video is ingested)");
    }
    if (!options.audio_ring.empty()) {
        input.audio_stream_index =
            av_find_best_stream(input.context.get(), AVMEDIA_TYPE_AUDIO, -1, input.stream_index, nullptr, 0);
        if (input.audio_stream_index < 0) {
            // An error, not a warning: a missing audio ring would leave its reader (zb-record --audio-ring) waiting.
            return make_error(FfmpegIoErrc::InputInvalid, "input '" + options.input +
                                                              "' has no audio stream for --audio-ring '" +
                                                              options.audio_ring + "': drop --audio-ring");
        }
    }
    return input;
}

} // namespace zbffmpeg::ingest
