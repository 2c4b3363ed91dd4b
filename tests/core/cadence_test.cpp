// SPDX-License-Identifier: MIT
// Cadence-aware waiting (core/src/cadence.h): the predictor on synthetic commit times, then the reader's wait on a
// real ring with a paced writer thread. Only behaviour is asserted (frames, counters, bounds the code sets), never
// how fast the machine is.
#include <thread>

#include "cadence.h"
#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::WaitMode;
using zerobuffer::Writer;
using zerobuffer::detail::Cadence;

constexpr std::int64_t kInterval60 = 16'666'667;

/// Feeds `count` commits on a grid of `interval` from `start`, each `late(i)` ns after its grid point.
template <typename Late>
void feed(Cadence& cadence, std::uint64_t first_sequence, std::int64_t start, std::int64_t interval, int count,
          Late late, std::uint64_t sequence_step = 1)
{
    for (int i = 0; i < count; ++i) {
        const std::uint64_t sequence = first_sequence + static_cast<std::uint64_t>(i) * sequence_step;
        cadence.on_frame(sequence, start + static_cast<std::int64_t>(i) * interval * static_cast<std::int64_t>(sequence_step) +
                                       late(i));
    }
}

TEST(CadencePredictor, LearnsTheGridOfALateWriterFromItsEarliestCommits)
{
    Cadence cadence(0.03);
    // Commits come 0..300 us after their grid point (a paced writer is never early).
    feed(cadence, 1, 1'000'000'000, kInterval60, 120, [](int i) { return static_cast<std::int64_t>((i * 7919) % 300'000); });
    ASSERT_TRUE(cadence.periodic());
    EXPECT_NEAR(static_cast<double>(cadence.interval_ns()), static_cast<double>(kInterval60), kInterval60 * 0.01);
    const std::int64_t last_grid = 1'000'000'000 + 119 * kInterval60;
    // The predicted due time is the next grid point, give or take the writer's lateness.
    EXPECT_NEAR(static_cast<double>(cadence.next_due_ns()), static_cast<double>(last_grid + kInterval60), 300'000.0);
    // The window opens before the due time and never takes more than the budget of the interval.
    EXPECT_LT(cadence.poll_from_ns(), cadence.next_due_ns());
    EXPECT_GT(cadence.poll_until_ns(), cadence.next_due_ns());
    EXPECT_LE(cadence.window_ns(), static_cast<std::int64_t>(kInterval60 * 0.03) + 1);
}

TEST(CadencePredictor, WindowStaysWithinTheBudgetWhateverTheLateness)
{
    for (const double budget : {0.01, 0.03, 0.1}) {
        Cadence cadence(budget);
        // A very late writer (up to a quarter interval) and a reader whose own sleeps wake 2 ms late.
        feed(cadence, 1, 0, kInterval60, 60, [](int i) { return static_cast<std::int64_t>((i % 5) * 1'000'000); });
        for (int i = 0; i < 30; ++i)
            cadence.on_sleep(0, 2'000'000);
        ASSERT_TRUE(cadence.periodic());
        EXPECT_LE(cadence.poll_until_ns() - cadence.next_due_ns(), static_cast<std::int64_t>(kInterval60 * budget))
            << "budget " << budget;
        EXPECT_GT(cadence.window_ns(), 0) << "budget " << budget;
    }
}

TEST(CadencePredictor, ALatestReaderThatSkipsFramesLearnsTheStreamsInterval)
{
    Cadence cadence(0.03);
    // It gets every third frame: the gaps in sequence say how many intervals passed.
    feed(cadence, 10, 0, kInterval60, 40, [](int) { return std::int64_t{0}; }, 3);
    ASSERT_TRUE(cadence.periodic());
    EXPECT_NEAR(static_cast<double>(cadence.interval_ns()), static_cast<double>(kInterval60), kInterval60 * 0.01);
}

TEST(CadencePredictor, TheFormatsFrameRateIsTheFirstGuessButNotPeriodicYet)
{
    Cadence cadence(0.03);
    cadence.set_nominal(33'333'333);
    EXPECT_EQ(cadence.interval_ns(), 33'333'333);
    EXPECT_FALSE(cadence.periodic()); // It waits for commits to confirm the rate.
    cadence.set_nominal(0);
    EXPECT_EQ(cadence.interval_ns(), 33'333'333);
}

TEST(CadencePredictor, IrregularOrTooFastStreamsNeverGetAWindow)
{
    Cadence irregular(0.03);
    std::int64_t t = 0;
    for (std::uint64_t s = 1; s <= 200; ++s) {
        t += (s % 2 == 0) ? 1'000'000 : 40'000'000; // Bursts: 1 ms, then 40 ms.
        irregular.on_frame(s, t);
        ASSERT_FALSE(irregular.periodic()) << "frame " << s;
    }
    Cadence unpaced(0.03);
    feed(unpaced, 1, 0, 20'000, 200, [](int) { return std::int64_t{0}; }); // 50 000 frames/s: nothing to wait for.
    EXPECT_FALSE(unpaced.periodic());
}

TEST(CadencePredictor, ARateChangeIsLearntAgain)
{
    Cadence cadence(0.03);
    feed(cadence, 1, 0, kInterval60, 30, [](int) { return std::int64_t{0}; });
    ASSERT_TRUE(cadence.periodic());
    const std::int64_t start = 30 * kInterval60;
    feed(cadence, 31, start, 2 * kInterval60, 40, [](int) { return std::int64_t{0}; }); // Down to 30 fps.
    ASSERT_TRUE(cadence.periodic());
    EXPECT_NEAR(static_cast<double>(cadence.interval_ns()), 2.0 * kInterval60, kInterval60 * 0.02);
}

// ---------------------------------------------------------------------------------------------------------
// The wait on a real ring

class CadenceWait : public RingTest {};

/// Writes `count` frames of 1 KiB, one per `interval` on a grid (sleep_until), then stays alive until `stop`.
void paced_writer(Writer& writer, int count, std::chrono::nanoseconds interval, const std::atomic<bool>& stop)
{
    std::vector<std::byte> payload(1024, std::byte{0x5a});
    auto due = std::chrono::steady_clock::now();
    for (int i = 0; i < count && !stop.load(); ++i) {
        due += interval;
        std::this_thread::sleep_until(due);
        ASSERT_TRUE(is_ok(writer.write(payload, zerobuffer::FrameInfo{.pts = i})));
    }
    while (!stop.load())
        std::this_thread::sleep_for(1ms);
}

struct PacedRun {
    std::uint64_t frames = 0;
    zerobuffer::ReaderCounters counters;
    std::chrono::nanoseconds elapsed{};
};

/// A lossless reader in `mode` reads a 100 fps stream of `count` frames; every frame comes, in order.
PacedRun read_paced(const std::string& name, WaitMode mode, int count)
{
    zerobuffer::WriterOptions writer_options;
    writer_options.ring_size = 1 << 20;
    auto writer = Writer::create(name, writer_options);
    EXPECT_TRUE(is_ok(writer));
    ReaderOptions options;
    options.wait_mode = mode;
    auto reader = Reader::attach(name, options);
    EXPECT_TRUE(is_ok(reader));
    std::atomic<bool> stop{false};
    std::thread producer(paced_writer, std::ref(*writer), count, 10ms, std::cref(stop));
    PacedRun run;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) {
        auto frame = reader->acquire(bound(5000ms));
        if (!frame) {
            ADD_FAILURE() << "frame " << i << ": " << describe(frame.error());
            break;
        }
        EXPECT_EQ(frame->info().pts, i);
        ++run.frames;
    }
    run.elapsed = std::chrono::steady_clock::now() - start;
    run.counters = reader->counters();
    stop = true;
    producer.join();
    return run;
}

TEST_F(CadenceWait, APeriodicStreamGetsPollingWindowsAndLosesNoFrame)
{
    const PacedRun run = read_paced(ring_name("cadence"), WaitMode::Cadence, 150);
    EXPECT_EQ(run.frames, 150U);
    // Windows opened once the rate was learnt (each one either saw its frame or gave up to the futex sleep).
    EXPECT_GT(run.counters.cadence_hits + run.counters.cadence_misses, 0U);
    // The polling it did is counted, and is bounded by the budget of each interval it waited (3 % of 10 ms per
    // frame, with room for a window the scheduler stretched).
    EXPECT_GT(run.counters.spin_ns, 0U);
    EXPECT_LE(run.counters.spin_ns, 150U * 10'000'000U * 3 / 100 * 4 + 50'000'000U);
}

TEST_F(CadenceWait, SleepModeNeverPolls)
{
    const PacedRun run = read_paced(ring_name("sleep"), WaitMode::Sleep, 60);
    EXPECT_EQ(run.frames, 60U);
    EXPECT_EQ(run.counters.cadence_hits, 0U);
    EXPECT_EQ(run.counters.cadence_misses, 0U);
    EXPECT_EQ(run.counters.spin_ns, 0U);
}

TEST_F(CadenceWait, NoFramesNoPollingAndTimeoutsKeepTheirTime)
{
    const std::string name = ring_name("idle");
    zerobuffer::WriterOptions writer_options;
    writer_options.ring_size = 1 << 20;
    auto writer = Writer::create(name, writer_options);
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name); // Cadence: the default.
    ASSERT_TRUE(is_ok(reader));
    // 5 fps, learnt from 8 frames; then the stream stops with the writer alive.
    std::atomic<bool> stop{false};
    std::thread producer(paced_writer, std::ref(*writer), 8, 200ms, std::cref(stop));
    for (int i = 0; i < 8; ++i)
        ASSERT_TRUE(is_ok(reader->acquire(bound(5000ms))));
    // A timeout shorter than the time to the next due frame ends on time: the wait does not sleep to the frame.
    const auto before = std::chrono::steady_clock::now();
    EXPECT_TRUE(is_error(reader->acquire(20ms), Errc::Timeout));
    EXPECT_LT(std::chrono::steady_clock::now() - before, bound(150ms));
    // No frame comes: at most one window is spent (the frame is late past it), then the plain futex sleep.
    const std::uint64_t spun_before = reader->counters().spin_ns;
    EXPECT_TRUE(is_error(reader->acquire(1500ms), Errc::Timeout));
    const std::uint64_t spun = reader->counters().spin_ns - spun_before;
    EXPECT_LE(spun, 200'000'000U * 3 / 100 * 2 + 20'000'000U) << "polled " << spun << " ns with no frame coming";
    stop = true;
    producer.join();
}

} // namespace
