// SPDX-License-Identifier: MIT
// zb-relay-peer's ring modes: write the known stream into a ring, and read a ring back checking every frame.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <thread>

#include <signal.h>

#include <zerobuffer/reader.h>
#include <zerobuffer/writer.h>

#include "peer.h"

namespace zerobuffer::relay::test {

int run_writer(const Options& options)
{
    WriterOptions writer_options;
    writer_options.ring_size = options.ring_size;
    auto writer = Writer::create(options.target, writer_options);
    if (!writer)
        return fail("cannot create ring: " + writer.error().message);
    if (auto set = writer->set_stream_metadata(to_json(format_for(options, 0))); !set)
        return fail(set.error().message);
    if (options.wait_readers > 0) {
        if (auto ok = writer->wait_for_readers(options.wait_readers, std::chrono::seconds(30)); !ok)
            return fail("no reader came: " + ok.error().message);
    }
    // --eos-on-sigterm: SIGTERM stays pending (blocked) and ends the loop, so a run of unknown length (chaos) ends
    // with end-of-stream. Checked once per frame; the readers see every frame written before it.
    sigset_t terminate;
    sigemptyset(&terminate);
    sigaddset(&terminate, SIGTERM);
    if (options.eos_on_sigterm)
        pthread_sigmask(SIG_BLOCK, &terminate, nullptr);
    const auto terminated = [&] {
        sigset_t pending;
        return options.eos_on_sigterm && sigpending(&pending) == 0 && sigismember(&pending, SIGTERM) == 1;
    };
    auto start = Clock::now();
    std::uint64_t written = 0;
    for (std::uint64_t index = 0; index < options.frames && !terminated(); ++index, ++written) {
        if (std::find(options.pause_at.begin(), options.pause_at.end(), index) != options.pause_at.end()) {
            // A known point in the stream (e.g. mid-GOP) at which a test starts or restarts a receiver.
            std::printf("paused at %llu\n", static_cast<unsigned long long>(index));
            std::fflush(stdout);
            std::this_thread::sleep_for(std::chrono::milliseconds(options.pause_ms));
            start += std::chrono::milliseconds(options.pause_ms);
        }
        if (index == options.format_change_at) {
            if (auto set = writer->set_stream_metadata(to_json(format_for(options, index))); !set)
                return fail(set.error().message);
        }
        if (options.fps > 0)
            std::this_thread::sleep_until(start + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                                      static_cast<double>(index) * 1e9 / options.fps)));
        const std::string blob = blob_for(index);
        const std::size_t size = payload_size_for(options, index);
        Result<FrameReservation> reservation = make_error(Errc::Timeout, "");
        for (int attempt = 0; attempt < 12; ++attempt) {
            reservation = writer->reserve(size, blob.size(), std::chrono::seconds(5));
            if (reservation || reservation.error().code != Errc::Timeout)
                break;
        }
        if (!reservation)
            return fail("reserve frame " + std::to_string(index) + ": " + reservation.error().message);
        fill_payload(reservation->payload(), index, options.encoded, is_keyframe(options, index));
        std::memcpy(reservation->metadata().data(), blob.data(), blob.size());
        if (auto ok = writer->commit(*reservation, info_for(options, index)); !ok)
            return fail(ok.error().message);
    }
    if (!options.no_eos) {
        FrameInfo eos;
        eos.flags = kFrameEndOfStream;
        for (int attempt = 0; attempt < 12; ++attempt) {
            auto reservation = writer->reserve(0, 0, std::chrono::seconds(5));
            if (reservation) {
                if (auto ok = writer->commit(*reservation, eos); !ok)
                    return fail(ok.error().message);
                break;
            }
        }
    }
    std::printf("wrote %llu frames to ring %s\n", static_cast<unsigned long long>(written),
                options.target.c_str());
    return 0;
}

namespace {

struct ReadReport {
    std::uint64_t frames = 0;
    std::uint64_t missing = 0;
    std::uint64_t discontinuities = 0;
    std::uint64_t mismatches = 0;
    std::uint64_t reattached = 0;
    std::int64_t first = -1;
    std::int64_t last = -1;
    bool eos = false;
};

void mismatch(ReadReport& report, const std::string& what)
{
    if (report.mismatches < 20)
        std::fprintf(stderr, "zb-relay-peer: mismatch: %s\n", what.c_str());
    ++report.mismatches;
}

/// Checks one frame against what the writer wrote for its index.
void check_frame(const Options& options, const Frame& frame, const Reader& reader, bool check_format,
                 ReadReport& report, bool after_reattach)
{
    const FrameInfo& info = frame.info();
    const std::uint64_t index = info.offset;
    if (index >= options.frames) {
        mismatch(report, "frame offset " + std::to_string(index) + " is out of range");
        return;
    }
    const std::string at = "frame " + std::to_string(index) + ": ";
    const std::int64_t previous = report.last;
    const bool gap = static_cast<std::int64_t>(index) != previous + 1;
    if (gap) {
        if (static_cast<std::int64_t>(index) <= previous)
            mismatch(report, at + "out of order after " + std::to_string(previous));
        else
            report.missing += index - static_cast<std::uint64_t>(previous + 1);
        if (!options.allow_gaps)
            mismatch(report, at + "frames missing before it");
    }
    const bool discontinuity = (info.flags & kFrameDiscontinuity) != 0;
    if (discontinuity)
        ++report.discontinuities;
    if (gap && !discontinuity)
        mismatch(report, at + "frames are missing before it but it lacks kFrameDiscontinuity");
    // An encoded stream must resume where a decoder can start again.
    if (gap && options.encoded && (info.flags & (kFrameKeyframe | kFrameHeader)) == 0)
        mismatch(report, at + "an encoded stream resumed after a gap without a keyframe");
    // A relay that restarted marks its first frame conservatively, even when nothing was lost.
    if (!gap && discontinuity && !after_reattach && !options.allow_gaps)
        mismatch(report, at + "kFrameDiscontinuity without a gap");
    const FrameInfo expected = info_for(options, index);
    if (info.pts != expected.pts || info.dts != expected.dts || info.duration != expected.duration ||
        info.offset_end != expected.offset_end || (info.flags & ~std::uint32_t{kFrameDiscontinuity}) != expected.flags)
        mismatch(report, at + "FrameInfo differs (flags " + std::to_string(info.flags) + ", expected " +
                             std::to_string(expected.flags) + ")");
    const std::string blob = blob_for(index);
    if (frame.metadata().size() != blob.size() || std::memcmp(frame.metadata().data(), blob.data(), blob.size()) != 0)
        mismatch(report, at + "metadata blob differs");
    if (frame.payload().size() != payload_size_for(options, index))
        mismatch(report, at + "payload of " + std::to_string(frame.payload().size()) + " bytes, expected " +
                             std::to_string(payload_size_for(options, index)));
    else if (!payload_matches(options, frame.payload(), index))
        mismatch(report, at + "payload bytes differ");
    if (check_format) {
        auto format = parse_stream_format(reader.stream_metadata());
        if (!format)
            mismatch(report, at + "stream metadata does not parse: " + format.error().message);
        else if (!(*format == format_for(options, index)))
            mismatch(report, at + "stream metadata differs: " + reader.stream_metadata());
    }
    report.last = static_cast<std::int64_t>(index);
    if (report.first < 0)
        report.first = static_cast<std::int64_t>(index);
    ++report.frames;
}

/// When a frame came, in wall-clock time: a test compares it with the moment it changed the network.
void print_arrival(const Frame& frame)
{
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count();
    std::printf("arrival: %llu %lld.%06lld %d\n", static_cast<unsigned long long>(frame.info().offset),
                static_cast<long long>(micros / 1'000'000), static_cast<long long>(micros % 1'000'000),
                (frame.info().flags & kFrameDiscontinuity) != 0 ? 1 : 0);
    std::fflush(stdout);
}

} // namespace

int run_reader(const Options& options)
{
    ReadReport report;
    const auto deadline = Clock::now() + std::chrono::seconds(options.timeout_s);
    bool after_reattach = false;
    while (Clock::now() < deadline && !report.eos) {
        auto reader = Reader::attach(options.target);
        if (!reader) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        bool first = true;
        while (Clock::now() < deadline) {
            auto frame = reader->acquire(std::chrono::milliseconds(200));
            if (!frame) {
                if (frame.error().code == Errc::Timeout)
                    continue;
                if (frame.error().code != Errc::WriterGone)
                    mismatch(report, "acquire: " + frame.error().message);
                break;
            }
            if ((frame->info().flags & kFrameEndOfStream) != 0) {
                report.eos = true;
                break;
            }
            check_frame(options, *frame, *reader, first || frame->format_changed(), report, after_reattach);
            if (options.print_arrivals)
                print_arrival(*frame);
            after_reattach = false;
            first = false;
            frame->release();
            if (options.slow_ms > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(options.slow_ms));
        }
        if (report.eos || !options.reattach)
            break;
        ++report.reattached;
        after_reattach = true; // The writer of our ring restarted: the next frame may carry the gap mark.
    }
    std::printf("frames: %llu\nfirst: %lld\nlast: %lld\nmissing: %llu\ndiscontinuities: %llu\nmismatches: %llu\n"
                "reattached: %llu\neos: %s\n",
                static_cast<unsigned long long>(report.frames), static_cast<long long>(report.first),
                static_cast<long long>(report.last), static_cast<unsigned long long>(report.missing),
                static_cast<unsigned long long>(report.discontinuities),
                static_cast<unsigned long long>(report.mismatches), static_cast<unsigned long long>(report.reattached),
                report.eos ? "yes" : "no");
    if (report.mismatches != 0)
        return 1;
    if (!report.eos)
        return fail("no end-of-stream within " + std::to_string(options.timeout_s) + " s");
    if (!options.allow_gaps && report.frames != options.frames)
        return fail("got " + std::to_string(report.frames) + " frames, expected " + std::to_string(options.frames));
    return 0;
}

} // namespace zerobuffer::relay::test
