// SPDX-License-Identifier: MIT
// Cross-process tests: writers and readers in separate processes (this binary re-executed as children).
#include <signal.h>
#include <unistd.h>

#include <sstream>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Reader;
using zerobuffer::Writer;

class CrossProcess : public RingTest {};

std::string arg(const std::string& key, const std::string& value)
{
    return key + "=" + value;
}

std::string arg(const std::string& key, std::uint64_t value)
{
    return key + "=" + std::to_string(value);
}

/// Waits for the child's "ready ..." line.
void expect_ready(Child& child, const std::string& who)
{
    auto line = child.read_line(bound(15000ms));
    ASSERT_TRUE(line.has_value()) << who << " (pid " << child.pid() << ") never said ready";
    ASSERT_EQ(line->rfind("ready", 0), 0u) << who << " said: " << *line;
}

struct Done {
    std::uint64_t read = 0;
    std::uint64_t skipped = 0;
    std::uint64_t last = 0;
};

/// Parses a reader child's "done READ SKIPPED LAST" line.
std::optional<Done> read_done(Child& child)
{
    auto line = child.read_line(bound(120000ms));
    if (!line || line->rfind("done ", 0) != 0) {
        return std::nullopt;
    }
    std::istringstream in(line->substr(5));
    Done done;
    in >> done.read >> done.skipped >> done.last;
    return done;
}

TEST_F(CrossProcess, TenThousandRandomFramesToTwoLosslessAndOneLatestReader)
{
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    const std::uint64_t frames = 10000 * static_cast<std::uint64_t>(soak_factor());
    const std::string name = ring_name();
    const std::string max_payload = "60000";
    const std::string max_metadata = "300";
    Child writer = spawn_child({"--child=writer", arg("name", name), arg("seed", seed), arg("frames", frames),
                                arg("max_payload", max_payload), arg("max_metadata", max_metadata),
                                arg("ring_size", 1024 * 1024), arg("readers", 3), "ready=1"},
                               {.pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_ready(writer, "writer"));
    std::vector<Child> readers;
    for (const char* policy : {"lossless", "lossless", "latest"}) {
        readers.push_back(spawn_child({"--child=reader", arg("name", name), arg("seed", seed), arg("expect", frames), "start=0",
                                       arg("policy", policy), arg("max_payload", max_payload),
                                       arg("max_metadata", max_metadata), "ready=1",
                                       std::string(policy) == "lossless" && readers.empty() ? "slow=1" : "hold=4"},
                                      {.pipe_stdout = true}));
        ASSERT_NO_FATAL_FAILURE(expect_ready(readers.back(), std::string(policy) + " reader"));
    }
    EXPECT_EQ(writer.wait(bound(180000ms)), 0) << "writer child failed (see its stderr)";
    std::vector<Done> results;
    for (std::size_t i = 0; i < readers.size(); ++i) {
        auto done = read_done(readers[i]);
        EXPECT_TRUE(done.has_value()) << "reader " << i << " did not finish";
        EXPECT_EQ(readers[i].wait(bound(30000ms)), 0) << "reader " << i << " failed (see its stderr)";
        results.push_back(done.value_or(Done{}));
    }
    ASSERT_EQ(results.size(), 3u);
    EXPECT_EQ(results[0].read, frames);
    EXPECT_EQ(results[1].read, frames);
    EXPECT_EQ(results[2].last, frames - 1);
    EXPECT_LE(results[2].read, frames);
    EXPECT_FALSE(shm_exists(name)) << "the writer removed its ring on exit";
}

TEST_F(CrossProcess, SecondWriterProcessIsRefusedWithTheOwnersPid)
{
    const std::string name = ring_name();
    {
        auto writer = Writer::create(name, small_ring());
        ASSERT_TRUE(is_ok(writer));
        Child other = spawn_child({"--child=expect-writer-busy", arg("name", name), arg("pid", std::to_string(getpid()))});
        EXPECT_EQ(other.wait(bound(15000ms)), 0) << "a second writer in another process must get Busy naming us";
    }
    // The other way round: a writer child holds the ring, we are refused.
    Child holder = spawn_child({"--child=hold-writer", arg("name", name), arg("ring_size", 16384)},
                               {.pipe_stdin = true, .pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_ready(holder, "holding writer"));
    auto refused = Writer::create(name, small_ring());
    ASSERT_TRUE(is_error(refused, Errc::Busy));
    EXPECT_NE(refused.error().message.find(std::to_string(holder.pid())), std::string::npos)
        << "message should name pid " << holder.pid() << ": " << refused.error().message;
    holder.close_stdin();
    EXPECT_EQ(holder.wait(bound(15000ms)), 0);
    EXPECT_FALSE(shm_exists(name));
    auto after = Writer::create(name, small_ring());
    EXPECT_TRUE(is_ok(after)) << "once the holder exited the name is free";
}

TEST_F(CrossProcess, ReaderBeyondMaxReadersInAnotherProcessIsRefused)
{
    const std::string name = ring_name();
    auto options = small_ring();
    options.max_readers = 2;
    auto writer = Writer::create(name, options);
    ASSERT_TRUE(is_ok(writer));
    Child first = spawn_child({"--child=hold-reader", arg("name", name)}, {.pipe_stdin = true, .pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_ready(first, "first reader"));
    Child second = spawn_child({"--child=hold-reader", arg("name", name)}, {.pipe_stdin = true, .pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_ready(second, "second reader"));
    EXPECT_EQ(writer->reader_count(), 2u);
    EXPECT_TRUE(is_error(Reader::attach(name), Errc::Busy));
    Child third = spawn_child({"--child=expect-reader-busy", arg("name", name)});
    EXPECT_EQ(third.wait(bound(15000ms)), 0) << "a third reader process must get Busy";
    second.close_stdin();
    EXPECT_EQ(second.wait(bound(15000ms)), 0);
    auto now_free = Reader::attach(name);
    EXPECT_TRUE(is_ok(now_free)) << "a slot freed by an exited reader process is reusable";
    first.close_stdin();
    EXPECT_EQ(first.wait(bound(15000ms)), 0);
}

TEST_F(CrossProcess, CleanWriterRestartAndReaderReattach)
{
    const std::string name = ring_name();
    for (std::uint64_t round = 0; round < 3; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const std::uint64_t seed = test_seed();
        const std::uint64_t frames = 300;
        Child writer = spawn_child({"--child=writer", arg("name", name), arg("seed", seed), arg("frames", frames),
                                    arg("max_payload", 5000), arg("max_metadata", 40), arg("readers", 1), "ready=1"},
                                   {.pipe_stdout = true});
        ASSERT_NO_FATAL_FAILURE(expect_ready(writer, "writer"));
        auto reader = Reader::attach(name);
        ASSERT_TRUE(is_ok(reader));
        EXPECT_TRUE(reader->writer_alive());
        std::uint64_t got = 0;
        while (true) {
            auto frame = reader->acquire(bound(10000ms));
            if (!frame) {
                EXPECT_TRUE(is_error(frame, Errc::WriterGone));
                break;
            }
            ASSERT_EQ(check_frame(*frame, seed, got, spec_for(seed, got, 5000, 40)), "");
            ++got;
        }
        EXPECT_EQ(got, frames);
        EXPECT_EQ(writer.wait(bound(15000ms)), 0);
        EXPECT_FALSE(reader->writer_alive());
        EXPECT_TRUE(is_error(Reader::attach(name), Errc::NotFound)) << "a cleanly closed ring is gone";
    }
}

TEST_F(CrossProcess, StaleSegmentOfAKilledWriterIsReplaced)
{
    const std::string name = ring_name();
    Child holder = spawn_child({"--child=hold-writer", arg("name", name), arg("ring_size", 16384)},
                               {.pipe_stdin = true, .pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_ready(holder, "holding writer"));
    // A reader process attached to the old ring stays alive across the takeover.
    Child old_reader = spawn_child({"--child=hold-reader", arg("name", name)}, {.pipe_stdin = true, .pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_ready(old_reader, "old reader"));
    holder.kill9();
    EXPECT_EQ(holder.wait(bound(15000ms)), 128 + SIGKILL);
    EXPECT_TRUE(shm_exists(name)) << "kill -9 leaves the segment behind";
    EXPECT_TRUE(is_error(zerobuffer::remove_stale_ring(name), Errc::Busy)) << "a live reader still holds it";

    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer)) << "a ring whose writer is dead is replaced";
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    EXPECT_TRUE(reader->writer_alive());
    const std::byte data[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    ASSERT_TRUE(is_ok(writer->write(data)));
    auto frame = reader->acquire(1s);
    ASSERT_TRUE(is_ok(frame));
    EXPECT_EQ(frame->payload().size(), 4u);
    EXPECT_EQ(writer->reader_count(), 1u) << "the old ring's reader is not a reader of the new ring";
    old_reader.close_stdin();
    EXPECT_EQ(old_reader.wait(bound(15000ms)), 0);
}

TEST_F(CrossProcess, RemoveStaleRingOnlyWhenEveryProcessIsGone)
{
    const zerobuffer::GcOptions kDryRun{.dry_run = true};
    const std::string name = ring_name();
    Child holder = spawn_child({"--child=hold-writer", arg("name", name), arg("ring_size", 16384)},
                               {.pipe_stdin = true, .pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_ready(holder, "holding writer"));
    Child reader = spawn_child({"--child=hold-reader", arg("name", name)}, {.pipe_stdin = true, .pipe_stdout = true});
    ASSERT_NO_FATAL_FAILURE(expect_ready(reader, "reader"));
    EXPECT_TRUE(is_error(zerobuffer::remove_stale_ring(name), Errc::Busy)) << "writer and reader alive";
    holder.kill9();
    EXPECT_EQ(holder.wait(bound(15000ms)), 128 + SIGKILL);
    EXPECT_TRUE(is_error(zerobuffer::remove_stale_ring(name), Errc::Busy)) << "reader alive";
    EXPECT_TRUE(is_error(zerobuffer::remove_stale_ring(name, kDryRun), Errc::Busy)) << "a dry run judges the same";
    EXPECT_TRUE(shm_exists(name));
    reader.kill9();
    EXPECT_EQ(reader.wait(bound(15000ms)), 128 + SIGKILL);
    EXPECT_TRUE(is_ok(zerobuffer::remove_stale_ring(name, kDryRun))) << "stale: a dry run says it would go";
    EXPECT_TRUE(shm_exists(name)) << "a dry run removes nothing";
    EXPECT_TRUE(is_ok(zerobuffer::remove_stale_ring(name)));
    EXPECT_FALSE(shm_exists(name));
    EXPECT_TRUE(is_error(zerobuffer::remove_stale_ring(name), Errc::NotFound));
    EXPECT_TRUE(is_error(zerobuffer::remove_stale_ring(name, kDryRun), Errc::NotFound));
}

} // namespace
