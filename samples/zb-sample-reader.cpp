// SPDX-License-Identifier: MIT
// zb-sample-reader: the smallest complete ZeroBuffer reader. Reads frames and prints format, count, checksum.
//
//   zb-sample-reader RING [FRAMES]      (reads until the writer is gone, or FRAMES frames)
//
// Copy this file to start your own consumer. Frames are read in place in shared memory: acquire()
// hands out a read-only view, and the writer may reuse that memory only after the Frame is released.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include <zerobuffer/zerobuffer.h>

namespace {

// FNV-1a over all payload bytes, the same as zb-sample-writer prints.
std::uint64_t fnv1a(std::uint64_t hash, std::span<const std::byte> bytes)
{
    for (const std::byte b : bytes) {
        hash = (hash ^ static_cast<std::uint8_t>(b)) * 0x100000001b3ULL;
    }
    return hash;
}

constexpr const char* kUsage = R"(Usage: zb-sample-reader RING [FRAMES]

Attaches to ring RING (waiting up to 10 s for its writer) and reads frames until the writer is gone,
or FRAMES frames; prints the format, the frame count and a checksum to compare with the writer's.
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
    long limit = 0; // 0: until the writer is gone.
    if (argc < 2 || argc > 3 || first.starts_with("-") || (argc == 3 && !parse_count(argv[2], limit)) || limit < 0) {
        std::fprintf(stderr, "zb-sample-reader: expected RING [FRAMES], FRAMES a number\n%s", kUsage);
        return 2;
    }
    const std::string ring(first);

    // 1. Attach. The writer may not have created the ring yet, so retry NotFound for a while.
    zerobuffer::ReaderOptions options; // Lossless: we see every frame, the writer waits for us.
    auto reader = zerobuffer::Reader::attach(ring, options);
    for (int tries = 0; !reader && reader.error().code == zerobuffer::Errc::NotFound && tries < 100; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        reader = zerobuffer::Reader::attach(ring, options);
    }
    if (!reader) {
        std::fprintf(stderr, "cannot attach to ring '%s': %s\n", ring.c_str(), reader.error().message.c_str());
        return 1;
    }

    // 2. Read frames until the writer has closed (or died) and everything it wrote has been read.
    std::uint64_t checksum = 0xcbf29ce484222325ULL;
    long count = 0;
    std::uint64_t dropped = 0;
    while (limit == 0 || count < limit) {
        auto frame = reader->acquire(std::chrono::seconds(1));
        if (!frame) {
            if (frame.error().code == zerobuffer::Errc::Timeout) {
                continue; // Nothing yet: a real consumer might do other work here.
            }
            if (frame.error().code == zerobuffer::Errc::WriterGone) {
                break; // The normal end of the stream.
            }
            std::fprintf(stderr, "acquire failed: %s\n", frame.error().message.c_str());
            return 1;
        }
        if (count == 0 || frame->format_changed()) {
            // The stream metadata in effect for this frame: what the bytes mean.
            auto format = zerobuffer::parse_stream_format(reader->stream_metadata());
            if (format && format->width && format->height) {
                std::printf("format: %s %s %ux%u, %zu bytes per frame\n", format->media_type.c_str(),
                            format->pixel_format.c_str(), *format->width, *format->height, frame->payload().size());
            } else {
                std::printf("format: %s\n", reader->stream_metadata().c_str());
            }
        }
        checksum = fnv1a(checksum, frame->payload());
        dropped += frame->frames_skipped();
        ++count;
        // The Frame goes out of scope here, which releases its memory back to the writer.
    }

    std::printf("frames: %ld\n", count);
    std::printf("dropped: %llu\n", static_cast<unsigned long long>(dropped));
    std::printf("checksum: %016llx\n", static_cast<unsigned long long>(checksum));
    return 0;
}
