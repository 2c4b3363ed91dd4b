// SPDX-License-Identifier: MIT
// Chaos frames: payload from (seed, index), FrameInfo from index, and a checksummed stamp in the metadata.
#include <chrono>
#include <cstring>

#include "chaos.h"
#include "support.h"

namespace zbchaos {

namespace {

// One 64-bit word of a running hash: splitmix over the state and the value.
std::uint64_t fold(std::uint64_t state, std::uint64_t value) noexcept { return zbtest::mix(state ^ zbtest::mix(value)); }

std::uint64_t stamp_checksum(const Stamp& stamp, const zerobuffer::FrameInfo& info,
                             std::span<const std::byte> payload) noexcept
{
    std::uint64_t hash = fold(stamp.magic, stamp.seed);
    for (const std::uint64_t field : {stamp.index, stamp.payload_size, stamp.format_generation,
                                      static_cast<std::uint64_t>(info.pts), static_cast<std::uint64_t>(info.dts),
                                      static_cast<std::uint64_t>(info.duration), info.offset, info.offset_end,
                                      static_cast<std::uint64_t>(info.flags)}) {
        hash = fold(hash, field);
    }
    std::size_t i = 0;
    for (; i + 8 <= payload.size(); i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, payload.data() + i, 8);
        hash = fold(hash, word);
    }
    std::uint64_t tail = payload.size();
    for (; i < payload.size(); ++i) {
        tail = (tail << 8) | static_cast<std::uint8_t>(payload[i]);
    }
    return fold(hash, tail);
}

} // namespace

std::int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string format_text(std::uint64_t seed, std::uint64_t generation)
{
    return R"({"chaos":{"seed":)" + std::to_string(seed) + R"(,"generation":)" + std::to_string(generation) + "}}";
}

zerobuffer::FrameInfo fill_frame(std::span<std::byte> payload, std::span<std::byte> metadata, std::uint64_t seed,
                                 std::uint64_t index, std::uint32_t format_generation)
{
    zbtest::fill_pattern(payload, zbtest::payload_seed(seed, index));
    const zerobuffer::FrameInfo info = zbtest::info_for(index, payload.size());
    Stamp stamp;
    stamp.seed = seed;
    stamp.index = index;
    stamp.payload_size = payload.size();
    stamp.format_generation = format_generation;
    stamp.checksum = stamp_checksum(stamp, info, payload);
    if (metadata.size() >= sizeof stamp) {
        std::memcpy(metadata.data(), &stamp, sizeof stamp);
    }
    return info;
}

Stamp read_stamp(const zerobuffer::Frame& frame)
{
    Stamp stamp{};
    stamp.magic = 0;
    if (frame.metadata().size() == sizeof stamp) {
        std::memcpy(&stamp, frame.metadata().data(), sizeof stamp);
    }
    return stamp;
}

namespace {

std::string find_problem(const zerobuffer::Frame& frame, const std::string& stream_metadata, const Expectation& expect)
{
    const std::string where = "frame of sequence " + std::to_string(frame.sequence()) + ": ";
    if (frame.metadata().size() != sizeof(Stamp)) {
        return where + "metadata of " + std::to_string(frame.metadata().size()) + " bytes, not a stamp";
    }
    const Stamp stamp = read_stamp(frame);
    if (stamp.magic != kStampMagic) {
        return where + "the stamp's magic is wrong";
    }
    if (stamp.checksum != stamp_checksum(stamp, frame.info(), frame.payload())) {
        return where + "checksum of header fields, metadata and payload differs";
    }
    if (expect.have_seed && stamp.seed != expect.seed) {
        return where + "a frame of writer " + std::to_string(stamp.seed) + " in the ring of writer " +
               std::to_string(expect.seed);
    }
    if (stamp.index != frame.sequence()) {
        return where + "carries index " + std::to_string(stamp.index);
    }
    if (stamp.payload_size != frame.payload().size()) {
        return where + "payload of " + std::to_string(frame.payload().size()) + " bytes, the stamp says " +
               std::to_string(stamp.payload_size);
    }
    if (auto at = zbtest::pattern_mismatch(frame.payload(), zbtest::payload_seed(stamp.seed, stamp.index))) {
        return where + "payload byte " + std::to_string(*at) + " differs from the writer's pattern";
    }
    const zerobuffer::FrameInfo want = zbtest::info_for(stamp.index, frame.payload().size());
    const zerobuffer::FrameInfo& got = frame.info();
    if (got.pts != want.pts || got.dts != want.dts || got.duration != want.duration || got.offset != want.offset ||
        got.offset_end != want.offset_end || got.flags != want.flags) {
        return where + "FrameInfo fields differ from what the writer committed";
    }
    if (frame.format_generation() != stamp.format_generation) {
        return where + "format generation " + std::to_string(frame.format_generation()) + ", written under " +
               std::to_string(stamp.format_generation);
    }
    if (stamp.format_generation != 0 && stream_metadata != format_text(stamp.seed, stamp.format_generation)) {
        return where + "stream metadata '" + stream_metadata + "' is not the document of generation " +
               std::to_string(stamp.format_generation);
    }
    if (expect.have_previous) {
        if (expect.lossless && (frame.sequence() != expect.previous + 1 || frame.frames_skipped() != 0)) {
            return where + "lossless reader got it after sequence " + std::to_string(expect.previous) + " (skipped " +
                   std::to_string(frame.frames_skipped()) + ")";
        }
        if (!expect.lossless && frame.sequence() <= expect.previous) {
            return where + "latest reader got it after sequence " + std::to_string(expect.previous);
        }
    }
    return "";
}

} // namespace

std::string verify_frame(const zerobuffer::Frame& frame, const std::string& stream_metadata, Expectation& expect)
{
    std::string problem = find_problem(frame, stream_metadata, expect);
    // The order is checked from this frame on, also after a bad one, so one corruption is counted once.
    if (!expect.have_seed && problem.empty()) {
        expect.have_seed = true;
        expect.seed = read_stamp(frame).seed;
    }
    expect.have_previous = true;
    expect.previous = frame.sequence();
    return problem;
}

} // namespace zbchaos
