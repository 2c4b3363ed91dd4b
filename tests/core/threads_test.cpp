// SPDX-License-Identifier: MIT
// Unit tests with the writer and readers on separate threads of one process (the shape TSan checks best).
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Frame;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;

class Threads : public RingTest {};

constexpr std::size_t kMaxPayload = 20000;
constexpr std::size_t kMaxMetadata = 200;

/// Reads a whole stream losslessly until WriterGone; returns "" or the first problem.
std::string read_all_lossless(Reader& reader, std::uint64_t seed, std::uint64_t expected)
{
    std::uint64_t index = 0;
    std::optional<std::uint64_t> first_sequence;
    const auto deadline = std::chrono::steady_clock::now() + bound(60000ms);
    while (std::chrono::steady_clock::now() < deadline) {
        auto frame = reader.acquire(200ms);
        if (!frame) {
            if (frame.error().code == Errc::Timeout) {
                continue;
            }
            if (frame.error().code == Errc::WriterGone) {
                return index == expected ? "" : "WriterGone after " + std::to_string(index) + " of " +
                                                    std::to_string(expected) + " frames";
            }
            return "acquire failed at frame " + std::to_string(index) + ": " + describe(frame.error());
        }
        const FrameSpec spec = spec_for(seed, index, kMaxPayload, kMaxMetadata);
        if (auto problem = check_frame(*frame, seed, index, spec); !problem.empty()) {
            return problem;
        }
        if (!first_sequence) {
            first_sequence = frame->sequence();
        } else if (frame->sequence() != *first_sequence + index) {
            return "sequence " + std::to_string(frame->sequence()) + " at index " + std::to_string(index);
        }
        ++index;
    }
    return "no WriterGone within the deadline after " + std::to_string(index) + " frames";
}

TEST_F(Threads, OneWriterTwoLosslessAndOneLatestReader)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    const std::uint64_t frames = 20000 * static_cast<std::uint64_t>(soak_factor());
    const auto name = ring_name();
    auto created = Writer::create(name, small_ring(256 * 1024));
    ASSERT_TRUE(is_ok(created));
    auto lossless_a = Reader::attach(name);
    auto lossless_b = Reader::attach(name);
    ReaderOptions latest_options;
    latest_options.policy = zerobuffer::ReaderPolicy::Latest;
    auto latest = Reader::attach(name, latest_options);
    ASSERT_TRUE(is_ok(lossless_a) && is_ok(lossless_b) && is_ok(latest));

    std::string writer_problem;
    std::thread writer_thread([&, writer = std::move(*created)]() mutable {
        for (std::uint64_t i = 0; i < frames; ++i) {
            const FrameSpec spec = spec_for(seed, i, kMaxPayload, kMaxMetadata);
            if (auto written = write_spec(writer, seed, i, spec); !written) {
                writer_problem = "frame " + std::to_string(i) + ": " + describe(written.error());
                return;
            }
        }
        // The writer is destroyed here: the readers drain and get WriterGone.
    });
    std::string problem_a;
    std::string problem_b;
    std::thread reader_a([&] { problem_a = read_all_lossless(*lossless_a, seed, frames); });
    std::thread reader_b([&] { problem_b = read_all_lossless(*lossless_b, seed, frames); });

    std::string latest_problem;
    std::uint64_t latest_read = 0;
    std::uint64_t latest_skipped = 0;
    std::optional<std::uint64_t> first_pts;
    std::uint64_t last_pts = 0;
    while (true) {
        auto frame = latest->acquire(200ms);
        if (!frame) {
            if (frame.error().code == Errc::Timeout) {
                continue;
            }
            if (frame.error().code != Errc::WriterGone) {
                latest_problem = describe(frame.error());
            }
            break;
        }
        const auto pts = static_cast<std::uint64_t>(frame->info().pts);
        if (first_pts && pts <= last_pts) {
            latest_problem = "latest reader went backwards to pts " + std::to_string(pts);
            break;
        }
        if (first_pts) {
            latest_skipped += frame->frames_skipped();
            if (frame->frames_skipped() != pts - last_pts - 1) {
                latest_problem = "pts " + std::to_string(pts) + " after " + std::to_string(last_pts) +
                                 " reports frames_skipped " + std::to_string(frame->frames_skipped());
                break;
            }
        } else {
            first_pts = pts;
        }
        if (auto bad = check_frame(*frame, seed, pts, spec_for(seed, pts, kMaxPayload, kMaxMetadata)); !bad.empty()) {
            latest_problem = bad;
            break;
        }
        ++latest_read;
        last_pts = pts;
        if (latest_read % 64 == 0) {
            std::this_thread::sleep_for(1ms); // fall behind now and then
        }
    }
    writer_thread.join();
    reader_a.join();
    reader_b.join();
    EXPECT_EQ(writer_problem, "");
    EXPECT_EQ(problem_a, "");
    EXPECT_EQ(problem_b, "");
    EXPECT_EQ(latest_problem, "");
    ASSERT_TRUE(first_pts.has_value());
    EXPECT_EQ(last_pts, frames - 1) << "a latest reader ends on the last frame";
    EXPECT_EQ(latest_read + latest_skipped, last_pts - *first_pts + 1);
    EXPECT_EQ(lossless_a->counters().frames_read, frames);
    EXPECT_EQ(lossless_b->counters().frames_read, frames);
}

TEST_F(Threads, HeldFramesAreNeverOverwrittenWhileReleasedOutOfOrderElsewhere)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    const std::uint64_t frames = 8000 * static_cast<std::uint64_t>(soak_factor());
    const auto name = ring_name();
    auto created = Writer::create(name, small_ring(64 * 1024));
    ASSERT_TRUE(is_ok(created));
    ReaderOptions options;
    options.max_held = 16;
    auto reader = Reader::attach(name, options);
    ASSERT_TRUE(is_ok(reader));

    std::string writer_problem;
    std::thread writer_thread([&, writer = std::move(*created)]() mutable {
        for (std::uint64_t i = 0; i < frames; ++i) {
            const FrameSpec spec = spec_for(seed, i, 6000, 64);
            if (auto written = write_spec(writer, seed, i, spec); !written) {
                writer_problem = "frame " + std::to_string(i) + ": " + describe(written.error());
                return;
            }
        }
    });

    // The releaser thread keeps up to 12 frames, re-checks their content (the writer must not have touched
    // them) and releases them in random order.
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::pair<std::uint64_t, Frame>> queue;
    bool finished = false;
    std::string releaser_problem;
    std::thread releaser([&] {
        Rng rng(seed ^ 0x77);
        std::vector<std::pair<std::uint64_t, Frame>> kept;
        while (true) {
            bool done = false;
            bool stalled = false;
            {
                std::unique_lock lock(mutex);
                // No new frame for a while: the reader may be waiting for space our frames pin; let go.
                stalled = !changed.wait_for(lock, 1ms, [&] { return !queue.empty() || finished; });
                while (!queue.empty()) {
                    kept.push_back(std::move(queue.front()));
                    queue.pop_front();
                }
                done = finished;
                if (done && kept.empty()) {
                    return;
                }
            }
            const std::size_t keep = (done || stalled) ? 0 : rng.range(0, 11);
            while (kept.size() > keep) {
                const auto at = static_cast<std::ptrdiff_t>(rng.range(0, kept.size() - 1));
                auto& [index, frame] = kept[static_cast<std::size_t>(at)];
                const FrameSpec spec = spec_for(seed, index, 6000, 64);
                if (auto bad = check_frame(frame, seed, index, spec); !bad.empty() && releaser_problem.empty()) {
                    releaser_problem = "held frame changed before release: " + bad;
                }
                kept.erase(kept.begin() + at);
            }
            changed.notify_all();
        }
    });

    std::string reader_problem;
    for (std::uint64_t index = 0; index < frames;) {
        {
            std::unique_lock lock(mutex);
            changed.wait(lock, [&] { return queue.size() < 4; });
        }
        auto frame = reader->acquire(bound(5000ms));
        if (!frame && frame.error().code == Errc::InvalidState) {
            std::this_thread::sleep_for(100us); // all max_held frames are with the releaser
            continue;
        }
        if (!frame) {
            reader_problem = "frame " + std::to_string(index) + ": " + describe(frame.error());
            break;
        }
        const FrameSpec spec = spec_for(seed, index, 6000, 64);
        if (auto bad = check_frame(*frame, seed, index, spec); !bad.empty()) {
            reader_problem = bad;
            break;
        }
        {
            std::lock_guard lock(mutex);
            queue.emplace_back(index, std::move(*frame));
        }
        changed.notify_all();
        ++index;
    }
    {
        std::lock_guard lock(mutex);
        finished = true;
    }
    changed.notify_all();
    releaser.join();
    writer_thread.join();
    EXPECT_EQ(reader_problem, "");
    EXPECT_EQ(releaser_problem, "");
    EXPECT_EQ(writer_problem, "");
    EXPECT_TRUE(is_error(reader->acquire(bound(2000ms)), Errc::WriterGone));
}

} // namespace
