// SPDX-License-Identifier: MIT
// The child role of the held-frames tests: a reader that holds what it acquires for a while, as an inference
// process does, and checks that it got the newest frame and that nothing it holds changes.
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <string>
#include <thread>

#include "support.h"

namespace zbtest {

namespace {

void report(const std::string& line)
{
    const std::string text = line + "\n";
    if (::write(1, text.data(), text.size()) < 0)
        std::perror("write");
}

FrameSpec spec_of(const ChildArgs& args, std::uint64_t seed, std::uint64_t index)
{
    if (const std::uint64_t fixed = args.get_u64("fixed_payload"); fixed != 0) {
        FrameSpec spec;
        spec.payload_size = fixed;
        spec.info = info_for(index, fixed);
        return spec;
    }
    return spec_for(seed, index, args.get_u64("max_payload", 1000), args.get_u64("max_metadata", 0));
}

} // namespace

/// --child=holding-reader name= seed= hold_ms= holds= [random=1] [newest=1] [fixed_payload=N | max_payload= max_metadata=]
///   [say_holding=N]: a latest reader that keeps up to `holds` frames, each for hold_ms (random: 0..hold_ms and
///   0..holds), verifying every frame when it gets it and again before it lets it go; with newest=1 each frame
///   must be at least as new as the newest one committed when acquire() was called. Prints "holding" once it
///   holds say_holding frames, then "done HOLDS PROBLEMS" after WriterGone; exits 0 when PROBLEMS is 0.
int holding_reader_role(const ChildArgs& args)
{
    const std::string name = args.get("name");
    const std::uint64_t seed = args.get_u64("seed");
    const auto hold = std::chrono::milliseconds(args.get_u64("hold_ms", 100));
    const std::uint64_t max_holds = std::max<std::uint64_t>(1, args.get_u64("holds", 1));
    const bool random = args.get("random") == "1";
    const bool newest = args.get("newest") == "1";
    const std::uint64_t say_holding = args.get_u64("say_holding");
    zerobuffer::ReaderOptions options;
    options.policy = zerobuffer::ReaderPolicy::Latest;
    auto reader = zerobuffer::Reader::attach(name, options);
    if (!reader) {
        std::fprintf(stderr, "[child %d] attach: %s\n", getpid(), describe(reader.error()).c_str());
        return 10;
    }
    report("ready " + std::to_string(getpid()));
    Rng rng(seed ^ static_cast<std::uint64_t>(getpid()));
    struct Held {
        zerobuffer::Frame frame;
        std::uint64_t index;
        std::chrono::steady_clock::time_point until;
    };
    std::deque<Held> held;
    std::uint64_t holds = 0;
    std::uint64_t problems = 0;
    bool said = false;
    const auto complain = [&](const std::string& what) {
        ++problems;
        std::fprintf(stderr, "[child %d] %s\n", getpid(), what.c_str());
    };
    const auto let_go = [&](std::size_t at) {
        const Held& h = held[at];
        if (auto problem = check_frame(h.frame, seed, h.index, spec_of(args, seed, h.index)); !problem.empty())
            complain("frame " + std::to_string(h.index) + " changed while held: " + problem);
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(at));
    };
    while (true) {
        const std::uint64_t limit = random ? rng.range(0, max_holds) : max_holds;
        while (!held.empty() && (held.size() >= std::max<std::uint64_t>(limit, 1) ||
                                 held.front().until <= std::chrono::steady_clock::now())) {
            std::this_thread::sleep_until(held.front().until);
            let_go(random ? static_cast<std::size_t>(rng.range(0, held.size() - 1)) : 0);
        }
        std::uint64_t committed_before = 0;
        if (newest) {
            auto ring = zerobuffer::inspect_ring(name);
            committed_before = ring ? ring->next_sequence : 0;
        }
        auto frame = reader->acquire(std::chrono::seconds(5));
        if (!frame) {
            if (frame.error().code == zerobuffer::Errc::WriterGone)
                break;
            if (frame.error().code == zerobuffer::Errc::Timeout)
                continue;
            complain("acquire: " + describe(frame.error()));
            break;
        }
        const auto index = static_cast<std::uint64_t>(frame->info().pts);
        if (auto problem = check_frame(*frame, seed, index, spec_of(args, seed, index)); !problem.empty())
            complain("frame " + std::to_string(index) + ": " + problem);
        if (newest && frame->sequence() + 1 < committed_before)
            complain("got frame " + std::to_string(frame->sequence()) + " although " +
                     std::to_string(committed_before - 1) + " was committed before the call");
        const auto duration = random ? std::chrono::milliseconds(rng.range(0, static_cast<std::uint64_t>(hold.count())))
                                     : hold;
        held.push_back({std::move(*frame), index, std::chrono::steady_clock::now() + duration});
        ++holds;
        if (!said && say_holding != 0 && held.size() >= say_holding) {
            report("holding");
            said = true;
        }
    }
    while (!held.empty())
        let_go(0);
    report("done " + std::to_string(holds) + " " + std::to_string(problems));
    return problems == 0 ? 0 : 11;
}

} // namespace zbtest
