// SPDX-License-Identifier: MIT
// White-box tests: damaged control blocks, record headers and files in /dev/shm give errors, never crashes.
// Uses the private layout (core/src/layout.h) read-only to aim at each field.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "layout.h"
#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;
namespace detail = zerobuffer::detail;

class CorruptSegment : public RingTest {};

/// Creates /dev/shm/zb-NAME with the given bytes (not a ring made by the library).
void write_file(const std::string& name, std::span<const std::byte> bytes)
{
    const int fd = open(shm_path(name).c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    if (!bytes.empty()) {
        ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    }
    close(fd);
}

/// Attach must fail with one of `codes` and a message; inspect_ring must not crash either.
void expect_refused(const std::string& name, std::initializer_list<Errc> codes, const std::string& what)
{
    SCOPED_TRACE(what);
    auto reader = Reader::attach(name);
    EXPECT_TRUE(is_error_in(reader, codes));
    if (!reader) {
        EXPECT_GT(reader.error().message.size(), 20u) << "the message must say what is wrong: " << reader.error().message;
    }
    (void)zerobuffer::inspect_ring(name); // any result, but no crash
}

TEST_F(CorruptSegment, EmptyAndTooSmallFilesAreRefused)
{
    const auto name = ring_name();
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{10}, sizeof(detail::ControlBlock) - 1}) {
        std::vector<std::byte> bytes(size, std::byte{0});
        if (size >= 8) {
            std::memcpy(bytes.data(), &detail::kMagic, 8); // even with the right magic
        }
        ASSERT_NO_FATAL_FAILURE(write_file(name, bytes));
        expect_refused(name, {Errc::CorruptSegment}, "file of " + std::to_string(size) + " bytes");
    }
    // A writer replaces such a file: nobody holds it.
    {
        auto writer = Writer::create(name, small_ring());
        ASSERT_TRUE(is_ok(writer));
        auto reader = Reader::attach(name);
        EXPECT_TRUE(is_ok(reader));
    }
    EXPECT_FALSE(shm_exists(name));
}

TEST_F(CorruptSegment, RandomGarbageIsRefused)
{
    const auto name = ring_name();
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    Rng rng(seed);
    for (int round = 0; round < 40; ++round) {
        std::vector<std::byte> bytes(static_cast<std::size_t>(rng.range(704, 300000)));
        fill_pattern(bytes, rng.next());
        if (round % 2 == 1) {
            std::memcpy(bytes.data(), &detail::kMagic, 8); // right magic, garbage behind it
            if (round % 4 == 1) {
                const std::uint32_t version = zerobuffer::kProtocolVersion;
                std::memcpy(bytes.data() + 8, &version, 4);
            }
        }
        ASSERT_NO_FATAL_FAILURE(write_file(name, bytes));
        expect_refused(name, {Errc::CorruptSegment, Errc::VersionMismatch}, "garbage round " + std::to_string(round));
    }
    unlink(shm_path(name).c_str());
}

/// A live ring whose control block the test may damage; restores the original bytes afterwards.
class DamagedRing {
public:
    explicit DamagedRing(const std::string& name) : name_(name), file_(shm_path(name))
    {
        if (file_.ok()) {
            const auto bytes = file_.bytes().first(sizeof(detail::ControlBlock));
            original_.assign(bytes.begin(), bytes.end());
        }
    }
    detail::ControlBlock& control() { return *reinterpret_cast<detail::ControlBlock*>(file_.bytes().data()); }
    std::span<std::byte> bytes() { return file_.bytes(); }
    void restore() { std::memcpy(file_.bytes().data(), original_.data(), original_.size()); }
    bool ok() const { return file_.ok(); }

private:
    std::string name_;
    MappedFile file_;
    std::vector<std::byte> original_;
};

/// Position of the first record's header in the file (the ring's first frame is written at ring offset 0).
std::size_t first_record_offset(DamagedRing& ring)
{
    return static_cast<std::size_t>(ring.control().payload_offset);
}

TEST_F(CorruptSegment, EveryDamagedControlBlockFieldIsRefused)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(64 * 1024));
    ASSERT_TRUE(is_ok(writer));
    DamagedRing ring(name);
    ASSERT_TRUE(ring.ok());
    const std::uint64_t segment_size = ring.control().segment_size;
    const std::uint64_t huge = std::uint64_t{1} << 62;

    struct Damage {
        std::string what;
        std::function<void(detail::ControlBlock&)> apply;
        std::initializer_list<Errc> codes;
    };
    const std::initializer_list<Errc> corrupt = {Errc::CorruptSegment};
    const std::initializer_list<Errc> version = {Errc::VersionMismatch};
    const std::vector<Damage> damages = {
        {"magic zero", [](auto& c) { c.magic.store(0); }, corrupt},
        {"magic off by one bit", [](auto& c) { c.magic.store(detail::kMagic ^ 1); }, corrupt},
        {"protocol version 2", [](auto& c) { c.protocol_version = zerobuffer::kProtocolVersion + 1; }, version},
        {"protocol version 0", [](auto& c) { c.protocol_version = 0; }, version},
        {"protocol version max", [](auto& c) { c.protocol_version = 0xffffffffu; }, version},
        {"control block size", [](auto& c) { c.control_block_size += 64; }, version},
        {"reader slot size", [](auto& c) { c.reader_slot_size = 64; }, version},
        {"frame header size", [](auto& c) { c.frame_header_size = 256; }, version},
        {"metadata slot header size", [](auto& c) { c.metadata_slot_header_size = 0; }, version},
        {"segment size zero", [](auto& c) { c.segment_size = 0; }, corrupt},
        {"segment size huge", [huge](auto& c) { c.segment_size = huge; }, corrupt},
        {"segment size +4096", [segment_size](auto& c) { c.segment_size = segment_size + 4096; }, corrupt},
        {"max_readers zero", [](auto& c) { c.max_readers = 0; }, corrupt},
        {"max_readers 65", [](auto& c) { c.max_readers = 65; }, corrupt},
        {"max_readers huge", [](auto& c) { c.max_readers = 0xffffffffu; }, corrupt},
        {"readers offset zero", [](auto& c) { c.readers_offset = 0; }, corrupt},
        {"readers offset unaligned", [](auto& c) { c.readers_offset += 1; }, corrupt},
        {"readers offset huge", [huge](auto& c) { c.readers_offset = huge; }, corrupt},
        {"readers offset past the end", [segment_size](auto& c) { c.readers_offset = segment_size - 64; }, corrupt},
        {"metadata offset zero", [](auto& c) { c.metadata_offset = 0; }, corrupt},
        {"metadata offset huge", [huge](auto& c) { c.metadata_offset = huge; }, corrupt},
        {"metadata capacity huge", [huge](auto& c) { c.metadata_capacity = huge; }, corrupt},
        {"metadata capacity without stride", [](auto& c) { c.metadata_capacity += 4096; }, corrupt},
        {"metadata stride huge", [huge](auto& c) { c.metadata_slot_stride = huge; }, corrupt},
        {"metadata stride and capacity overflow together",
         [](auto& c) {
             c.metadata_capacity = detail::kMaxMetadataCapacity;
             c.metadata_slot_stride = sizeof(detail::MetadataSlotHeader) + detail::kMaxMetadataCapacity;
         },
         corrupt},
        {"metadata slots zero", [](auto& c) { c.metadata_slots = 0; }, corrupt},
        {"payload offset zero", [](auto& c) { c.payload_offset = 0; }, corrupt},
        {"payload offset unaligned", [](auto& c) { c.payload_offset += 64; }, corrupt},
        {"payload offset huge", [huge](auto& c) { c.payload_offset = huge; }, corrupt},
        {"payload offset at the end", [segment_size](auto& c) { c.payload_offset = segment_size; }, corrupt},
        {"payload capacity zero", [](auto& c) { c.payload_capacity = 0; }, corrupt},
        {"payload capacity huge", [huge](auto& c) { c.payload_capacity = huge; }, corrupt},
        {"payload capacity one page more", [](auto& c) { c.payload_capacity += 4096; }, corrupt},
        {"payload capacity one page less", [](auto& c) { c.payload_capacity -= 4096; }, corrupt},
        {"payload capacity and segment size both larger",
         [segment_size](auto& c) {
             c.payload_capacity += 4096;
             c.segment_size = segment_size + 4096;
         },
         corrupt},
        {"integrity mode 7", [](auto& c) { c.integrity = 7; }, corrupt},
    };
    for (const auto& damage : damages) {
        damage.apply(ring.control());
        expect_refused(name, damage.codes, damage.what);
        ring.restore();
        // The ring works again once repaired (and the refused attach left no slot taken).
        auto reader = Reader::attach(name);
        ASSERT_TRUE(is_ok(reader)) << "after repairing: " << damage.what;
    }
    EXPECT_EQ(writer->reader_count(), 0u);
}

TEST_F(CorruptSegment, MessagesNameTheProblem)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    DamagedRing ring(name);
    ASSERT_TRUE(ring.ok());
    ring.control().magic.store(0);
    auto bad_magic = Reader::attach(name);
    ASSERT_TRUE(is_error(bad_magic, Errc::CorruptSegment));
    EXPECT_NE(bad_magic.error().message.find("magic"), std::string::npos) << bad_magic.error().message;
    ring.restore();
    ring.control().protocol_version = 99;
    auto bad_version = Reader::attach(name);
    ASSERT_TRUE(is_error(bad_version, Errc::VersionMismatch));
    EXPECT_NE(bad_version.error().message.find("99"), std::string::npos) << bad_version.error().message;
    ring.restore();
}

TEST_F(CorruptSegment, DamagedRecordHeadersGiveCorruptSegmentFromAcquire)
{
    struct Damage {
        std::string what;
        std::function<void(detail::FrameHeader&)> apply;
    };
    const std::vector<Damage> damages = {
        {"record size zero", [](auto& h) { h.record_size = 0; }},
        {"record size unaligned", [](auto& h) { h.record_size = 100; }},
        {"record size beyond the ring", [](auto& h) { h.record_size = std::uint64_t{1} << 40; }},
        {"record size beyond the head", [](auto& h) { h.record_size += 4096; }},
        {"unknown record kind", [](auto& h) { h.kind = 0x12345678; }},
        {"payload size beyond the record", [](auto& h) { h.payload_size = h.record_size; }},
        {"payload size huge", [](auto& h) { h.payload_size = ~std::uint64_t{0}; }},
        {"payload offset inside the header", [](auto& h) { h.payload_offset = 64; }},
        {"payload offset unaligned", [](auto& h) { h.payload_offset = 129; }},
        {"payload offset beyond the record", [](auto& h) { h.payload_offset = 0x7fffffc0; }},
        {"metadata size beyond its room", [](auto& h) { h.metadata_size = 0xffffffffu; }},
    };
    for (const auto& damage : damages) {
        SCOPED_TRACE(damage.what);
        const auto name = ring_name();
        auto writer = Writer::create(name, small_ring(64 * 1024));
        ASSERT_TRUE(is_ok(writer));
        auto reader = Reader::attach(name);
        ASSERT_TRUE(is_ok(reader));
        std::vector<std::byte> data(1000);
        fill_pattern(data, 5);
        const std::byte meta[10] = {};
        ASSERT_TRUE(is_ok(writer->write(data, {}, meta)));
        DamagedRing ring(name);
        ASSERT_TRUE(ring.ok());
        auto& header = *reinterpret_cast<detail::FrameHeader*>(ring.bytes().data() + first_record_offset(ring));
        ASSERT_EQ(header.kind, static_cast<std::uint32_t>(detail::RecordKind::Frame)) << "layout assumption";
        damage.apply(header);
        auto frame = reader->acquire(200ms);
        EXPECT_TRUE(is_error(frame, Errc::CorruptSegment));
    }
}

TEST_F(CorruptSegment, SequenceJumpsAreCountedAsGapsByALosslessReader)
{
    // Without integrity a damaged sequence number is still a well-formed frame: the reader must report the
    // jump (frames_skipped on the frame, sequence_gaps in its counters) instead of hiding it.
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(64 * 1024));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::byte data[100] = {};
    for (int i = 0; i < 3; ++i) {
        zerobuffer::FrameInfo info;
        info.pts = i;
        ASSERT_TRUE(is_ok(writer->write(data, info)));
    }
    DamagedRing ring(name);
    ASSERT_TRUE(ring.ok());
    const std::size_t first = first_record_offset(ring);
    const auto& a = *reinterpret_cast<detail::FrameHeader*>(ring.bytes().data() + first);
    auto& b = *reinterpret_cast<detail::FrameHeader*>(ring.bytes().data() + first + a.record_size);
    ASSERT_EQ(b.pts, 1) << "layout assumption";
    b.sequence += 5;

    auto fa = reader->acquire(1s);
    ASSERT_TRUE(is_ok(fa));
    EXPECT_EQ(fa->frames_skipped(), 0u);
    EXPECT_EQ(reader->counters().sequence_gaps, 0u);
    auto fb = reader->acquire(1s);
    ASSERT_TRUE(is_ok(fb));
    EXPECT_EQ(fb->info().pts, 1);
    EXPECT_EQ(fb->frames_skipped(), 5u) << "five sequence numbers are missing before this frame";
    EXPECT_EQ(reader->counters().sequence_gaps, 1u);
    auto fc = reader->acquire(1s);
    ASSERT_TRUE(is_ok(fc));
    EXPECT_EQ(fc->info().pts, 2);
    EXPECT_EQ(reader->counters().sequence_gaps, 2u) << "going back is an unexpected jump too";
    EXPECT_EQ(reader->counters().frames_skipped, 0u) << "frames_skipped counts drops of latest readers only";
}

TEST_F(CorruptSegment, HeadFarAheadGivesCorruptSegment)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(64 * 1024));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    DamagedRing ring(name);
    ASSERT_TRUE(ring.ok());
    ring.control().head.store(std::uint64_t{1} << 50);
    EXPECT_TRUE(is_error(reader->acquire(200ms), Errc::CorruptSegment));
    ring.control().head.store(100); // not aligned to a record
    EXPECT_TRUE(is_error(reader->acquire(200ms), Errc::CorruptSegment));
    ring.control().head.store(0);
}

TEST_F(CorruptSegment, DamagedStreamMetadataSizeGivesCorruptSegment)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring());
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    auto generation = writer->set_stream_metadata(R"({"media_type":"video/x-raw"})");
    ASSERT_TRUE(is_ok(generation));
    ASSERT_TRUE(is_ok(writer->write({})));
    DamagedRing ring(name);
    ASSERT_TRUE(ring.ok());
    const auto& control = ring.control();
    const std::size_t slot_offset = static_cast<std::size_t>(
        control.metadata_offset + (*generation % detail::kMetadataSlots) * control.metadata_slot_stride);
    auto& slot = *reinterpret_cast<detail::MetadataSlotHeader*>(ring.bytes().data() + slot_offset);
    ASSERT_EQ(slot.generation, *generation) << "layout assumption";
    slot.size = std::uint64_t{1} << 40;
    EXPECT_TRUE(is_error(reader->acquire(200ms), Errc::CorruptSegment));
}

} // namespace
