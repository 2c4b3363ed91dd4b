// SPDX-License-Identifier: MIT
// The chaos reader: attaches (again after every writer death), verifies every frame it gets, holds a few, and on
// the driver's command stops at a kill point (holding frames, lagging, holding the first frame of a new format).
// With attach_loop=1 it only attaches and detaches, so that a kill lands mid-attach.
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <optional>
#include <thread>

#include "chaos.h"
#include "support.h"

namespace zbchaos {

namespace {

using namespace std::chrono_literals;
using zerobuffer::Errc;

[[noreturn]] void fail(const std::string& what, const zerobuffer::Error& error)
{
    worker_failed("reader", what, error);
}

class ChaosReader {
public:
    ChaosReader(zbtest::SharedCounters& shared, const zbtest::ChildArgs& args)
        : shared_(shared), name_(args.get("name")), hold_(args.get_u64("hold", 0)),
          rng_(args.get_u64("seed", 1))
    {
        options_.policy = args.get("policy") == "latest" ? zerobuffer::ReaderPolicy::Latest
                                                          : zerobuffer::ReaderPolicy::Lossless;
        options_.max_lag_frames = args.get_u64("max_lag", 0);
        options_.wait_mode = args.get("wait") == "sleep" ? zerobuffer::WaitMode::Sleep : zerobuffer::WaitMode::Cadence;
    }

    /// Attaches to the ring of a live writer; nullopt when told to quit first.
    std::optional<zerobuffer::Reader> attach()
    {
        while (shared_.load(kCommand) != kQuit) {
            auto reader = zerobuffer::Reader::attach(name_, options_);
            if (reader && reader->writer_alive()) {
                return std::move(*reader);
            }
            if (!reader && reader.error().code != Errc::NotFound && reader.error().code != Errc::Busy &&
                reader.error().code != Errc::VersionMismatch) {
                fail("attach to '" + name_ + "'", reader.error());
            }
            // NotFound / a dead writer's ring: its successor is on its way. Busy: slots of dead readers not yet
            // reclaimed. VersionMismatch: a ring caught half-created is refused as such.
            std::this_thread::sleep_for(2ms);
        }
        return std::nullopt;
    }

    int attach_loop()
    {
        bool said = false;
        while (shared_.load(kCommand) != kQuit) {
            auto reader = attach();
            if (!said) {
                say("ready");
                said = true;
            }
            if (reader && rng_.range(0, 1) == 1) {
                (void)reader->acquire(0ns);
            }
        }
        return 0;
    }

    int run()
    {
        bool said = false;
        while (auto reader = attach()) {
            if (!said) {
                say("ready");
                said = true;
            }
            if (!read_until_gone(*reader)) {
                return 0;
            }
        }
        return 0;
    }

private:
    /// Reads and verifies until WriterGone (true) or kQuit (false).
    bool read_until_gone(zerobuffer::Reader& reader)
    {
        Expectation expect;
        expect.lossless = options_.policy == zerobuffer::ReaderPolicy::Lossless;
        std::deque<zerobuffer::Frame> held;
        std::uint64_t next = 0;
        while (true) {
            const std::uint64_t command = shared_.load(kCommand);
            if (command == kQuit) {
                return false;
            }
            if (command == kParkLagging) {
                park("lagging");
            }
            auto frame = reader.acquire(0ns);
            if (!frame && frame.error().code == Errc::Timeout) {
                // Never wait while holding frames the writer may be waiting for.
                if (command != kParkHolding && command != kParkFormat) {
                    held.clear();
                }
                frame = reader.acquire(100ms);
            }
            if (!frame) {
                const Errc code = frame.error().code;
                if (code == Errc::Timeout) {
                    continue;
                }
                if (code == Errc::WriterGone) {
                    shared_.store(kGoneSeed, expect.seed);
                    shared_.store(kGoneNext, next);
                    shared_.store(kGoneTime, static_cast<std::uint64_t>(now_ns()));
                    return true;
                }
                if (code == Errc::ChecksumMismatch) {
                    std::fprintf(stderr, "zb-chaos reader: %s\n", zbtest::describe(frame.error()).c_str());
                    shared_.store(kCorrupted, shared_.load(kCorrupted) + 1);
                    continue;
                }
                fail("acquire", frame.error());
            }
            if (const std::string problem = verify_frame(*frame, reader.stream_metadata(), expect); !problem.empty()) {
                std::fprintf(stderr, "zb-chaos reader %d: CORRUPTED %s\n", static_cast<int>(getpid()), problem.c_str());
                shared_.store(kCorrupted, shared_.load(kCorrupted) + 1);
                continue;
            }
            next = frame->sequence() + 1;
            shared_.store(kSeed, expect.seed);
            shared_.store(kProgress, shared_.load(kProgress) + 1);
            shared_.store(kProgressTime, static_cast<std::uint64_t>(now_ns()));
            if (command == kParkFormat && frame->format_changed() && frame->format_generation() > 1) {
                held.push_back(std::move(*frame));
                park("format");
            }
            if (command == kParkHolding) {
                held.push_back(std::move(*frame));
                if (held.size() >= 1 + expect.seed % 3 || held.size() >= reader.max_held()) {
                    park("holding " + std::to_string(held.size()));
                }
                continue;
            }
            if (hold_ > 0) {
                held.push_back(std::move(*frame));
                while (held.size() > hold_) {
                    held.erase(held.begin() + static_cast<std::ptrdiff_t>(rng_.range(0, held.size() - 1)));
                }
            }
        }
    }

    zbtest::SharedCounters& shared_;
    std::string name_;
    std::size_t hold_;
    zbtest::Rng rng_;
    zerobuffer::ReaderOptions options_;
};

} // namespace

int reader_role(int argc, char** argv)
{
    const zbtest::ChildArgs args(argc, argv);
    zbtest::SharedCounters shared(3);
    ChaosReader reader(shared, args);
    return args.get("attach_loop") == "1" ? reader.attach_loop() : reader.run();
}

} // namespace zbchaos
