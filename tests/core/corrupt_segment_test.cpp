// SPDX-License-Identifier: MIT
// White-box tests: damaged control blocks, frame descriptors and files in /dev/shm give errors, never crashes.
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

/// The descriptor of frame `sequence` in the file.
detail::FrameDescriptor& descriptor_of(DamagedRing& ring, std::uint64_t sequence)
{
    const auto& control = ring.control();
    const std::uint64_t index = sequence % control.frame_slots;
    return *reinterpret_cast<detail::FrameDescriptor*>(ring.bytes().data() + control.descriptors_offset +
                                                       index * sizeof(detail::FrameDescriptor));
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
        {"protocol version +1", [](auto& c) { c.protocol_version = zerobuffer::kProtocolVersion + 1; }, version},
        {"protocol version 1 (a v1 segment)", [](auto& c) { c.protocol_version = 1; }, version},
        {"protocol version 0", [](auto& c) { c.protocol_version = 0; }, version},
        {"protocol version max", [](auto& c) { c.protocol_version = 0xffffffffu; }, version},
        {"control block size", [](auto& c) { c.control_block_size += 64; }, version},
        {"reader slot size", [](auto& c) { c.reader_slot_size = 64; }, version},
        {"descriptor size", [](auto& c) { c.descriptor_size = 256; }, version},
        {"holds per reader zero", [](auto& c) { c.holds_per_reader = 0; }, version},
        {"holds per reader huge", [](auto& c) { c.holds_per_reader = 0xffffffffu; }, version},
        {"holds per reader without slot size", [](auto& c) { c.holds_per_reader += 2; }, version},
        {"frame slots zero", [](auto& c) { c.frame_slots = 0; }, corrupt},
        {"frame slots not a power of two", [](auto& c) { c.frame_slots = 100; }, corrupt},
        {"frame slots huge", [](auto& c) { c.frame_slots = 0x80000000u; }, corrupt},
        {"frame slots larger than their room", [](auto& c) { c.frame_slots *= 2; }, corrupt},
        {"descriptors offset zero", [](auto& c) { c.descriptors_offset = 0; }, corrupt},
        {"descriptors offset unaligned", [](auto& c) { c.descriptors_offset += 8; }, corrupt},
        {"descriptors offset huge", [huge](auto& c) { c.descriptors_offset = huge; }, corrupt},
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

TEST_F(CorruptSegment, DamagedDescriptorsGiveCorruptSegmentFromAcquire)
{
    struct Damage {
        std::string what;
        std::function<void(detail::FrameDescriptor&)> apply;
    };
    const std::uint64_t huge = std::uint64_t{1} << 62;
    const std::vector<Damage> damages = {
        {"frame memory beyond the area", [huge](auto& d) { d.extent_offset.store(huge); }},
        {"frame memory unaligned", [](auto& d) { d.extent_offset.store(d.extent_offset.load() + 8); }},
        {"frame memory size beyond the area", [](auto& d) { d.extent_size.store(std::uint64_t{1} << 40); }},
        {"frame memory runs past the end", [](auto& d) { d.extent_offset.store(64 * 1024 - 64); }},
        {"payload size beyond the memory", [](auto& d) { d.payload_size.store(d.extent_size.load()); }},
        {"payload size huge", [](auto& d) { d.payload_size.store(~std::uint64_t{0}); }},
        {"payload offset unaligned", [](auto& d) { d.payload_offset.store(65); }},
        {"payload offset beyond the memory", [](auto& d) { d.payload_offset.store(0x7fffffc0); }},
        {"metadata size beyond its room", [](auto& d) { d.metadata_size.store(0xffffffffu); }},
        {"descriptor of another frame", [](auto& d) { d.tag.store(detail::tag_of(7)); }},
        {"descriptor being rewritten", [](auto& d) { d.tag.store(0); }},
    };
    for (const auto policy : {zerobuffer::ReaderPolicy::Lossless, zerobuffer::ReaderPolicy::Latest}) {
        for (const auto& damage : damages) {
            SCOPED_TRACE(damage.what + (policy == zerobuffer::ReaderPolicy::Latest ? " (latest)" : " (lossless)"));
            const auto name = ring_name();
            auto writer = Writer::create(name, small_ring(64 * 1024));
            ASSERT_TRUE(is_ok(writer));
            ReaderOptions options;
            options.policy = policy;
            auto reader = Reader::attach(name, options);
            ASSERT_TRUE(is_ok(reader));
            std::vector<std::byte> data(1000);
            fill_pattern(data, 5);
            const std::byte meta[10] = {};
            ASSERT_TRUE(is_ok(writer->write(data, {}, meta)));
            DamagedRing ring(name);
            ASSERT_TRUE(ring.ok());
            auto& descriptor = descriptor_of(ring, 0);
            ASSERT_EQ(descriptor.tag.load(), detail::tag_of(0)) << "layout assumption";
            ASSERT_EQ(descriptor.payload_size.load(), 1000u) << "layout assumption";
            damage.apply(descriptor);
            auto frame = reader->acquire(200ms);
            const bool tag_damage = damage.what.starts_with("descriptor");
            if (tag_damage && policy == zerobuffer::ReaderPolicy::Latest)
                EXPECT_TRUE(is_error(frame, Errc::Timeout)) << "a latest reader takes it as a frame taken back";
            else
                EXPECT_TRUE(is_error(frame, Errc::CorruptSegment));
        }
    }
}

TEST_F(CorruptSegment, CommittedCountFarAheadGivesCorruptSegment)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(64 * 1024));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    ASSERT_TRUE(is_ok(writer->write({})));
    DamagedRing ring(name);
    ASSERT_TRUE(ring.ok());
    ring.control().committed.store(std::uint64_t{1} << 50);
    EXPECT_TRUE(is_error(reader->acquire(200ms), Errc::CorruptSegment)) << "beyond the descriptors of a lossless reader";
    ring.control().committed.store(ring.control().frame_slots + 1u);
    EXPECT_TRUE(is_error(reader->acquire(200ms), Errc::CorruptSegment));
    ring.control().committed.store(2); // One frame more than written: its descriptor says so.
    EXPECT_TRUE(is_ok(reader->acquire(200ms)));
    EXPECT_TRUE(is_error(reader->acquire(200ms), Errc::CorruptSegment));
    ring.control().committed.store(0); // Going back: nothing new to read.
    EXPECT_TRUE(is_error(reader->acquire(50ms), Errc::Timeout));
    ring.control().committed.store(1);
}

TEST_F(CorruptSegment, DamagedHoldRecordsAndFloorNeverCrashTheWriterOrTools)
{
    // A hostile reader slot: garbage hold records, hold_high, cursor and policy. The writer must keep going (it
    // may keep too much memory, never too little for honest readers), and inspect_ring must stay in bounds.
    const auto name = ring_name();
    auto writer = Writer::create(name, small_ring(64 * 1024));
    ASSERT_TRUE(is_ok(writer));
    auto honest = Reader::attach(name);
    ASSERT_TRUE(is_ok(honest));
    ReaderOptions latest;
    latest.policy = zerobuffer::ReaderPolicy::Latest;
    auto victim = Reader::attach(name, latest);
    ASSERT_TRUE(is_ok(victim));
    DamagedRing ring(name);
    ASSERT_TRUE(ring.ok());
    const auto& control = ring.control();
    auto& slot = *reinterpret_cast<detail::ReaderSlot*>(ring.bytes().data() + control.readers_offset +
                                                        std::uint64_t{victim->slot_index()} * control.reader_slot_size);
    auto* records = reinterpret_cast<detail::HoldRecord*>(reinterpret_cast<std::byte*>(&slot) + sizeof(detail::ReaderSlot));
    slot.hold_high.store(0xffffffffu);
    for (std::uint32_t i = 0; i < control.holds_per_reader; ++i) {
        records[i].sequence.store(i % 2 == 0 ? i : ~std::uint64_t{0} - 1);
        records[i].bytes.store(~std::uint64_t{0});
        records[i].acquired_ns.store(-5);
    }
    slot.policy.store(77);
    StreamModel stream(3, 2000, 16);
    for (int i = 0; i < 300; ++i) {
        ASSERT_TRUE(is_ok(stream.write(*writer, bound(2000ms)))) << "frame " << i;
        auto frame = honest->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        ASSERT_EQ(stream.check(*frame), "");
    }
    auto snapshot = zerobuffer::inspect_ring(name);
    ASSERT_TRUE(is_ok(snapshot));
    for (const auto& r : snapshot->readers)
        EXPECT_LE(r.held_bytes, std::uint64_t{control.holds_per_reader} * control.payload_capacity);
    // The floor raised to the end by a hostile process: latest readers see frames as taken back, never garbage.
    ring.control().reclaim_floor.store(~std::uint64_t{0});
    ASSERT_TRUE(is_ok(writer->write({})));
    EXPECT_TRUE(is_error(victim->acquire(100ms), Errc::Timeout));
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
