// SPDX-License-Identifier: MIT
// Roles a cross-process test binary plays when it re-executes itself as "--child=ROLE key=value...".
// Children check everything themselves and report through their exit code (0: all good) and stdout lines.
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "support.h"

namespace zbtest {

namespace {

using zerobuffer::Errc;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;
using zerobuffer::WriterOptions;

// Exit codes of the child roles.
constexpr int kExitCreateFailed = 2;
constexpr int kExitNoReaders = 3;
constexpr int kExitWriteFailed = 4;
constexpr int kExitAttachFailed = 10;
constexpr int kExitBadFrame = 11;
constexpr int kExitWrongCount = 12;
constexpr int kExitDeadline = 13;
constexpr int kExitUnexpectedError = 14;
constexpr int kExitNotBusy = 20;

void say(const std::string& line)
{
    const std::string text = line + "\n";
    // Unbuffered: the parent waits for these lines.
    if (::write(1, text.data(), text.size()) < 0) {
        std::perror("write");
    }
}

void complain(const std::string& line)
{
    std::fprintf(stderr, "[child %d] %s\n", getpid(), line.c_str());
}

/// Blocks until the parent closes our stdin.
void wait_for_stdin_eof()
{
    char byte = 0;
    while (::read(0, &byte, 1) > 0) {
    }
}

WriterOptions writer_options(const ChildArgs& args)
{
    WriterOptions options;
    options.ring_size = args.get_u64("ring_size", 256 * 1024);
    options.max_readers = static_cast<std::uint32_t>(args.get_u64("max_readers", 8));
    options.metadata_capacity = 4096;
    options.reader_timeout = std::chrono::milliseconds(args.get_u64("reader_timeout_ms", 10000));
    const std::string integrity = args.get("integrity", "none");
    if (integrity == "checksum") {
        options.integrity = zerobuffer::Integrity::Checksum;
    }
    return options;
}

/// --child=writer name= seed= frames= (0: until killed) max_payload= max_metadata= readers= counter=1 ready=1
int writer_role(const ChildArgs& args)
{
    const std::string name = args.get("name");
    const std::uint64_t seed = args.get_u64("seed");
    const std::uint64_t frames = args.get_u64("frames");
    const std::size_t max_payload = args.get_u64("max_payload", 1000);
    const std::size_t max_metadata = args.get_u64("max_metadata", 0);
    std::optional<SharedCounters> counters;
    if (args.get("counter") == "1") {
        counters.emplace(3);
    }
    auto writer = Writer::create(name, writer_options(args));
    if (!writer) {
        complain("create: " + describe(writer.error()));
        return kExitCreateFailed;
    }
    if (args.get("ready") == "1") {
        say("ready " + std::to_string(getpid()));
    }
    const auto readers = static_cast<std::uint32_t>(args.get_u64("readers", 0));
    if (readers > 0) {
        if (auto waited = writer->wait_for_readers(readers, std::chrono::seconds(30)); !waited) {
            complain("wait_for_readers: " + describe(waited.error()));
            return kExitNoReaders;
        }
    }
    for (std::uint64_t i = 0; frames == 0 || i < frames; ++i) {
        const FrameSpec spec = spec_for(seed, i, max_payload, max_metadata);
        if (auto written = write_spec(*writer, seed, i, spec); !written) {
            complain("frame " + std::to_string(i) + ": " + describe(written.error()));
            return kExitWriteFailed;
        }
        if (counters) {
            counters->store(0, i + 1); // committed so far
        }
    }
    if (args.get("hold") == "1") {
        wait_for_stdin_eof();
    }
    return 0;
}

/// --child=reader name= seed= expect= (0: any number) start= (index of the first frame, if known)
///   policy=lossless|latest max_payload= max_metadata= hold= (frames to keep at most) slow=1 ready=1 deadline_ms=
/// Reads until WriterGone, checking order, sequence numbers and content. Prints "done READ SKIPPED LAST".
int reader_role(const ChildArgs& args)
{
    const std::string name = args.get("name");
    const std::uint64_t seed = args.get_u64("seed");
    const std::uint64_t expect = args.get_u64("expect");
    const std::size_t max_payload = args.get_u64("max_payload", 1000);
    const std::size_t max_metadata = args.get_u64("max_metadata", 0);
    const std::size_t hold = args.get_u64("hold", 0);
    const bool slow = args.get("slow") == "1";
    const bool latest = args.get("policy") == "latest";
    const bool has_start = !args.get("start").empty(); // the first frame must be this one
    const std::uint64_t start = args.get_u64("start");
    ReaderOptions options;
    options.policy = latest ? zerobuffer::ReaderPolicy::Latest : zerobuffer::ReaderPolicy::Lossless;
    options.max_held = 64;
    auto reader = Reader::attach(name, options);
    if (!reader) {
        complain("attach: " + describe(reader.error()));
        return kExitAttachFailed;
    }
    if (args.get("ready") == "1") {
        say("ready " + std::to_string(getpid()));
    }
    Rng rng(seed ^ static_cast<std::uint64_t>(getpid()));
    std::vector<zerobuffer::Frame> held;
    std::uint64_t read = 0;
    std::uint64_t skipped_after_first = 0;
    std::optional<std::uint64_t> first_index;
    std::optional<std::uint64_t> first_sequence;
    std::uint64_t last_index = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(args.get_u64("deadline_ms", 120000));
    while (true) {
        if (std::chrono::steady_clock::now() > deadline) {
            complain("deadline passed after " + std::to_string(read) + " frames");
            return kExitDeadline;
        }
        auto frame = reader->acquire(std::chrono::nanoseconds(0));
        if (!frame && frame.error().code == Errc::Timeout) {
            // About to wait: give back held frames first, or the writer could be waiting for exactly those.
            held.clear();
            frame = reader->acquire(std::chrono::milliseconds(200));
        }
        if (!frame) {
            if (frame.error().code == Errc::Timeout) {
                continue;
            }
            if (frame.error().code == Errc::WriterGone) {
                break;
            }
            complain("acquire after " + std::to_string(read) + " frames: " + describe(frame.error()));
            return kExitUnexpectedError;
        }
        const auto index = static_cast<std::uint64_t>(frame->info().pts);
        const std::uint64_t expected_index = first_index ? *first_index + read : start;
        if ((!latest && (first_index || has_start) && index != expected_index)) {
            complain("lossless reader got frame " + std::to_string(index) + ", expected " +
                     std::to_string(expected_index));
            return kExitBadFrame;
        }
        if (first_index && index <= last_index) {
            complain("frame " + std::to_string(index) + " after " + std::to_string(last_index));
            return kExitBadFrame;
        }
        if (!first_index) {
            first_index = index;
            first_sequence = frame->sequence() - index;
        } else {
            if (frame->frames_skipped() != index - last_index - 1) {
                complain("frame " + std::to_string(index) + " after " + std::to_string(last_index) +
                         " reports frames_skipped " + std::to_string(frame->frames_skipped()));
                return kExitBadFrame;
            }
            skipped_after_first += frame->frames_skipped();
        }
        if (frame->sequence() != *first_sequence + index) {
            complain("frame " + std::to_string(index) + " has sequence " + std::to_string(frame->sequence()));
            return kExitBadFrame;
        }
        const FrameSpec spec = spec_for(seed, index, max_payload, max_metadata);
        if (auto problem = check_frame(*frame, seed, index, spec); !problem.empty()) {
            complain(problem);
            return kExitBadFrame;
        }
        ++read;
        last_index = index;
        if (hold > 0) {
            held.push_back(std::move(*frame));
            if (held.size() > rng.range(0, hold)) {
                // Release a random one of the held frames, not necessarily the oldest.
                held.erase(held.begin() + static_cast<std::ptrdiff_t>(rng.range(0, held.size() - 1)));
            }
        }
        if (slow && rng.range(0, 30) == 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(rng.range(100, 2000)));
        }
    }
    held.clear();
    if (expect != 0) {
        if (!latest && read + (first_index ? *first_index : 0) != expect) {
            complain("read " + std::to_string(read) + " frames, expected " + std::to_string(expect));
            return kExitWrongCount;
        }
        if (latest && (!first_index || last_index != expect - 1)) {
            complain("latest reader did not end on the last frame " + std::to_string(expect - 1) + " (got " +
                     std::to_string(last_index) + ")");
            return kExitWrongCount;
        }
    }
    if (first_index && read + skipped_after_first != last_index - *first_index + 1) {
        complain("read " + std::to_string(read) + " + skipped " + std::to_string(skipped_after_first) +
                 " does not cover frames " + std::to_string(*first_index) + ".." + std::to_string(last_index));
        return kExitWrongCount;
    }
    if (latest && reader->counters().frames_skipped < skipped_after_first) {
        complain("frames_skipped counter is 0 although frames were skipped");
        return kExitWrongCount;
    }
    say("done " + std::to_string(read) + " " + std::to_string(skipped_after_first) + " " + std::to_string(last_index));
    return 0;
}

/// --child=hold-writer name= [ring options]: creates the ring, says ready, waits for stdin EOF.
int hold_writer_role(const ChildArgs& args)
{
    auto writer = Writer::create(args.get("name"), writer_options(args));
    if (!writer) {
        complain("create: " + describe(writer.error()));
        return kExitCreateFailed;
    }
    say("ready " + std::to_string(getpid()));
    wait_for_stdin_eof();
    return 0;
}

/// --child=hold-reader name=: attaches, says ready, waits for stdin EOF.
int hold_reader_role(const ChildArgs& args)
{
    auto reader = Reader::attach(args.get("name"));
    if (!reader) {
        complain("attach: " + describe(reader.error()));
        return kExitAttachFailed;
    }
    say("ready " + std::to_string(getpid()) + " slot " + std::to_string(reader->slot_index()));
    wait_for_stdin_eof();
    return 0;
}

/// --child=expect-writer-busy name= pid=: Writer::create must fail with Busy naming that pid.
int expect_writer_busy_role(const ChildArgs& args)
{
    auto writer = Writer::create(args.get("name"), writer_options(args));
    if (writer) {
        complain("second writer was accepted");
        return kExitNotBusy;
    }
    if (writer.error().code != Errc::Busy) {
        complain("expected Busy, got " + describe(writer.error()));
        return kExitNotBusy;
    }
    if (writer.error().message.find(args.get("pid")) == std::string::npos) {
        complain("Busy message does not name pid " + args.get("pid") + ": " + writer.error().message);
        return kExitNotBusy;
    }
    return 0;
}

/// --child=expect-reader-busy name=: Reader::attach must fail with Busy.
int expect_reader_busy_role(const ChildArgs& args)
{
    auto reader = Reader::attach(args.get("name"));
    if (reader) {
        complain("reader beyond max_readers was accepted");
        return kExitNotBusy;
    }
    if (reader.error().code != Errc::Busy) {
        complain("expected Busy, got " + describe(reader.error()));
        return kExitNotBusy;
    }
    return 0;
}

} // namespace

int run_child_role(int argc, char** argv)
{
    const ChildArgs args(argc, argv);
    if (args.role == "writer") {
        return writer_role(args);
    }
    if (args.role == "reader") {
        return reader_role(args);
    }
    if (args.role == "hold-writer") {
        return hold_writer_role(args);
    }
    if (args.role == "hold-reader") {
        return hold_reader_role(args);
    }
    if (args.role == "holding-reader") {
        return holding_reader_role(args);
    }
    if (args.role == "expect-writer-busy") {
        return expect_writer_busy_role(args);
    }
    if (args.role == "expect-reader-busy") {
        return expect_reader_busy_role(args);
    }
    complain("unknown child role '" + args.role + "'");
    return 100;
}

} // namespace zbtest
