// SPDX-License-Identifier: MIT
// zb-sample-reader: the smallest complete ZeroBuffer reader. Reads frames and prints format, count, checksum.
//
//   zb-sample-reader RING [FRAMES]      (reads until the writer is gone, or FRAMES frames)
//
// Copy this file to start your own consumer. Frames are read in place in shared memory: acquire()
// hands out a read-only view, and the writer may reuse that memory only after the Frame is released.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
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

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s RING [FRAMES]\n", argv[0]);
        return 2;
    }
    const std::string ring = argv[1];
    const long limit = argc == 3 ? std::atol(argv[2]) : 0; // 0: until the writer is gone.

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
