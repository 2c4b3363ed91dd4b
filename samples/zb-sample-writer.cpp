// SPDX-License-Identifier: MIT
// zb-sample-writer: the smallest complete ZeroBuffer writer. Publishes FRAMES 640x480 I420 frames.
//
//   zb-sample-writer RING [FRAMES]      (then, in another shell: zb-sample-reader RING)
//
// Copy this file to start your own producer. Frames are drawn directly in the ring's shared memory
// (reserve -> fill -> commit), so nothing is copied between this process and its readers.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include <zerobuffer/zerobuffer.h>

namespace {

constexpr std::uint32_t kWidth = 640;
constexpr std::uint32_t kHeight = 480;
constexpr std::int64_t kFrameDurationNs = 1'000'000'000 / 30; // 30 frames per second.

// FNV-1a: a simple checksum the reader computes too, to show that the bytes arrived intact.
std::uint64_t fnv1a(std::uint64_t hash, std::span<const std::byte> bytes)
{
    for (const std::byte b : bytes) {
        hash = (hash ^ static_cast<std::uint8_t>(b)) * 0x100000001b3ULL;
    }
    return hash;
}

constexpr const char* kUsage = R"(Usage: zb-sample-writer RING [FRAMES]

Creates ring RING, waits up to 60 s for a reader, then writes FRAMES (default 100) 640x480 I420 frames
of a moving gray ramp and prints their checksum. In another shell: zb-sample-reader RING
Exit status: 0 done, 1 the ring failed (see the message), 2 usage error.
)";

// A whole decimal number, nothing else ("10x" and "" are refused).
bool parse_count(std::string_view text, long& value)
{
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc{} && end == text.data() + text.size();
}

} // namespace

int main(int argc, char** argv)
{
    // 0. The command line: RING [FRAMES]. Exit status 2 and the usage for anything else.
    const std::string_view first = argc > 1 ? argv[1] : "";
    if (first == "-h" || first == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    long frames = 100;
    if (argc < 2 || argc > 3 || first.starts_with("-") || (argc == 3 && !parse_count(argv[2], frames)) || frames <= 0) {
        std::fprintf(stderr, "zb-sample-writer: expected RING [FRAMES], FRAMES a positive number\n%s", kUsage);
        return 2;
    }
    const std::string ring(first);

    // 1. Describe the stream. Readers (and zbctl, GStreamer, FFmpeg tools) read this from the ring.
    //    I420 = a full-size Y plane followed by quarter-size U and V planes.
    zerobuffer::StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "I420";
    format.width = kWidth;
    format.height = kHeight;
    format.framerate = zerobuffer::Fraction{30, 1};
    const std::uint64_t y_size = std::uint64_t{kWidth} * kHeight;
    format.planes = {{0, kWidth}, {y_size, kWidth / 2}, {y_size + y_size / 4, kWidth / 2}};
    format.frame_size = y_size * 3 / 2;
    const std::size_t frame_size = static_cast<std::size_t>(*format.frame_size);

    // 2. Create the ring: /dev/shm/zb-RING. 16 MiB holds about 36 of these frames.
    zerobuffer::WriterOptions options;
    options.ring_size = std::size_t{16} << 20;
    auto writer = zerobuffer::Writer::create(ring, options);
    if (!writer) {
        std::fprintf(stderr, "cannot create ring '%s': %s\n", ring.c_str(), writer.error().message.c_str());
        return 1;
    }
    if (auto generation = writer->set_stream_metadata(zerobuffer::to_json(format)); !generation) {
        std::fprintf(stderr, "cannot set stream metadata: %s\n", generation.error().message.c_str());
        return 1;
    }

    // 3. Wait for a reader, so that it sees every frame (frames written before it attaches are not
    //    delivered to it). A live video source would simply start writing instead.
    std::fprintf(stderr, "ring '%s' ready, waiting for a reader (zb-sample-reader %s)\n", ring.c_str(), ring.c_str());
    if (auto ready = writer->wait_for_readers(1, std::chrono::seconds(60)); !ready) {
        std::fprintf(stderr, "no reader came: %s\n", ready.error().message.c_str());
        return 1;
    }

    // 4. Write the frames: reserve room in the ring, draw into it, commit. reserve() waits while a
    //    lossless reader still needs the space (up to WriterOptions::reader_timeout).
    std::uint64_t checksum = 0xcbf29ce484222325ULL;
    for (long i = 0; i < frames; ++i) {
        auto frame = writer->reserve(frame_size);
        if (!frame) {
            std::fprintf(stderr, "reserve failed at frame %ld: %s\n", i, frame.error().message.c_str());
            return 1;
        }
        std::span<std::byte> pixels = frame->payload();
        // A gray ramp moving one pixel per frame: luma = x + y + i, chroma = 128 (no colour).
        for (std::uint32_t y = 0; y < kHeight; ++y) {
            for (std::uint32_t x = 0; x < kWidth; ++x) {
                pixels[y * kWidth + x] = static_cast<std::byte>((x + y + static_cast<std::uint32_t>(i)) & 0xff);
            }
        }
        std::fill(pixels.begin() + static_cast<std::ptrdiff_t>(y_size), pixels.end(), std::byte{128});
        checksum = fnv1a(checksum, pixels);

        zerobuffer::FrameInfo info;
        info.pts = i * kFrameDurationNs; // Timestamps are nanoseconds.
        info.duration = kFrameDurationNs;
        info.flags = zerobuffer::kFrameKeyframe; // Raw video: every frame stands alone.
        if (auto committed = writer->commit(*frame, info); !committed) {
            std::fprintf(stderr, "commit failed at frame %ld: %s\n", i, committed.error().message.c_str());
            return 1;
        }
    }

    // 5. Leaving main destroys the Writer: the ring is closed and its name removed. Readers still
    //    get every frame already committed, then Errc::WriterGone.
    std::printf("wrote %ld frames to ring %s, checksum %016llx\n", frames, ring.c_str(),
                static_cast<unsigned long long>(checksum));
    return 0;
}
