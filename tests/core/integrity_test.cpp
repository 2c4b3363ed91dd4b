// SPDX-License-Identifier: MIT
// Unit tests of per-frame integrity: BLAKE2b checksums and keyed MACs, with bytes corrupted in shared memory.
#include "support.h"

namespace {

using namespace zbtest;
using zerobuffer::Errc;
using zerobuffer::FrameInfo;
using zerobuffer::Integrity;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;
using zerobuffer::WriterOptions;

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef-test-secret";

class FrameIntegrity : public RingTest {};

WriterOptions ring_with(Integrity integrity, std::string secret = {})
{
    auto options = small_ring(64 * 1024);
    options.integrity = integrity;
    options.secret = std::move(secret);
    return options;
}

ReaderOptions reader_with(std::string secret, bool verify = true)
{
    ReaderOptions options;
    options.secret = std::move(secret);
    options.verify = verify;
    return options;
}

/// Flips one byte inside the only occurrence of `marker` in the ring's shared memory.
::testing::AssertionResult corrupt_marker(const std::string& name, std::span<const std::byte> marker, std::size_t at)
{
    MappedFile file(shm_path(name));
    if (!file.ok()) {
        return ::testing::AssertionFailure() << "cannot map " << shm_path(name);
    }
    const auto hits = file.find_all(marker);
    if (hits.size() != 1) {
        return ::testing::AssertionFailure() << "marker found " << hits.size() << " times in the segment";
    }
    file.bytes()[hits[0] + at] ^= std::byte{0x5a};
    return ::testing::AssertionSuccess();
}

std::vector<std::byte> unique_marker(std::size_t size)
{
    std::vector<std::byte> marker(size);
    fill_pattern(marker, test_seed());
    return marker;
}

TEST_F(FrameIntegrity, ChecksumRingDeliversVerifiedFrames)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, ring_with(Integrity::Checksum));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    StreamModel stream(test_seed(), 20000, 200);
    for (int i = 0; i < 300; ++i) {
        ASSERT_TRUE(is_ok(stream.write(*writer)));
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        ASSERT_EQ(stream.check(*frame), "");
    }
    EXPECT_EQ(reader->counters().checksum_failures, 0u);
}

TEST_F(FrameIntegrity, CorruptedPayloadByteGivesChecksumMismatchAndTheFrameIsSkipped)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, ring_with(Integrity::Checksum));
    ASSERT_TRUE(is_ok(writer));
    auto verifying = Reader::attach(name);
    ASSERT_TRUE(is_ok(verifying));
    auto trusting = Reader::attach(name, reader_with("", false));
    ASSERT_TRUE(is_ok(trusting));

    const auto marker = unique_marker(4096);
    FrameInfo info;
    info.pts = 1;
    ASSERT_TRUE(is_ok(writer->write(marker, info)));
    info.pts = 2;
    const std::byte good[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
    ASSERT_TRUE(is_ok(writer->write(good, info)));
    ASSERT_TRUE(corrupt_marker(name, marker, 1000));

    EXPECT_TRUE(is_error(verifying->acquire(1s), Errc::ChecksumMismatch));
    EXPECT_EQ(verifying->counters().checksum_failures, 1u);
    auto next = verifying->acquire(1s);
    ASSERT_TRUE(is_ok(next)) << "the corrupted frame is skipped, the next one comes";
    EXPECT_EQ(next->info().pts, 2);
    EXPECT_EQ(next->payload().size(), 3u);
    EXPECT_EQ(verifying->counters().checksum_failures, 1u);

    // verify=false: the same frame arrives, with the flipped byte (the corruption is real).
    auto raw = trusting->acquire(1s);
    ASSERT_TRUE(is_ok(raw));
    EXPECT_EQ(raw->info().pts, 1);
    ASSERT_EQ(raw->payload().size(), marker.size());
    EXPECT_NE(raw->payload()[1000], marker[1000]);
    EXPECT_EQ(raw->payload()[999], marker[999]);
    EXPECT_EQ(trusting->counters().checksum_failures, 0u);
    EXPECT_EQ(next->sequence(), raw->sequence() + 1) << "the frame after the corrupted one";
    raw->release();
    next->release();
    auto second = trusting->acquire(1s);
    ASSERT_TRUE(is_ok(second));
    second->release();

    // The skipped frame's space was given back (the readers wait for data meanwhile, as real readers do).
    EXPECT_TRUE(is_ok(reserve_while_readers_wait(*writer, {&*verifying, &*trusting}, writer->max_payload_size())));
}

TEST_F(FrameIntegrity, CorruptedFrameMetadataGivesChecksumMismatch)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, ring_with(Integrity::Checksum));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const auto marker = unique_marker(256);
    const std::byte payload[16] = {};
    ASSERT_TRUE(is_ok(writer->write(payload, {}, marker)));
    ASSERT_TRUE(corrupt_marker(name, marker, 200));
    EXPECT_TRUE(is_error(reader->acquire(1s), Errc::ChecksumMismatch));
    EXPECT_EQ(reader->counters().checksum_failures, 1u);
}

TEST_F(FrameIntegrity, EveryCorruptedFrameIsCaughtAmongGoodOnes)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, ring_with(Integrity::Checksum));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name);
    ASSERT_TRUE(is_ok(reader));
    const std::uint64_t seed = test_seed();
    std::uint64_t failures = 0;
    for (int i = 0; i < 30; ++i) {
        std::vector<std::byte> marker(64 + static_cast<std::size_t>(i) * 37);
        fill_pattern(marker, seed + static_cast<std::uint64_t>(i));
        FrameInfo info;
        info.pts = i;
        ASSERT_TRUE(is_ok(writer->write(marker, info)));
        const bool corrupt = i % 3 == 1;
        if (corrupt) {
            ASSERT_TRUE(corrupt_marker(name, marker, marker.size() - 1 - static_cast<std::size_t>(i) % 64));
            EXPECT_TRUE(is_error(reader->acquire(1s), Errc::ChecksumMismatch)) << "frame " << i;
            ++failures;
        } else {
            auto frame = reader->acquire(1s);
            ASSERT_TRUE(is_ok(frame)) << "frame " << i;
            EXPECT_EQ(frame->info().pts, i);
            EXPECT_FALSE(pattern_mismatch(frame->payload(), seed + static_cast<std::uint64_t>(i)));
        }
    }
    EXPECT_EQ(reader->counters().checksum_failures, failures);
}

TEST_F(FrameIntegrity, MacRingWithTheRightSecretWorks)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, ring_with(Integrity::Mac, kSecret));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name, reader_with(kSecret));
    ASSERT_TRUE(is_ok(reader));
    StreamModel stream(test_seed(), 10000, 100);
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(is_ok(stream.write(*writer)));
        auto frame = reader->acquire(1s);
        ASSERT_TRUE(is_ok(frame));
        ASSERT_EQ(stream.check(*frame), "");
    }
    EXPECT_EQ(reader->counters().checksum_failures, 0u);
}

TEST_F(FrameIntegrity, MacRingRefusesAWrongOrMissingSecretAtAttach)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, ring_with(Integrity::Mac, kSecret));
    ASSERT_TRUE(is_ok(writer));
    std::string wrong = kSecret;
    wrong.back() = wrong.back() == 'x' ? 'y' : 'x';
    EXPECT_TRUE(is_error(Reader::attach(name, reader_with(wrong)), Errc::AuthenticationFailed));
    EXPECT_TRUE(is_error_in(Reader::attach(name, reader_with("short")),
                            {Errc::AuthenticationFailed, Errc::InvalidArgument}));
    EXPECT_TRUE(is_error_in(Reader::attach(name, reader_with("")),
                            {Errc::AuthenticationFailed, Errc::InvalidArgument}));
    EXPECT_EQ(writer->reader_count(), 0u) << "refused readers must not keep a slot";
    auto right = Reader::attach(name, reader_with(kSecret));
    EXPECT_TRUE(is_ok(right));
}

TEST_F(FrameIntegrity, CorruptedFrameOnAMacRingIsRefused)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, ring_with(Integrity::Mac, kSecret));
    ASSERT_TRUE(is_ok(writer));
    auto reader = Reader::attach(name, reader_with(kSecret));
    ASSERT_TRUE(is_ok(reader));
    const auto marker = unique_marker(2048);
    ASSERT_TRUE(is_ok(writer->write(marker)));
    const std::byte good[1] = {std::byte{9}};
    ASSERT_TRUE(is_ok(writer->write(good)));
    ASSERT_TRUE(corrupt_marker(name, marker, 7));
    EXPECT_TRUE(is_error_in(reader->acquire(1s), {Errc::ChecksumMismatch, Errc::AuthenticationFailed}));
    EXPECT_EQ(reader->counters().checksum_failures, 1u);
    auto next = reader->acquire(1s);
    ASSERT_TRUE(is_ok(next));
    ASSERT_EQ(next->payload().size(), 1u);
    EXPECT_EQ(next->payload()[0], std::byte{9});
}

TEST_F(FrameIntegrity, SecretDoesNotAppearInTheSegment)
{
    const auto name = ring_name();
    auto writer = Writer::create(name, ring_with(Integrity::Mac, kSecret));
    ASSERT_TRUE(is_ok(writer));
    MappedFile file(shm_path(name));
    ASSERT_TRUE(file.ok());
    const std::string secret = kSecret;
    const auto* bytes = reinterpret_cast<const std::byte*>(secret.data());
    EXPECT_TRUE(file.find_all(std::span<const std::byte>(bytes, secret.size())).empty())
        << "the shared segment must not store the secret itself";
}

} // namespace
