// SPDX-License-Identifier: MIT
// zb-py-peer: the C++ end of the Python module's cross-language tests. Reads a ring with the core's Reader and
// prints what it got, one line per frame, so a test can compare it byte for byte with what Python wrote.
//
//   zb-py-peer read RING [FRAMES]    lossless reader; waits up to 10 s for the ring; stops after FRAMES frames
//                                    or when the writer is gone
//
// Output: "format JSON" whenever the stream format changes, then per frame
// "frame SEQUENCE SIZE PTS FLAGS METADATA_HEX BLAKE2B_HEX" (pts -1 when unset; BLAKE2b-256 of the payload, the
// same as Python's hashlib.blake2b(digest_size=32)), and "end N" with the frame count.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include <sodium.h>

#include <zerobuffer/zerobuffer.h>

namespace {

std::string hex(const unsigned char* data, std::size_t size)
{
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    text.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        text += kDigits[data[i] >> 4];
        text += kDigits[data[i] & 15];
    }
    return text;
}

int read_ring(const std::string& ring, long limit)
{
    zerobuffer::ReaderOptions options; // Lossless.
    auto reader = zerobuffer::Reader::attach(ring, options);
    for (int tries = 0; !reader && reader.error().code == zerobuffer::Errc::NotFound && tries < 1000; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        reader = zerobuffer::Reader::attach(ring, options);
    }
    if (!reader) {
        std::fprintf(stderr, "zb-py-peer: error: cannot attach to ring '%s': %s\n", ring.c_str(),
                     reader.error().message.c_str());
        return 1;
    }
    std::printf("attached\n");
    std::fflush(stdout);
    long count = 0;
    while (limit == 0 || count < limit) {
        auto frame = reader->acquire(std::chrono::seconds(10));
        if (!frame) {
            if (frame.error().code == zerobuffer::Errc::WriterGone)
                break;
            std::fprintf(stderr, "zb-py-peer: error: acquire failed: %s\n", frame.error().message.c_str());
            return 1;
        }
        if (count == 0 || frame->format_changed())
            std::printf("format %s\n", reader->stream_metadata().c_str());
        const auto payload = frame->payload();
        const auto metadata = frame->metadata();
        unsigned char digest[crypto_generichash_BYTES];
        crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
                           nullptr, 0);
        const std::int64_t pts = frame->info().pts == zerobuffer::kNoTimestamp ? -1 : frame->info().pts;
        const std::string meta_hex =
            metadata.empty() ? "-" : hex(reinterpret_cast<const unsigned char*>(metadata.data()), metadata.size());
        std::printf("frame %llu %zu %lld %u %s %s\n", static_cast<unsigned long long>(frame->sequence()), payload.size(),
                    static_cast<long long>(pts), frame->info().flags, meta_hex.c_str(),
                    hex(digest, sizeof digest).c_str());
        std::fflush(stdout);
        ++count;
    }
    std::printf("end %ld\n", count);
    return 0;
}

constexpr const char* kUsage = R"(Usage: zb-py-peer read RING [FRAMES]
Test helper of the Python module's tests: reads ring RING with the core's lossless Reader (waiting up to 10 s
for it) and prints "format JSON" at each format change, one "frame SEQUENCE SIZE PTS FLAGS METADATA_HEX
BLAKE2B_HEX" line per frame and "end N"; stops after FRAMES frames (0: all) or when the writer is gone.
Exit status: 0 done, 1 a ring call failed, 2 usage error.
)";

int usage_error(const std::string& message)
{
    std::fprintf(stderr, "zb-py-peer: %s\n%s", message.c_str(), kUsage);
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
    }
    if (argc < 3 || argc > 4 || std::string_view(argv[1]) != "read")
        return usage_error("expected 'read RING [FRAMES]'");
    const std::string ring = argv[2];
    if (ring.starts_with('-'))
        return usage_error("expected a RING, not the option '" + ring + "'");
    long limit = 0;
    if (argc == 4) {
        char* end = nullptr;
        limit = std::strtol(argv[3], &end, 10);
        if (*argv[3] == '\0' || *end != '\0' || limit < 0)
            return usage_error("FRAMES must be a count (0 or more), not '" + std::string(argv[3]) + "'");
    }
    if (sodium_init() < 0) {
        std::fprintf(stderr, "zb-py-peer: error: libsodium failed to initialise\n");
        return 1;
    }
    return read_ring(ring, limit);
}
