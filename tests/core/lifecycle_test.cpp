// SPDX-License-Identifier: MIT
// Unit tests of ring creation, naming, attach, slots and teardown (writer and readers in one process).
#include <unistd.h>

#include <optional>
#include <set>
#include <thread>
#include <string>

#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;
using zerobuffer::WriterOptions;

class Lifecycle : public RingTest {};

TEST_F(Lifecycle, CreateMakesShmObjectAndDestroyRemovesIt)
{
    const auto name = ring_name();
    EXPECT_FALSE(shm_exists(name));
    {
        auto writer = Writer::create(name, small_ring());
        ASSERT_TRUE(is_ok(writer));
        EXPECT_EQ(writer->name(), name);
        EXPECT_TRUE(shm_exists(name)) << shm_path(name);
        auto reader = Reader::attach(name);
        ASSERT_TRUE(is_ok(reader));
        EXPECT_EQ(reader->name(), name);
        EXPECT_TRUE(reader->writer_alive());
    }
    EXPECT_FALSE(shm_exists(name)) << "the writer's destructor must unlink the name";
}

TEST_F(Lifecycle, MovedWriterKeepsTheRing)
{
    const auto name = ring_name();
    auto created = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(created));
    {
        Writer moved = std::move(*created);
        EXPECT_TRUE(shm_exists(name));
        auto reader = Reader::attach(name);
        ASSERT_TRUE(is_ok(reader));
        const std::byte data[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
        ASSERT_TRUE(is_ok(moved.write(data)));
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(frame->payload().size(), 3u);
    }
    EXPECT_FALSE(shm_exists(name)) << "destroying the moved-to writer closes the ring";
    // The moved-from writer in `created` is destroyed at scope end and must do nothing harmful.
}

TEST_F(Lifecycle, InvalidNamesAreRejected)
{
    const std::string too_long(201, 'a');
    const std::string with_nul("ab\0cd", 5);
    const std::vector<std::string> bad = {"", "a/b", "/abs", "a b", "tab\there", "new\nline", "star*",
                                          "caf\xc3\xa9", "semi;colon", too_long, with_nul};
    for (const auto& name : bad) {
        SCOPED_TRACE("name '" + name + "' (" + std::to_string(name.size()) + " chars)");
        auto writer = Writer::create(name, small_ring());
        EXPECT_TRUE(is_error(writer, Errc::InvalidArgument));
        auto reader = Reader::attach(name);
        EXPECT_TRUE(is_error(reader, Errc::InvalidArgument));
        if (!name.empty() && name.find('/') == std::string::npos && name.find('\0') == std::string::npos) {
            EXPECT_FALSE(shm_exists(name)) << "a rejected name must not have created anything";
        }
    }
}

TEST_F(Lifecycle, NamesBeginningWithADashAreRejected)
{
    // Programs take ring names as arguments: "--help" or "-x" must never become a ring.
    for (const std::string& name : std::vector<std::string>{"--help", "-", "-x", "--" + ring_name()}) {
        SCOPED_TRACE("name '" + name + "'");
        auto writer = Writer::create(name, small_ring());
        ASSERT_TRUE(is_error(writer, Errc::InvalidArgument));
        EXPECT_NE(writer.error().message.find("must not begin with '-'"), std::string::npos) << writer.error().message;
        EXPECT_TRUE(is_error(Reader::attach(name), Errc::InvalidArgument));
        EXPECT_FALSE(shm_exists(name));
    }
    const auto inner = ring_name("-a-b-");
    auto writer = Writer::create(inner, small_ring());
    EXPECT_TRUE(is_ok(writer)) << "a '-' inside or at the end of a name is fine";
}

TEST_F(Lifecycle, LongestValidNameAndFullAlphabetWork)
{
    // 200 characters, drawn from the whole alphabet [A-Za-z0-9._-].
    std::string name = own_name_prefix() + "AZaz09._-";
    while (name.size() < 200) {
        name += static_cast<char>('a' + name.size() % 26);
    }
    ASSERT_EQ(name.size(), 200u);
    {
        auto writer = Writer::create(name, small_ring());
        ASSERT_TRUE(is_ok(writer));
        EXPECT_TRUE(shm_exists(name));
        auto reader = Reader::attach(name);
        ASSERT_TRUE(is_ok(reader));
    }
    EXPECT_FALSE(shm_exists(name));
}

TEST_F(Lifecycle, InvalidOptionsAreRejectedNamingTheOption)
{
    const auto name = ring_name();
    {
        auto options = small_ring();
        options.max_readers = 0;
        auto writer = Writer::create(name, options);
        ASSERT_TRUE(is_error(writer, Errc::InvalidArgument));
        EXPECT_NE(writer.error().message.find("max_readers"), std::string::npos) << writer.error().message;
    }
    {
        auto options = small_ring();
        options.max_readers = 65;
        auto writer = Writer::create(name, options);
        ASSERT_TRUE(is_error(writer, Errc::InvalidArgument));
        EXPECT_NE(writer.error().message.find("max_readers"), std::string::npos) << writer.error().message;
    }
    {
        auto options = small_ring();
        options.integrity = zerobuffer::Integrity::Mac;
        options.secret.clear();
        auto writer = Writer::create(name, options);
        ASSERT_TRUE(is_error(writer, Errc::InvalidArgument));
        EXPECT_NE(writer.error().message.find("secret"), std::string::npos) << writer.error().message;
    }
    EXPECT_FALSE(shm_exists(name)) << "a refused creation must leave nothing behind";
    {
        auto options = small_ring();
        options.max_readers = 64; // the upper limit itself is valid
        auto writer = Writer::create(name, options);
        EXPECT_TRUE(is_ok(writer));
    }
}

TEST_F(Lifecycle, SecondWriterIsBusyAndNamesTheOwnerPid)
{
    const auto name = ring_name();
    auto first = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(first));
    auto second = Writer::create(name, small_ring());
    ASSERT_TRUE(is_error(second, Errc::Busy));
    EXPECT_NE(second.error().message.find(std::to_string(getpid())), std::string::npos)
        << "Busy message should name the owner pid " << getpid() << ": " << second.error().message;

    // The refused creation must not have disturbed the live ring.
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::byte one[1] = {std::byte{42}};
    ASSERT_TRUE(is_ok(first->write(one)));
    auto frame = reader->acquire(1s);
    ASSERT_TRUE(is_ok(frame));
    ASSERT_EQ(frame->payload().size(), 1u);
    EXPECT_EQ(frame->payload()[0], std::byte{42});
}

TEST_F(Lifecycle, NewWriterAfterCleanCloseSucceeds)
{
    const auto name = ring_name();
    for (int round = 0; round < 5; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        auto writer = Writer::create(name, small_ring());
        ASSERT_TRUE(is_ok(writer));
        auto reader = Reader::attach(name);
        ASSERT_TRUE(is_ok(reader));
        const std::byte data[2] = {std::byte{7}, static_cast<std::byte>(round)};
        ASSERT_TRUE(is_ok(writer->write(data)));
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        EXPECT_EQ(frame->payload()[1], static_cast<std::byte>(round));
    }
}

TEST_F(Lifecycle, ReaderBeyondMaxReadersIsBusyAndFreedSlotIsReused)
{
    const auto name = ring_name();
    auto options = small_ring();
    options.max_readers = 3;
    auto writer = Writer::create(name, options);
    ASSERT_TRUE(is_ok(writer));

    std::vector<Reader> readers;
    std::set<std::uint32_t> slots;
    for (int i = 0; i < 3; ++i) {
        auto reader = Reader::attach(name);
        ASSERT_TRUE(is_ok(reader));
        EXPECT_LT(reader->slot_index(), 3u);
        slots.insert(reader->slot_index());
        readers.push_back(std::move(*reader));
    }
    EXPECT_EQ(slots.size(), 3u) << "every reader must get its own slot";
    EXPECT_EQ(writer->reader_count(), 3u);

    auto extra = Reader::attach(name);
    EXPECT_TRUE(is_error(extra, Errc::Busy));

    ReaderOptions latest;
    latest.policy = zerobuffer::ReaderPolicy::Latest;
    EXPECT_TRUE(is_error(Reader::attach(name, latest), Errc::Busy)) << "latest readers need a slot too";

    const std::uint32_t freed = readers[1].slot_index();
    readers.erase(readers.begin() + 1);
    EXPECT_EQ(writer->reader_count(), 2u);
    auto again = Reader::attach(name);
    ASSERT_TRUE(is_ok(again));
    EXPECT_EQ(again->slot_index(), freed);
    EXPECT_TRUE(is_error(Reader::attach(name), Errc::Busy));
}

TEST_F(Lifecycle, AttachToMissingRingIsNotFound)
{
    const auto name = ring_name();
    auto reader = Reader::attach(name);
    EXPECT_TRUE(is_error(reader, Errc::NotFound));
    EXPECT_FALSE(shm_exists(name)) << "attach must never create a ring";
}

TEST_F(Lifecycle, AttachAfterWriterClosedIsNotFound)
{
    const auto name = ring_name();
    {
        auto writer = Writer::create(name, small_ring());
        ASSERT_TRUE(is_ok(writer));
    }
    EXPECT_TRUE(is_error(Reader::attach(name), Errc::NotFound));
}

TEST_F(Lifecycle, ReaderDrainsThenGetsWriterGoneAfterClose)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::uint64_t seed = 99;
    std::vector<FrameSpec> specs;
    for (std::uint64_t i = 0; i < 5; ++i) {
        specs.push_back(spec_for(seed, i, 2000, 100));
        ASSERT_TRUE(is_ok(write_spec(*writer, seed, i, specs.back())));
    }
    auto held = reader->acquire(1s);
    ASSERT_TRUE(is_ok(held));
    EXPECT_EQ(check_frame(*held, seed, 0, specs[0]), "");

    std::optional<Writer> owner(std::move(*writer));
    owner.reset(); // closes the ring
    EXPECT_FALSE(shm_exists(name));
    EXPECT_FALSE(reader->writer_alive());

    // A frame held across the close stays readable.
    EXPECT_EQ(check_frame(*held, seed, 0, specs[0]), "");
    held->release();
    for (std::uint64_t i = 1; i < 5; ++i) {
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame)) << "frame " << i << " was committed before the close";
        EXPECT_EQ(check_frame(*frame, seed, i, specs[i]), "");
    }
    auto gone = reader->acquire(bound(2000ms));
    EXPECT_TRUE(is_error(gone, Errc::WriterGone));
    auto still_gone = reader->acquire(0ns);
    EXPECT_TRUE(is_error(still_gone, Errc::WriterGone)) << "WriterGone is final";
}

TEST_F(Lifecycle, WaitForReadersAndReaderCount)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    EXPECT_EQ(writer->reader_count(), 0u);
    EXPECT_TRUE(is_error(writer->wait_for_readers(1, 30ms), Errc::Timeout));
    auto first = Reader::attach(name);
    ASSERT_TRUE(is_ok(first));
    EXPECT_TRUE(is_ok(writer->wait_for_readers(1, 1s)));
    EXPECT_TRUE(is_error(writer->wait_for_readers(2, 30ms), Errc::Timeout));
    std::thread late([&] {
        std::this_thread::sleep_for(20ms);
        auto second = Reader::attach(name);
        EXPECT_TRUE(is_ok(second));
        std::this_thread::sleep_for(200ms); // stay attached while the writer checks
    });
    EXPECT_TRUE(is_ok(writer->wait_for_readers(2, bound(5000ms))));
    late.join();
    EXPECT_EQ(writer->reader_count(), 1u) << "the thread's reader detached";
}

TEST_F(Lifecycle, RemoveStaleRingRefusesLiveRingsAndReportsMissingOnes)
{
    const auto name = ring_name();
    EXPECT_TRUE(is_error(zerobuffer::remove_stale_ring(name), Errc::NotFound));
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    EXPECT_TRUE(is_error(zerobuffer::remove_stale_ring(name), Errc::Busy));
    EXPECT_TRUE(shm_exists(name)) << "a live ring must never be removed";
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::byte data[1] = {std::byte{5}};
    ASSERT_TRUE(is_ok(writer->write(data)));
    auto frame = reader->acquire(1s);
    EXPECT_TRUE(is_ok(frame)) << "the ring still works after the refused removal";
}

TEST_F(Lifecycle, ErrcNamesAreDistinct)
{
    const std::vector<Errc> codes = {Errc::InvalidArgument, Errc::NotFound,        Errc::Busy,
                                     Errc::Timeout,         Errc::WriterGone,      Errc::CorruptSegment,
                                     Errc::VersionMismatch, Errc::FrameTooLarge,   Errc::ChecksumMismatch,
                                     Errc::AuthenticationFailed, Errc::InvalidState, Errc::SystemError};
    std::set<std::string> names;
    for (auto code : codes) {
        names.insert(std::string(zerobuffer::to_string(code)));
    }
    EXPECT_EQ(names.size(), codes.size());
    EXPECT_EQ(zerobuffer::to_string(Errc::Busy), "Busy");
    EXPECT_EQ(zerobuffer::to_string(Errc::WriterGone), "WriterGone");
}

} // namespace
