// SPDX-License-Identifier: MIT
// zb-py-bench-peer: the C++ side of bench/python/py-bench.py (docs/performance.md, "Python").
//
//   zb-py-bench-peer writer RING WIDTH HEIGHT FRAMES   creates an I420 ring of 8 frames, waits for a reader, then
//                                                      produces FRAMES frames as fast as the reader takes them
//                                                      (each filled with memset: the cost of making a frame)
//   zb-py-bench-peer reader RING FRAMES                the C++ reader: acquire + release, prints frames/s
//   zb-py-bench-peer overhead FRAMES                   acquire + release per frame in ns, in one process (the
//                                                      writer commits 16 empty 1080p frames, the reader takes them)
// Each prints one line of key=value results.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include <unistd.h>

#include <zerobuffer/zerobuffer.h>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void fail(const std::string& what, const zerobuffer::Error& error)
{
    std::fprintf(stderr, "zb-py-bench-peer: error: %s: %s\n", what.c_str(), error.message.c_str());
    std::exit(1);
}

zerobuffer::StreamFormat i420(std::uint32_t width, std::uint32_t height)
{
    // Even sizes with widths a multiple of 8: GStreamer's default layout has no padding.
    zerobuffer::StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "I420";
    format.width = width;
    format.height = height;
    const std::uint64_t luma = std::uint64_t{width} * height;
    format.planes = {{0, width}, {luma, width / 2}, {luma + luma / 4, width / 2}};
    format.frame_size = luma * 3 / 2;
    return format;
}

int writer_role(const std::string& ring, std::uint32_t width, std::uint32_t height, long frames)
{
    const zerobuffer::StreamFormat format = i420(width, height);
    zerobuffer::WriterOptions options;
    options.ring_size = *format.frame_size * 8 + 65536;
    options.reader_timeout = std::chrono::seconds(30);
    auto writer = zerobuffer::Writer::create(ring, options);
    if (!writer)
        fail("create ring " + ring, writer.error());
    if (auto set = writer->set_stream_metadata(zerobuffer::to_json(format)); !set)
        fail("set stream metadata", set.error());
    std::printf("ready\n");
    std::fflush(stdout);
    if (auto joined = writer->wait_for_readers(1, std::chrono::seconds(60)); !joined)
        fail("wait for a reader", joined.error());
    const auto start = Clock::now();
    for (long i = 0; i < frames; ++i) {
        auto reservation = writer->reserve(*format.frame_size);
        if (!reservation)
            fail("reserve", reservation.error());
        std::memset(reservation->payload().data(), static_cast<int>(i & 255), reservation->payload().size());
        zerobuffer::FrameInfo info;
        info.pts = i;
        if (auto committed = writer->commit(*reservation, info); !committed)
            fail("commit", committed.error());
    }
    const double elapsed = seconds_since(start);
    // Wait for the reader to finish before closing, so that it never sees WriterGone early.
    while (writer->reader_count() > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::printf("writer frames=%ld seconds=%.6f\n", frames, elapsed);
    return 0;
}

int reader_role(const std::string& ring, long frames)
{
    auto reader = zerobuffer::Reader::attach(ring);
    for (int tries = 0; !reader && reader.error().code == zerobuffer::Errc::NotFound && tries < 3000; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        reader = zerobuffer::Reader::attach(ring);
    }
    if (!reader)
        fail("attach to " + ring, reader.error());
    Clock::time_point first;
    for (long i = 0; i < frames; ++i) {
        auto frame = reader->acquire(std::chrono::seconds(30));
        if (!frame)
            fail("acquire", frame.error());
        if (i == 0)
            first = Clock::now(); // Frames/s from the first frame on: attach and start-up are not measured.
    }
    const double elapsed = seconds_since(first);
    std::printf("reader frames=%ld seconds=%.6f fps=%.1f\n", frames - 1, elapsed, static_cast<double>(frames - 1) / elapsed);
    return 0;
}

int overhead_role(long frames)
{
    const std::string ring = "zb-py-bench-overhead-" + std::to_string(getpid());
    const zerobuffer::StreamFormat format = i420(1920, 1080);
    zerobuffer::WriterOptions options;
    options.ring_size = *format.frame_size * 20;
    auto writer = zerobuffer::Writer::create(ring, options);
    if (!writer)
        fail("create ring", writer.error());
    (void)writer->set_stream_metadata(zerobuffer::to_json(format));
    auto reader = zerobuffer::Reader::attach(ring);
    if (!reader)
        fail("attach", reader.error());
    constexpr long kBatch = 16;
    double busy = 0;
    long done = 0;
    while (done < frames) {
        for (long i = 0; i < kBatch; ++i) {
            auto reservation = writer->reserve(*format.frame_size);
            if (!reservation)
                fail("reserve", reservation.error());
            if (auto committed = writer->commit(*reservation, {}); !committed)
                fail("commit", committed.error());
        }
        const auto start = Clock::now();
        for (long i = 0; i < kBatch; ++i) {
            auto frame = reader->acquire(std::chrono::seconds(1));
            if (!frame)
                fail("acquire", frame.error());
            frame->release();
        }
        busy += seconds_since(start);
        done += kBatch;
    }
    std::printf("overhead frames=%ld ns_per_frame=%.1f\n", done, busy * 1e9 / static_cast<double>(done));
    return 0;
}

constexpr const char* kUsage = R"(Usage: zb-py-bench-peer writer RING WIDTH HEIGHT FRAMES
       zb-py-bench-peer reader RING FRAMES
       zb-py-bench-peer overhead FRAMES
The C++ side of bench/python/py-bench.py: the writer creates an I420 ring of 8 frames, waits for a reader and
produces FRAMES frames as fast as it takes them; the reader acquires and releases FRAMES frames; overhead times
acquire + release in one process. Each prints one line of key=value results.
Exit status: 0 done, 1 a ring call failed, 2 usage error.
)";

[[noreturn]] void usage_error(const std::string& message)
{
    std::fprintf(stderr, "zb-py-bench-peer: %s\n%s", message.c_str(), kUsage);
    std::exit(2);
}

/// A positive count or size, or a usage error naming WHAT.
long positive(const char* text, const char* what)
{
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value <= 0)
        usage_error(std::string(what) + " must be a positive number, not '" + text + "'");
    return value;
}

/// A ring name, or a usage error when it looks like an option.
std::string ring_name(const char* text)
{
    if (*text == '-')
        usage_error(std::string("expected a RING, not the option '") + text + "'");
    return text;
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
    const std::string role = argc > 1 ? argv[1] : "";
    if (role == "writer" && argc == 6)
        return writer_role(ring_name(argv[2]), static_cast<std::uint32_t>(positive(argv[3], "WIDTH")),
                           static_cast<std::uint32_t>(positive(argv[4], "HEIGHT")), positive(argv[5], "FRAMES"));
    if (role == "reader" && argc == 4)
        return reader_role(ring_name(argv[2]), positive(argv[3], "FRAMES"));
    if (role == "overhead" && argc == 3)
        return overhead_role(positive(argv[2], "FRAMES"));
    usage_error("expected writer, reader or overhead with their arguments");
}
