// SPDX-License-Identifier: MIT
// The ring v2 guarantee across processes: frames latest readers hold, however long, never make the writer wait
// while there is room; many readers holding at random never corrupt a frame nor deadlock the writer; a reader
// killed while it holds frames gives them back within the liveness bound.
#include <signal.h>

#include <sstream>
#include <thread>

#include "support.h"
#include "writer_core.h"

namespace {

using namespace zbtest;
using zerobuffer::Writer;

class HeldFrames : public RingTest {};

std::string arg(const std::string& key, std::uint64_t value) { return key + "=" + std::to_string(value); }

void expect_line(Child& child, const std::string& word, const std::string& who)
{
    auto line = child.read_line(bound(15000ms));
    ASSERT_TRUE(line.has_value()) << who << " (pid " << child.pid() << ") never said " << word;
    ASSERT_EQ(line->rfind(word, 0), 0u) << who << " said: " << *line;
}

/// "done HOLDS PROBLEMS" from a holding reader, after its writer closed.
std::pair<std::uint64_t, std::uint64_t> done_line(Child& child)
{
    auto line = child.read_line(bound(30000ms));
    EXPECT_TRUE(line.has_value()) << "holding reader " << child.pid() << " did not finish";
    std::uint64_t holds = 0;
    std::uint64_t problems = 1;
    if (line && line->rfind("done ", 0) == 0) {
        std::istringstream in(line->substr(5));
        in >> holds >> problems;
    }
    return {holds, problems};
}

// The camera case: 1 MB frames at 30 fps into a 16 MiB ring, one latest reader (an inference process)
// holding each frame it gets for 200 ms, 600 ms or 2 s. The writer keeps its pace with no wait at all.
TEST_F(HeldFrames, LiveWriterNeverWaitsWhileALatestReaderHoldsEachFrame)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    constexpr std::size_t kFrame = 1'000'000;
    for (const std::uint64_t hold_ms : {200u, 600u, 2000u}) {
        SCOPED_TRACE("hold " + std::to_string(hold_ms) + " ms");
        const std::string name = ring_name(std::to_string(hold_ms));
        auto options = small_ring(std::size_t{16} << 20);
        options.reader_timeout = bound(10000ms);
        auto created = Writer::create(name, options);
        ASSERT_TRUE(is_ok(created));
        std::optional<Writer> writer(std::move(*created));
        Child reader = spawn_child({"--child=holding-reader", "name=" + name, arg("seed", seed), arg("hold_ms", hold_ms),
                                    "holds=1", "newest=1", arg("fixed_payload", kFrame)},
                                   {.pipe_stdout = true});
        ASSERT_NO_FATAL_FAILURE(expect_line(reader, "ready", "holding reader"));
        ASSERT_TRUE(is_ok(writer->wait_for_readers(1, bound(10000ms))));

        const std::uint64_t frames = 30 * std::max<std::uint64_t>(3, 3 * hold_ms / 1000);
        const auto start = std::chrono::steady_clock::now();
        for (std::uint64_t i = 0; i < frames; ++i) {
            std::this_thread::sleep_until(start + std::chrono::microseconds(33'333 * i));
            FrameSpec spec;
            spec.payload_size = kFrame;
            spec.info = info_for(i, kFrame);
            ASSERT_TRUE(is_ok(write_spec(*writer, seed, i, spec))) << "frame " << i;
        }
        const zerobuffer::WriterCounters counters = writer->counters();
        EXPECT_EQ(counters.frames_written, frames);
        EXPECT_EQ(counters.waits, 0u) << "the writer waited for a latest reader's held frame";
        EXPECT_EQ(counters.timeouts, 0u);
        writer.reset(); // Closes the ring: the reader finishes.
        const auto [holds, problems] = done_line(reader);
        EXPECT_EQ(problems, 0u) << "see the holding reader's stderr";
        EXPECT_GE(holds, frames * 33 / hold_ms / 2) << "the reader got a frame after each hold";
        EXPECT_EQ(reader.wait(bound(10000ms)), 0);
    }
}

// Four latest readers holding frames at random, frames of random sizes over many laps, and a lossless reader that
// checks every frame: no frame delivered corrupted, no deadlock, and the writer waits only when there really is
// no free extent as large as the frame (checked by the writer against an independent sweep of its memory).
TEST_F(HeldFrames, ManyReadersHoldingAtRandomNeverCorruptNorBlockTheWriterBeyondItsRoom)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    const std::string name = ring_name();
    constexpr std::size_t kRing = std::size_t{1} << 20;
    constexpr std::size_t kMaxPayload = 96 * 1024;
    constexpr std::size_t kMaxMetadata = 64;
    auto options = small_ring(kRing);
    options.max_readers = 8;
    options.reader_timeout = bound(20000ms);
    auto created = Writer::create(name, options);
    ASSERT_TRUE(is_ok(created));
    std::optional<Writer> writer(std::move(*created));
    const std::uint64_t frames = 4000 * static_cast<std::uint64_t>(soak_factor());

    Child lossless = spawn_child({"--child=reader", "name=" + name, arg("seed", seed), arg("expect", frames), "start=0",
                                  arg("max_payload", kMaxPayload), arg("max_metadata", kMaxMetadata), "ready=1"},
                                 {.pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_line(lossless, "ready", "lossless reader"));
    std::vector<Child> holders;
    for (int i = 0; i < 4; ++i) {
        holders.push_back(spawn_child({"--child=holding-reader", "name=" + name, arg("seed", seed), "hold_ms=30",
                                       "holds=2", "random=1", arg("max_payload", kMaxPayload),
                                       arg("max_metadata", kMaxMetadata)},
                                      {.pipe_stdout = true}));
        ASSERT_NO_FATAL_FAILURE(expect_line(holders.back(), "ready", "holding reader"));
    }
    ASSERT_TRUE(is_ok(writer->wait_for_readers(5, bound(10000ms))));
    for (std::uint64_t i = 0; i < frames; ++i) {
        const FrameSpec spec = spec_for(seed, i, kMaxPayload, kMaxMetadata);
        ASSERT_TRUE(is_ok(write_spec(*writer, seed, i, spec))) << "frame " << i;
    }
    const zerobuffer::WriterCounters counters = writer->counters();
    EXPECT_EQ(counters.frames_written, frames);
    EXPECT_EQ(counters.timeouts, 0u);
    EXPECT_GT(counters.frames_passed, 0u) << "the writer went around held frames";
    EXPECT_EQ(zerobuffer::detail_core(*writer).waits_with_room(), 0u)
        << "the writer waited although a free extent as large as the frame existed (" << counters.waits << " waits)";
    writer.reset();
    auto line = lossless.read_line(bound(60000ms));
    ASSERT_TRUE(line.has_value()) << "the lossless reader did not finish";
    EXPECT_EQ(line->rfind("done " + std::to_string(frames) + " ", 0), 0u) << *line;
    EXPECT_EQ(lossless.wait(bound(15000ms)), 0) << "the lossless reader found a bad frame (see its stderr)";
    for (Child& holder : holders) {
        const auto [holds, problems] = done_line(holder);
        EXPECT_EQ(problems, 0u);
        EXPECT_GT(holds, 0u);
        EXPECT_EQ(holder.wait(bound(15000ms)), 0);
    }
}

// A latest reader killed while it holds three frames: the writer (which never waits for it) gives its frames back
// within the liveness bound, from its periodic look at the readers' locks.
TEST_F(HeldFrames, KilledReaderHoldingFramesIsReclaimedWithinTheLivenessBound)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    constexpr std::size_t kFrame = 100'000;
    for (int cycle = 0; cycle < test_cycles(5); ++cycle) {
        SCOPED_TRACE("cycle " + std::to_string(cycle));
        const std::string name = ring_name(std::to_string(cycle));
        auto writer = Writer::create(name, small_ring(std::size_t{4} << 20));
        ASSERT_TRUE(is_ok(writer));
        Child victim = spawn_child({"--child=holding-reader", "name=" + name, arg("seed", seed), "hold_ms=1000000",
                                    "holds=3", "say_holding=3", arg("fixed_payload", kFrame)},
                                   {.pipe_stdout = true});
        ASSERT_NO_FATAL_FAILURE(expect_line(victim, "ready", "victim"));
        ASSERT_TRUE(is_ok(writer->wait_for_readers(1, bound(10000ms))));
        std::uint64_t index = 0;
        const auto write_one = [&] {
            FrameSpec spec;
            spec.payload_size = kFrame;
            spec.info = info_for(index, kFrame);
            auto written = write_spec(*writer, seed, index, spec);
            ++index;
            return written;
        };
        // Frames at 100 fps until the victim holds three of them.
        std::optional<std::string> holding;
        for (int i = 0; i < 1000 && !holding; ++i) {
            ASSERT_TRUE(is_ok(write_one()));
            holding = victim.read_line(10ms); // Also the pace: about 100 frames a second.
        }
        ASSERT_TRUE(holding.has_value() && *holding == "holding") << "the victim never held three frames";
        auto before = zerobuffer::inspect_ring(name);
        ASSERT_TRUE(is_ok(before));
        ASSERT_EQ(before->readers.size(), 1u);
        EXPECT_EQ(before->readers[0].held_frames, 3u);

        victim.kill9();
        EXPECT_EQ(victim.wait(bound(5000ms)), 128 + SIGKILL);
        const auto died = std::chrono::steady_clock::now();
        bool reclaimed = false;
        while (!reclaimed && std::chrono::steady_clock::now() - died < bound(5000ms)) {
            ASSERT_TRUE(is_ok(write_one()));
            std::this_thread::sleep_for(10ms);
            auto now = zerobuffer::inspect_ring(name);
            ASSERT_TRUE(is_ok(now));
            reclaimed = now->readers.empty();
        }
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - died);
        ASSERT_TRUE(reclaimed) << "the dead reader's slot was never reclaimed";
        EXPECT_LE(took, bound(300ms)) << "reclaimed after " << took.count() << " ms";
        EXPECT_EQ(writer->counters().readers_reclaimed, 1u);
        EXPECT_EQ(writer->counters().waits, 0u);
        std::printf("[ info ] dead reader's holds reclaimed %lld ms after its death\n", static_cast<long long>(took.count()));
    }
}

} // namespace
