// SPDX-License-Identifier: MIT
// The per-frame metadata format: every record round-trips, other programs' bytes pass as user data, and the decoder
// refuses (never crashes on, never reads past) bytes that break the format.
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "frame_meta.h"

namespace fm = zerobuffer::gst::frame_meta;

namespace {

fm::FrameMeta everything()
{
    fm::FrameMeta meta;
    meta.segment = fm::Segment{1, 1.0, 1.0, 400'000'000, 0, 0, fm::kNone, 0, fm::kNone};
    meta.audio = fm::AudioLayout{1024, {0, 4096, 8192, 12288, 16384, 20480}};
    meta.regions.push_back(
        {"person", 3, -1, 10, 20, 300, 400, {"detection, label=(string)person, confidence=(double)0.875"}});
    meta.regions.push_back({"face", 4, 3, 50, 60, 70, 80, {}});
    meta.timecode = fm::TimeCode{25, 1, 0, 1, 2, 3, 4, 1, "2024-05-01T10:00:00Z"};
    meta.references.push_back({"timestamp/x-ntp", 3'900'000'000'000'000'000ULL, 40'000'000});
    meta.custom.push_back({"MyAppMeta", "MyAppMeta, score=(int)7;"});
    meta.user_data = std::vector<std::byte>{std::byte{0}, std::byte{1}, std::byte{0xff}};
    return meta;
}

std::vector<std::byte> encoded(const fm::FrameMeta& meta)
{
    std::vector<std::byte> bytes;
    fm::encode(meta, bytes);
    return bytes;
}

void put_u32(std::vector<std::byte>& bytes, std::size_t at, std::uint32_t value)
{
    std::memcpy(bytes.data() + at, &value, sizeof value);
}

} // namespace

TEST(FrameMeta, EveryRecordRoundTrips)
{
    const fm::FrameMeta meta = everything();
    const std::vector<std::byte> bytes = encoded(meta);
    ASSERT_GE(bytes.size(), fm::kHeaderSize);
    EXPECT_EQ(bytes.size() % 8, 0u) << "records are padded to 8 bytes";
    auto decoded = fm::decode(bytes);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
    EXPECT_EQ(*decoded, meta);
}

TEST(FrameMeta, NothingEncodesToNothing)
{
    EXPECT_TRUE(encoded(fm::FrameMeta{}).empty());
    auto decoded = fm::decode({});
    ASSERT_TRUE(decoded.has_value());
    EXPECT_TRUE(decoded->empty());
}

TEST(FrameMeta, TheWriterVectorIsReused)
{
    std::vector<std::byte> bytes;
    fm::encode(everything(), bytes);
    const std::byte* storage = bytes.data();
    fm::FrameMeta small;
    small.segment = fm::Segment{};
    fm::encode(small, bytes);
    EXPECT_EQ(bytes.data(), storage) << "a smaller encoding must not reallocate";
    auto decoded = fm::decode(bytes);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, small);
}

TEST(FrameMeta, BytesOfAnotherFormatAreUserData)
{
    const std::vector<std::byte> foreign{std::byte{'D'}, std::byte{'E'}, std::byte{'M'}, std::byte{'O'}, std::byte{42}};
    auto decoded = fm::decode(foreign);
    ASSERT_TRUE(decoded.has_value());
    ASSERT_TRUE(decoded->user_data.has_value());
    EXPECT_EQ(*decoded->user_data, foreign);
    EXPECT_FALSE(decoded->segment.has_value());
    const std::vector<std::byte> short_one{std::byte{'Z'}, std::byte{'B'}};
    decoded = fm::decode(short_one);
    ASSERT_TRUE(decoded.has_value()) << "fewer bytes than the magic: another program's";
    EXPECT_EQ(*decoded->user_data, short_one);
}

TEST(FrameMeta, UnknownRecordsAreSkipped)
{
    std::vector<std::byte> bytes = encoded(everything());
    // Insert a record of type 99 with a 5-byte body (padded to 8) right after the header.
    std::vector<std::byte> record(8 + 8, std::byte{0x5a});
    const std::uint16_t type = 99;
    std::memcpy(record.data(), &type, sizeof type);
    put_u32(record, 4, 5);
    bytes.insert(bytes.begin() + fm::kHeaderSize, record.begin(), record.end());
    std::uint32_t records = 0;
    std::memcpy(&records, bytes.data() + 8, sizeof records);
    put_u32(bytes, 8, records + static_cast<std::uint32_t>(record.size()));
    auto decoded = fm::decode(bytes);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
    EXPECT_EQ(*decoded, everything());
}

TEST(FrameMeta, AnotherVersionIsRefused)
{
    std::vector<std::byte> bytes = encoded(everything());
    const std::uint16_t version = 2;
    std::memcpy(bytes.data() + 4, &version, sizeof version);
    auto decoded = fm::decode(bytes);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_EQ(decoded.error().code, zerobuffer::Errc::VersionMismatch);
    EXPECT_NE(decoded.error().message.find("version 2"), std::string::npos) << decoded.error().message;
}

TEST(FrameMeta, SizesPastTheEndAreRefused)
{
    const std::vector<std::byte> good = encoded(everything());
    std::vector<std::byte> bytes = good;
    put_u32(bytes, 8, static_cast<std::uint32_t>(bytes.size())); // records claim more than there is
    auto decoded = fm::decode(bytes);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_EQ(decoded.error().code, zerobuffer::Errc::CorruptSegment);

    bytes = good;
    put_u32(bytes, fm::kHeaderSize + 4, 0x7fffffff); // the first record's body claims 2 GiB
    decoded = fm::decode(bytes);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_NE(decoded.error().message.find("claims"), std::string::npos) << decoded.error().message;

    // A string inside the region record that claims more than its record holds.
    fm::FrameMeta region_only;
    region_only.regions.push_back({"car", 1, -1, 0, 0, 1, 1, {}});
    bytes = encoded(region_only);
    put_u32(bytes, fm::kHeaderSize + 8 + 24, 1000); // the type string's length
    decoded = fm::decode(bytes);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_NE(decoded.error().message.find("region-of-interest"), std::string::npos) << decoded.error().message;
}

TEST(FrameMeta, CountsAboveTheLimitsAreRefused)
{
    fm::FrameMeta audio_only;
    audio_only.audio = fm::AudioLayout{16, {0, 64}};
    std::vector<std::byte> bytes = encoded(audio_only);
    put_u32(bytes, fm::kHeaderSize + 8 + 4, 100000); // channels
    auto decoded = fm::decode(bytes);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_NE(decoded.error().message.find("limit"), std::string::npos) << decoded.error().message;

    fm::FrameMeta segment_only;
    segment_only.segment = fm::Segment{};
    bytes = encoded(segment_only);
    const double zero = 0.0;
    std::memcpy(bytes.data() + fm::kHeaderSize + 8 + 8, &zero, sizeof zero); // rate 0
    decoded = fm::decode(bytes);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_NE(decoded.error().message.find("rate"), std::string::npos) << decoded.error().message;
}

// Every truncation of a valid encoding, every byte flipped, and random tails: the decoder answers (a value or an
// error) and, under the sanitizers, never reads outside its bytes.
TEST(FrameMeta, DecoderNeverReadsPastItsBytes)
{
    const std::vector<std::byte> good = encoded(everything());
    for (std::size_t size = 4; size < good.size(); ++size) {
        const std::vector<std::byte> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size));
        auto decoded = fm::decode(cut); // The copy is exactly `size` bytes: ASan sees a read past it.
        EXPECT_FALSE(decoded.has_value()) << "a valid header over " << size << " of " << good.size() << " bytes";
    }
    std::mt19937 random(20240501);
    for (std::size_t at = 0; at < good.size(); ++at) {
        for (int flip = 0; flip < 4; ++flip) {
            std::vector<std::byte> bytes = good;
            bytes[at] ^= static_cast<std::byte>(1u << (random() % 8));
            (void)fm::decode(bytes);
        }
    }
    for (int round = 0; round < 2000; ++round) {
        std::vector<std::byte> bytes(good.begin(), good.begin() + fm::kHeaderSize);
        const std::size_t tail = random() % 256;
        for (std::size_t i = 0; i < tail; ++i)
            bytes.push_back(static_cast<std::byte>(random()));
        put_u32(bytes, 8, static_cast<std::uint32_t>(tail));
        (void)fm::decode(bytes);
    }
}
