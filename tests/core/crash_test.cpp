// SPDX-License-Identifier: MIT
// Crash tests: writers and readers killed with SIGKILL at random points, over many cycles. Every wait is bounded.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <sstream>
#include <thread>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Frame;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;

class WriterCrash : public RingTest {};
class ReaderCrash : public RingTest {};

std::string arg(const std::string& key, std::uint64_t value)
{
    return key + "=" + std::to_string(value);
}

void expect_ready(Child& child, const std::string& who)
{
    auto line = child.read_line(bound(15000ms));
    ASSERT_TRUE(line.has_value()) << who << " (pid " << child.pid() << ") never said ready";
    ASSERT_EQ(line->rfind("ready", 0), 0u) << who << " said: " << *line;
}

/// Kills `pid` after `delay` on its own thread and remembers when.
class DelayedKill {
public:
    DelayedKill(Child& child, std::chrono::microseconds delay)
        : thread_([this, &child, delay] {
              std::this_thread::sleep_for(delay);
              child.kill9();
              killed_at_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count());
          })
    {
    }
    DelayedKill(const DelayedKill&) = delete;
    DelayedKill& operator=(const DelayedKill&) = delete;
    ~DelayedKill() { join(); }
    void join()
    {
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    bool fired() const { return killed_at_ns_.load() != 0; }
    std::chrono::steady_clock::time_point when() const
    {
        return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(killed_at_ns_.load()));
    }

private:
    std::atomic<std::int64_t> killed_at_ns_{0};
    std::thread thread_;
};

TEST_F(WriterCrash, KilledWriterLosesNoCommittedFrameThenANewWriterTakesOver)
{
    const std::uint64_t base_seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(base_seed));
    const int cycles = test_cycles(30);
    const std::string name = ring_name();
    Rng rng(base_seed);
    std::optional<Reader> previous_reader; // sometimes kept attached to the stale ring across the takeover
    std::uint64_t total_frames = 0;
    int cycles_with_frames = 0;
    for (int cycle = 0; cycle < cycles; ++cycle) {
        SCOPED_TRACE("cycle " + std::to_string(cycle));
        const std::uint64_t seed = rng.next();
        const std::uint64_t max_payload = std::vector<std::uint64_t>{0, 100, 5000, 60000}[rng.range(0, 3)];
        const std::uint64_t max_metadata = rng.range(0, 1) * 100;
        const bool checksum = cycle % 2 == 1;
        SharedCounters committed;
        Child writer = spawn_child({"--child=writer", "name=" + name, arg("seed", seed), "frames=0",
                                    arg("max_payload", max_payload), arg("max_metadata", max_metadata),
                                    arg("ring_size", 256 * 1024), "readers=1", "counter=1", "ready=1",
                                    checksum ? "integrity=checksum" : "integrity=none"},
                                   {.pipe_stdout = true, .fd_as_3 = committed.fd()});
        ASSERT_NO_FATAL_FAILURE(expect_ready(writer, "writer"));
        previous_reader.reset(); // the old reader may detach only now, after the takeover

        auto attached = Reader::attach(name);
        ASSERT_TRUE(is_ok(attached)) << "the new writer's ring must be attachable";
        Reader reader = std::move(*attached);
        const bool slow = rng.range(0, 2) == 0; // then the writer is often killed while blocked on us
        DelayedKill killer(writer, std::chrono::microseconds(rng.range(0, 25000)));

        std::uint64_t got = 0;
        std::vector<Frame> held;
        bool gone = false;
        const auto give_up = std::chrono::steady_clock::now() + bound(30000ms);
        while (std::chrono::steady_clock::now() < give_up) {
            if (killer.fired() && std::chrono::steady_clock::now() - killer.when() > bound(2000ms)) {
                break; // WriterGone is late
            }
            auto frame = reader.acquire(0ns);
            if (!frame && frame.error().code == Errc::Timeout) {
                held.clear(); // never wait while holding frames the writer may be waiting for
                frame = reader.acquire(100ms);
            }
            if (!frame) {
                if (frame.error().code == Errc::WriterGone) {
                    gone = true;
                    break;
                }
                ASSERT_TRUE(is_error(frame, Errc::Timeout)) << "after " << got << " frames";
                continue;
            }
            ASSERT_EQ(frame->info().pts, static_cast<std::int64_t>(got)) << "frames must come in order, none lost";
            ASSERT_EQ(check_frame(*frame, seed, got, spec_for(seed, got, max_payload, max_metadata)), "")
                << "a frame committed before the crash arrived damaged";
            ++got;
            if (slow) {
                held.push_back(std::move(*frame));
                if (held.size() > 3) {
                    held.erase(held.begin() + static_cast<std::ptrdiff_t>(rng.range(0, held.size() - 1)));
                }
                if (rng.range(0, 20) == 0) {
                    std::this_thread::sleep_for(1ms);
                }
            }
        }
        killer.join();
        held.clear();
        EXPECT_TRUE(gone) << "no WriterGone within " << bound(2000ms).count() << " ms of the kill (got " << got
                          << " frames)";
        EXPECT_EQ(writer.wait(bound(15000ms)), 128 + SIGKILL) << "the writer child must have been killed, not failed";
        const std::uint64_t committed_before_death = committed.load(0);
        // The child counts a frame after commit() returned, so the kill may fall between the two.
        EXPECT_GE(got, committed_before_death) << "frames committed before the death were lost";
        EXPECT_LE(got, committed_before_death + 1) << "more frames than were committed";
        total_frames += got;
        cycles_with_frames += got > 0 ? 1 : 0;
        EXPECT_FALSE(reader.writer_alive());
        EXPECT_TRUE(shm_exists(name)) << "kill -9 leaves the stale ring for the next writer to replace";
        if (HasFatalFailure() || HasNonfatalFailure()) {
            return;
        }
        if (cycle % 2 == 1) {
            previous_reader.emplace(std::move(reader));
        }
    }
    previous_reader.reset();
    // Sanity of the test itself: frames did flow before the kills (the kills are not all at startup).
    EXPECT_GE(cycles_with_frames, cycles / 3) << total_frames << " frames in " << cycles << " cycles";
    RecordProperty("frames_before_kills", std::to_string(total_frames));
    // The last reader of the killed writer's ring removed it when it detached (no gc needed).
    EXPECT_FALSE(shm_exists(name)) << "the last reader of a dead writer's ring must remove it";
}

TEST_F(WriterCrash, WriterKilledDuringStartupNeverBlocksTheNextWriter)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    Rng rng(seed);
    const std::string name = ring_name();
    const int cycles = test_cycles(30) * 2 / 3;
    for (int cycle = 0; cycle < cycles; ++cycle) {
        SCOPED_TRACE("cycle " + std::to_string(cycle));
        Child starting = spawn_child({"--child=hold-writer", "name=" + name, arg("ring_size", 1024 * 1024)},
                                     {.pipe_stdin = true, .pipe_stdout = true});
        // Anywhere from before exec to after publication.
        std::this_thread::sleep_for(std::chrono::microseconds(rng.range(0, 15000)));
        starting.kill9();
        const pid_t pid = starting.pid();
        EXPECT_EQ(starting.wait(bound(15000ms)), 128 + SIGKILL);
        {
            auto writer = Writer::create(name, small_ring());
            ASSERT_TRUE(is_ok(writer)) << "a dead writer's ring, complete or not, must be replaced";
            auto reader = Reader::attach(name);
            ASSERT_TRUE(is_ok(reader));
            const std::byte data[1] = {std::byte{7}};
            ASSERT_TRUE(is_ok(writer->write(data)));
            auto frame = reader->acquire(1s);
            ASSERT_TRUE(is_ok(frame));
            EXPECT_EQ(frame->payload()[0], std::byte{7});
        }
        EXPECT_FALSE(shm_exists(name));
        // A creation interrupted before publication leaves its temporary object: expected, collectable.
        remove_tmp_leftovers_of(pid);
    }
}

TEST_F(ReaderCrash, KilledReaderIsReclaimedAndTheWriterGoesOn)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    Rng rng(seed);
    const int cycles = test_cycles(30);
    const std::string name = ring_name();
    const std::size_t ring_size = 128 * 1024;
    const std::size_t max_payload = 8000;
    const std::size_t max_metadata = 32;
    auto options = small_ring(ring_size);
    options.max_readers = 2;
    options.reader_timeout = bound(10000ms);
    auto created = Writer::create(name, options);
    ASSERT_TRUE(is_ok(created));
    std::optional<Writer> writer(std::move(*created));

    // A lossless reader that lives through every crash: it must see every frame, intact and in order.
    Child survivor = spawn_child({"--child=reader", "name=" + name, arg("seed", seed), "expect=0", "start=0",
                                  arg("max_payload", max_payload), arg("max_metadata", max_metadata), "ready=1"},
                                 {.pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_ready(survivor, "surviving reader"));

    std::uint64_t index = 0;
    auto write_next = [&]() {
        const FrameSpec spec = spec_for(seed, index, max_payload, max_metadata);
        auto written = write_spec(*writer, seed, index, spec);
        if (written) {
            ++index;
        }
        return written;
    };

    for (int cycle = 0; cycle < cycles; ++cycle) {
        SCOPED_TRACE("cycle " + std::to_string(cycle));
        const bool latest = cycle % 3 == 2; // a latest reader that holds frames pins them too
        Child victim = spawn_child({"--child=reader", "name=" + name, arg("seed", seed), "expect=0",
                                    arg("max_payload", max_payload), arg("max_metadata", max_metadata),
                                    latest ? "policy=latest" : "policy=lossless", arg("hold", rng.range(0, 8)),
                                    rng.range(0, 1) == 1 ? "slow=1" : "slow=0", "ready=1"},
                                   {.pipe_stdout = true});
        ASSERT_NO_FATAL_FAILURE(expect_ready(victim, "victim reader"));
        ASSERT_TRUE(is_ok(writer->wait_for_readers(2, bound(10000ms))));
        const auto reclaimed_before = writer->counters().readers_reclaimed;
        DelayedKill killer(victim, std::chrono::microseconds(rng.range(0, 20000)));

        // Write until the victim is dead and the writer has gone around the ring several times since.
        std::uint64_t bytes_since_kill = 0;
        while (!killer.fired() || bytes_since_kill < 3 * ring_size) {
            const bool was_fired = killer.fired();
            const std::size_t size = spec_for(seed, index, max_payload, max_metadata).payload_size;
            auto written = write_next();
            ASSERT_TRUE(is_ok(written)) << "frame " << index
                                        << ": the writer must never stall on a dead reader (reader_timeout is long)";
            if (was_fired) {
                bytes_since_kill += extent_size(size);
            }
        }
        killer.join();
        EXPECT_EQ(victim.wait(bound(15000ms)), 128 + SIGKILL);
        EXPECT_EQ(writer->reader_count(), 1u) << "only the survivor is left";
        // Reclaimed while the writer waited for it, or by reader_count() if it pinned nothing (latest policy).
        EXPECT_EQ(writer->counters().readers_reclaimed, reclaimed_before + 1) << "the dead reader's slot is reclaimed once";

        // The freed slot takes a new reader at once (max_readers is 2: survivor + this one).
        auto fresh = Reader::attach(name);
        ASSERT_TRUE(is_ok(fresh)) << "the dead reader's slot must be free again";
        ASSERT_TRUE(is_ok(write_next()));
        auto frame = fresh->acquire(bound(5000ms));
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(check_frame(*frame, seed, index - 1, spec_for(seed, index - 1, max_payload, max_metadata)), "");
        if (HasFatalFailure()) {
            return;
        }
    }
    const std::uint64_t written = index;
    writer.reset(); // closes the ring: the survivor drains and exits
    auto line = survivor.read_line(bound(60000ms));
    ASSERT_TRUE(line.has_value()) << "the surviving reader did not finish";
    std::istringstream in(line->substr(line->find(' ') + 1));
    std::uint64_t survivor_read = 0;
    in >> survivor_read;
    EXPECT_EQ(survivor_read, written) << "the surviving lossless reader must get every frame: " << *line;
    EXPECT_EQ(survivor.wait(bound(15000ms)), 0) << "the surviving reader found a bad frame (see its stderr)";
}

} // namespace
