// SPDX-License-Identifier: MIT
// zb-demo: moves real 1080p I420 video between two processes through a ring, verifying every frame.
//
//   zb-demo [--seconds N] [--width W] [--height H] [--fps F] [--ring-mb M] [--integrity none|checksum]
//
// The program is the writer; it starts itself again as the reader (a second, real process). The writer
// draws a moving pattern with a frame counter directly into reserved ring memory; the reader checks
// every byte of every frame against the same pattern and measures the one-way latency from commit
// (Frame::commit_time_ns, CLOCK_MONOTONIC) to acquire. Exit status 0 only if every frame was verified.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerobuffer/zerobuffer.h>

extern char** environ;

namespace {

using zerobuffer::Errc;

constexpr std::uint64_t kMetaMagic = 0x6f6d65642d627a00ULL; // "\0zb-demo"

// Per-frame metadata: the frame number the pattern was drawn for (sent beside the payload).
struct DemoFrameMeta {
    std::uint64_t magic = kMetaMagic;
    std::uint64_t frame_number = 0;
};

std::int64_t monotonic_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop(int /*signal*/)
{
    g_stop = 1;
}

// ---------------------------------------------------------------------------------------------------
// The pattern. Writer and reader share this code: the writer copies each expected row into the ring,
// the reader compares each ring row with it. Rows come from a ramp table (bytes 0,1,2,...,255,0,...),
// so drawing is a memcpy and checking a memcmp, both at memory speed.
//   Y row y:   ramp starting at y + 2n (a diagonal gradient moving each frame), plus an 8-digit frame
//              counter drawn at (32, 32) when the picture is large enough.
//   U row y:   ramp starting at y/4 + 4n (moving colour stripes).
//   V row y:   constant 128 + y - n (colour bands rolling vertically).
class Pattern {
public:
    Pattern(std::uint32_t width, std::uint32_t height) : width_(width), scratch_(width)
    {
        ramp_.resize(256 + width);
        for (std::size_t i = 0; i < ramp_.size(); ++i) {
            ramp_[i] = static_cast<std::uint8_t>(i);
        }
        counter_visible_ = width >= kBoxX + kBoxWidth && height >= kBoxY + kBoxHeight;
    }

    // Expected bytes of row `y` of plane `plane` (0 = Y, 1 = U, 2 = V) of frame `n`.
    std::span<const std::uint8_t> row(int plane, std::uint32_t y, std::uint64_t n)
    {
        const auto nn = static_cast<std::uint32_t>(n & 0xff);
        if (plane == 0) {
            const std::uint32_t start = (y + 2 * nn) & 0xff;
            if (!counter_visible_ || y < kBoxY || y >= kBoxY + kBoxHeight) {
                return {ramp_.data() + start, width_};
            }
            std::memcpy(scratch_.data(), ramp_.data() + start, width_);
            draw_counter_row(y - kBoxY, n);
            return {scratch_.data(), width_};
        }
        const std::uint32_t chroma_width = width_ / 2;
        if (plane == 1) {
            return {ramp_.data() + ((y / 4 + 4 * nn) & 0xff), chroma_width};
        }
        std::memset(scratch_.data(), static_cast<int>((128 + y - nn) & 0xff), chroma_width);
        return {scratch_.data(), chroma_width};
    }

private:
    static constexpr std::uint32_t kScale = 8;                 // Font pixels are 8x8 picture pixels.
    static constexpr std::uint32_t kDigits = 8;
    static constexpr std::uint32_t kMargin = 8;
    static constexpr std::uint32_t kCell = 4 * kScale;         // 3 font columns + 1 of spacing.
    static constexpr std::uint32_t kBoxX = 32;
    static constexpr std::uint32_t kBoxY = 32;
    static constexpr std::uint32_t kBoxWidth = 2 * kMargin + kDigits * kCell;
    static constexpr std::uint32_t kBoxHeight = 2 * kMargin + 5 * kScale;
    static constexpr std::uint8_t kInk = 235;                  // White and black in video range.
    static constexpr std::uint8_t kPaper = 16;
    // 3x5 font, one byte per row, bit 2 = left column.
    static constexpr std::uint8_t kFont[10][5] = {
        {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
        {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 2, 2, 2}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    };

    void draw_counter_row(std::uint32_t box_y, std::uint64_t n)
    {
        std::uint8_t* box = scratch_.data() + kBoxX;
        std::memset(box, kPaper, kBoxWidth);
        if (box_y < kMargin || box_y >= kMargin + 5 * kScale) {
            return;
        }
        const std::uint32_t font_row = (box_y - kMargin) / kScale;
        std::uint64_t value = n % 100'000'000;
        for (std::uint32_t d = kDigits; d-- > 0;) { // Rightmost digit first.
            const std::uint8_t bits = kFont[value % 10][font_row];
            value /= 10;
            for (std::uint32_t col = 0; col < 3; ++col) {
                if ((bits >> (2 - col)) & 1u) {
                    std::memset(box + kMargin + d * kCell + col * kScale, kInk, kScale);
                }
            }
        }
    }

    std::uint32_t width_;
    bool counter_visible_ = false;
    std::vector<std::uint8_t> ramp_;
    std::vector<std::uint8_t> scratch_;
};

struct Plane {
    std::uint64_t offset;
    std::uint32_t stride;
    std::uint32_t rows;
    std::uint32_t row_bytes;
};

std::vector<Plane> i420_planes(std::uint32_t width, std::uint32_t height)
{
    const std::uint64_t y_size = std::uint64_t{width} * height;
    return {{0, width, height, width},
            {y_size, width / 2, height / 2, width / 2},
            {y_size + y_size / 4, width / 2, height / 2, width / 2}};
}

std::string format_ns(std::int64_t ns)
{
    char text[32];
    if (ns < 1'000) {
        std::snprintf(text, sizeof text, "%lld ns", static_cast<long long>(ns));
    } else if (ns < 1'000'000) {
        std::snprintf(text, sizeof text, "%.1f us", static_cast<double>(ns) / 1e3);
    } else {
        std::snprintf(text, sizeof text, "%.2f ms", static_cast<double>(ns) / 1e6);
    }
    return text;
}

// Latency percentile q (0..1) of `samples` (reordered).
std::int64_t percentile(std::vector<std::int64_t>& samples, double q)
{
    if (samples.empty()) {
        return 0;
    }
    auto index = static_cast<std::size_t>(q * static_cast<double>(samples.size()));
    index = std::min(index, samples.size() - 1);
    std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(index), samples.end());
    return samples[index];
}

template <typename T>
bool parse_number(std::string_view text, T& value)
{
    const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
    return err == std::errc{} && end == text.data() + text.size();
}

// ---------------------------------------------------------------------------------------------------
// Reader process.

// What the reader sends back to the writer through a pipe when it is done (one line of numbers).
struct ReaderReport {
    std::uint64_t frames = 0;
    std::uint64_t verified = 0;
    std::uint64_t mismatches = 0;
    std::uint64_t drops = 0;
    std::uint64_t bytes = 0;
    std::int64_t elapsed_ns = 0;
    std::int64_t p50 = 0, p99 = 0, p999 = 0, max = 0;
};

int run_reader(const std::string& ring, int report_fd)
{
    std::signal(SIGINT, SIG_IGN);  // Ctrl-C stops the writer; we drain what it wrote and report.
    std::signal(SIGPIPE, SIG_IGN); // If the writer was killed, reporting fails quietly instead.

    zerobuffer::ReaderOptions options; // Lossless: every frame, in order.
    auto reader = zerobuffer::Reader::attach(ring, options);
    if (!reader) {
        std::fprintf(stderr, "zb-demo reader: cannot attach to '%s': %s\n", ring.c_str(),
                     reader.error().message.c_str());
        return 1;
    }

    ReaderReport report;
    std::vector<std::int64_t> latencies;
    latencies.reserve(1 << 16);
    std::vector<std::int64_t> second;
    std::optional<Pattern> pattern;
    std::vector<Plane> planes;
    std::size_t frame_size = 0;
    std::uint64_t expected = 0;
    std::int64_t first_ns = 0;
    std::int64_t last_ns = 0;
    std::int64_t next_tick = 0;
    std::uint64_t tick_frames = 0, tick_verified = 0, tick_drops = 0, tick_bytes = 0;
    int seconds = 0;
    bool writer_gone = false;

    while (!writer_gone) {
        auto frame = reader->acquire(std::chrono::milliseconds(100));
        const std::int64_t now = monotonic_ns();
        if (frame) {
            const std::int64_t latency = now - frame->commit_time_ns();
            latencies.push_back(latency);
            second.push_back(latency);
            if (first_ns == 0) {
                first_ns = frame->commit_time_ns();
                next_tick = now + 1'000'000'000;
            }
            last_ns = now;
            if (!pattern || frame->format_changed()) {
                // Learn the picture layout from the stream metadata, as any real consumer would.
                auto format = zerobuffer::parse_stream_format(reader->stream_metadata());
                if (!format || !format->width || !format->height || format->pixel_format != "I420") {
                    std::fprintf(stderr, "zb-demo reader: unexpected stream metadata: %s\n",
                                 reader->stream_metadata().c_str());
                    return 1;
                }
                pattern.emplace(*format->width, *format->height);
                planes = i420_planes(*format->width, *format->height);
                for (std::size_t p = 0; p < planes.size() && p < format->planes.size(); ++p) {
                    planes[p].offset = format->planes[p].offset;
                    planes[p].stride = format->planes[p].stride;
                }
                frame_size = static_cast<std::size_t>(format->frame_size.value_or(0));
            }
            ++report.frames;
            ++tick_frames;
            report.bytes += frame->payload().size();
            tick_bytes += frame->payload().size();

            DemoFrameMeta meta;
            const auto raw_meta = frame->metadata();
            bool ok = raw_meta.size() >= sizeof meta && frame->payload().size() == frame_size;
            if (ok) {
                std::memcpy(&meta, raw_meta.data(), sizeof meta);
                ok = meta.magic == kMetaMagic;
            }
            if (ok) {
                if (meta.frame_number > expected) { // Lossless: this should never happen.
                    report.drops += meta.frame_number - expected;
                    tick_drops += meta.frame_number - expected;
                }
                ok = meta.frame_number >= expected;
                expected = meta.frame_number + 1;
            }
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(frame->payload().data());
            for (int p = 0; ok && p < 3; ++p) {
                const Plane& plane = planes[static_cast<std::size_t>(p)];
                for (std::uint32_t y = 0; ok && y < plane.rows; ++y) {
                    const auto want = pattern->row(p, y, meta.frame_number);
                    const std::uint8_t* got = bytes + plane.offset + std::uint64_t{y} * plane.stride;
                    if (std::memcmp(got, want.data(), want.size()) != 0) {
                        ok = false;
                        if (report.mismatches < 5) {
                            std::fprintf(stderr, "zb-demo reader: frame %llu plane %d row %u differs\n",
                                         static_cast<unsigned long long>(meta.frame_number), p, y);
                        }
                    }
                }
            }
            if (ok) {
                ++report.verified;
                ++tick_verified;
            } else {
                ++report.mismatches;
            }
            report.drops += frame->frames_skipped();
            tick_drops += frame->frames_skipped();
        } else if (frame.error().code == Errc::WriterGone) {
            writer_gone = true;
        } else if (frame.error().code != Errc::Timeout) {
            std::fprintf(stderr, "zb-demo reader: acquire failed: %.*s: %s\n",
                         static_cast<int>(zerobuffer::to_string(frame.error().code).size()),
                         zerobuffer::to_string(frame.error().code).data(), frame.error().message.c_str());
            ++report.mismatches;
            if (frame.error().code != Errc::ChecksumMismatch) {
                break;
            }
        }
        // Once per second: what happened during the last second.
        if (first_ns != 0 && now >= next_tick) {
            ++seconds;
            const std::int64_t worst = second.empty() ? 0 : *std::max_element(second.begin(), second.end());
            std::printf("[%3ds] %6llu frames/s  %5.2f GB/s  latency p50 %s  p99 %s  max %s  verified %llu  drops %llu\n",
                        seconds, static_cast<unsigned long long>(tick_frames),
                        static_cast<double>(tick_bytes) / 1e9, format_ns(percentile(second, 0.5)).c_str(),
                        format_ns(percentile(second, 0.99)).c_str(), format_ns(worst).c_str(),
                        static_cast<unsigned long long>(tick_verified), static_cast<unsigned long long>(tick_drops));
            std::fflush(stdout);
            second.clear();
            tick_frames = tick_verified = tick_drops = tick_bytes = 0;
            next_tick += 1'000'000'000;
        }
    }

    report.elapsed_ns = last_ns - first_ns;
    report.p50 = percentile(latencies, 0.5);
    report.p99 = percentile(latencies, 0.99);
    report.p999 = percentile(latencies, 0.999);
    report.max = latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
    const bool writer_crashed = !reader->writer_alive();
    reader = zerobuffer::make_error(Errc::InvalidState, "detached"); // Destroys the Reader: detaches.
    if (writer_crashed) {
        // If the writer was killed, nobody else will remove its ring: do it (a no-op when it closed).
        (void)zerobuffer::remove_stale_ring(ring);
    }
    dprintf(report_fd, "%llu %llu %llu %llu %llu %lld %lld %lld %lld %lld\n",
            static_cast<unsigned long long>(report.frames), static_cast<unsigned long long>(report.verified),
            static_cast<unsigned long long>(report.mismatches), static_cast<unsigned long long>(report.drops),
            static_cast<unsigned long long>(report.bytes), static_cast<long long>(report.elapsed_ns),
            static_cast<long long>(report.p50), static_cast<long long>(report.p99),
            static_cast<long long>(report.p999), static_cast<long long>(report.max));
    close(report_fd);
    return 0;
}

std::optional<ReaderReport> parse_report(const std::string& line)
{
    ReaderReport r;
    unsigned long long u[5] = {};
    long long s[5] = {};
    if (std::sscanf(line.c_str(), "%llu %llu %llu %llu %llu %lld %lld %lld %lld %lld", &u[0], &u[1], &u[2], &u[3],
                    &u[4], &s[0], &s[1], &s[2], &s[3], &s[4]) != 10) {
        return std::nullopt;
    }
    r.frames = u[0];
    r.verified = u[1];
    r.mismatches = u[2];
    r.drops = u[3];
    r.bytes = u[4];
    r.elapsed_ns = s[0];
    r.p50 = s[1];
    r.p99 = s[2];
    r.p999 = s[3];
    r.max = s[4];
    return r;
}

// ---------------------------------------------------------------------------------------------------
// Writer process (the one the user started).

struct DemoOptions {
    double seconds = 5;
    std::uint32_t width = 1920;
    std::uint32_t height = 1080;
    std::uint32_t fps = 0; // 0: as fast as the reader keeps up.
    std::uint32_t ring_mb = 32;
    zerobuffer::Integrity integrity = zerobuffer::Integrity::None;
};

constexpr const char* kUsage = R"(Usage: zb-demo [OPTIONS]

Moves raw I420 video between two processes through a ZeroBuffer ring: this process writes a moving
pattern with a frame counter into the ring, a second process (this program again) reads every frame,
verifies every byte and measures latency from commit to acquire. Prints a line per second and a summary.
Exit status 0 only if every frame arrived and verified.

Options:
  --seconds N      how long to run (default 5)
  --width W        picture width, even (default 1920)
  --height H       picture height, even (default 1080)
  --fps F          frames per second; 0 = unpaced, as fast as possible (default 0)
  --ring-mb M      ring size in MiB (default 32)
  --integrity I    none or checksum (BLAKE2b per frame, verified by the reader) (default none)
  -h, --help       this help

Examples:
  zb-demo                       5 s of unpaced 1080p: throughput
  zb-demo --fps 60 --seconds 10 paced like a camera: latency
)";

std::optional<DemoOptions> parse_options(int argc, char** argv)
{
    DemoOptions o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "zb-demo: unknown option or missing value: %s\n%s", argv[i], kUsage);
            return std::nullopt;
        }
        const std::string_view value = argv[++i];
        bool ok = true;
        if (arg == "--seconds") {
            ok = parse_number(value, o.seconds) && o.seconds > 0;
        } else if (arg == "--width") {
            ok = parse_number(value, o.width) && o.width >= 2 && o.width % 2 == 0 && o.width <= 16384;
        } else if (arg == "--height") {
            ok = parse_number(value, o.height) && o.height >= 2 && o.height % 2 == 0 && o.height <= 16384;
        } else if (arg == "--fps") {
            ok = parse_number(value, o.fps) && o.fps <= 100000;
        } else if (arg == "--ring-mb") {
            ok = parse_number(value, o.ring_mb) && o.ring_mb >= 1 && o.ring_mb <= 16384;
        } else if (arg == "--integrity") {
            ok = value == "none" || value == "checksum";
            o.integrity = value == "checksum" ? zerobuffer::Integrity::Checksum : zerobuffer::Integrity::None;
        } else {
            ok = false;
        }
        if (!ok) {
            std::fprintf(stderr, "zb-demo: bad option %s %s\n%s", argv[i - 1], argv[i], kUsage);
            return std::nullopt;
        }
    }
    return o;
}

// Starts this same program as the reader process; returns its pid.
std::optional<pid_t> spawn_reader(const std::string& ring, int report_fd)
{
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        std::perror("zb-demo: readlink /proc/self/exe");
        return std::nullopt;
    }
    self[n] = '\0';
    std::string fd_text = std::to_string(report_fd);
    std::string argv0 = "zb-demo";
    std::string role = "--reader";
    std::string fd_flag = "--report-fd";
    std::string ring_arg = ring;
    char* args[] = {argv0.data(), role.data(), ring_arg.data(), fd_flag.data(), fd_text.data(), nullptr};
    pid_t pid = 0;
    if (const int err = posix_spawn(&pid, self, nullptr, nullptr, args, environ); err != 0) {
        std::fprintf(stderr, "zb-demo: cannot start the reader process: %s\n", std::strerror(err));
        return std::nullopt;
    }
    return pid;
}

bool child_exited(pid_t pid, int& status)
{
    return waitpid(pid, &status, WNOHANG) == pid;
}

int run_writer(const DemoOptions& o)
{
    const std::string ring = "demo-" + std::to_string(getpid());
    const auto planes = i420_planes(o.width, o.height);
    const std::size_t frame_size = std::size_t{o.width} * o.height * 3 / 2;

    zerobuffer::StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "I420";
    format.width = o.width;
    format.height = o.height;
    for (const auto& p : planes) {
        format.planes.push_back({p.offset, p.stride});
    }
    format.frame_size = frame_size;
    if (o.fps > 0) {
        format.framerate = zerobuffer::Fraction{static_cast<std::int32_t>(o.fps), 1};
    }

    zerobuffer::WriterOptions options;
    options.ring_size = std::size_t{o.ring_mb} << 20;
    options.max_readers = 4; // One for our reader, room for others (try zbctl watch, or a second reader).
    options.integrity = o.integrity;
    auto writer = zerobuffer::Writer::create(ring, options);
    if (!writer) {
        std::fprintf(stderr, "zb-demo: cannot create ring '%s': %s\n", ring.c_str(), writer.error().message.c_str());
        return 1;
    }
    if (writer->max_payload_size(sizeof(DemoFrameMeta)) < frame_size) {
        std::fprintf(stderr, "zb-demo: a %u x %u frame (%zu bytes) does not fit a %u MiB ring; raise --ring-mb\n",
                     o.width, o.height, frame_size, o.ring_mb);
        return 1;
    }
    if (auto set = writer->set_stream_metadata(zerobuffer::to_json(format)); !set) {
        std::fprintf(stderr, "zb-demo: cannot set stream metadata: %s\n", set.error().message.c_str());
        return 1;
    }

    // The reader reports its results on a pipe. Its write end is moved to a descriptor without
    // close-on-exec so that (only) the reader process inherits it.
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        std::perror("zb-demo: pipe");
        return 1;
    }
    const int report_fd = fcntl(pipe_fds[1], F_DUPFD, 10);
    close(pipe_fds[1]);
    const auto child = spawn_reader(ring, report_fd);
    close(report_fd);
    if (!child) {
        close(pipe_fds[0]);
        return 1;
    }
    int child_status = 0;
    bool child_done = false;
    auto stop_child = [&] {
        if (!child_done) {
            kill(*child, SIGTERM);
            waitpid(*child, &child_status, 0);
            child_done = true;
        }
    };

    // Wait for the reader to attach, noticing if it failed to start.
    for (int tries = 0;; ++tries) {
        auto ready = writer->wait_for_readers(1, std::chrono::milliseconds(200));
        if (ready) {
            break;
        }
        const bool exited = child_exited(*child, child_status);
        if (exited || tries >= 50) {
            child_done = exited;
            std::fprintf(stderr, "zb-demo: the reader did not attach: %s\n", ready.error().message.c_str());
            stop_child();
            close(pipe_fds[0]);
            return 1;
        }
    }

    std::printf("zb-demo: %ux%u I420 (%zu bytes/frame), %s, %.0f s: writer pid %d -> ring %s (%u MiB, integrity %s) -> "
                "reader pid %d\n",
                o.width, o.height, frame_size, o.fps == 0 ? "unpaced" : (std::to_string(o.fps) + " fps").c_str(),
                o.seconds, getpid(), ring.c_str(), o.ring_mb,
                o.integrity == zerobuffer::Integrity::Checksum ? "checksum" : "none", *child);
    std::fflush(stdout);

    struct sigaction action {};
    action.sa_handler = on_stop;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    Pattern pattern(o.width, o.height);
    const std::int64_t start = monotonic_ns();
    const auto duration_ns = static_cast<std::int64_t>(o.seconds * 1e9);
    const std::int64_t period_ns = o.fps == 0 ? 0 : 1'000'000'000 / o.fps;
    std::uint64_t n = 0;
    bool failed = false;
    while (!g_stop && !failed) {
        const std::int64_t now = monotonic_ns();
        if (now - start >= duration_ns) {
            break;
        }
        if (period_ns > 0) { // Paced: wait for this frame's due time, like a camera would.
            const std::int64_t due = start + static_cast<std::int64_t>(n) * period_ns;
            if (due > now) {
                const timespec ts{static_cast<time_t>(due / 1'000'000'000), static_cast<long>(due % 1'000'000'000)};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
                continue; // Re-check stop and duration after sleeping.
            }
        }
        auto frame = writer->reserve(frame_size, sizeof(DemoFrameMeta), std::chrono::milliseconds(500));
        if (!frame) {
            if (frame.error().code == Errc::Timeout) {
                if (child_exited(*child, child_status)) {
                    child_done = true;
                    std::fprintf(stderr, "zb-demo: the reader process exited early\n");
                    failed = true;
                }
                continue; // The reader is slow (or being debugged): keep waiting.
            }
            std::fprintf(stderr, "zb-demo: reserve failed: %s\n", frame.error().message.c_str());
            failed = true;
            break;
        }
        // Draw frame n straight into the ring's shared memory: no copy happens later.
        auto* bytes = reinterpret_cast<std::uint8_t*>(frame->payload().data());
        for (int p = 0; p < 3; ++p) {
            const Plane& plane = planes[static_cast<std::size_t>(p)];
            for (std::uint32_t y = 0; y < plane.rows; ++y) {
                const auto row = pattern.row(p, y, n);
                std::memcpy(bytes + plane.offset + std::uint64_t{y} * plane.stride, row.data(), row.size());
            }
        }
        const DemoFrameMeta meta{kMetaMagic, n};
        std::memcpy(frame->metadata().data(), &meta, sizeof meta);

        zerobuffer::FrameInfo info;
        info.pts = period_ns > 0 ? static_cast<std::int64_t>(n) * period_ns : monotonic_ns() - start;
        info.duration = period_ns > 0 ? period_ns : zerobuffer::kNoTimestamp;
        info.flags = zerobuffer::kFrameKeyframe;
        if (auto committed = writer->commit(*frame, info); !committed) {
            std::fprintf(stderr, "zb-demo: commit failed: %s\n", committed.error().message.c_str());
            failed = true;
            break;
        }
        ++n;
    }
    const std::int64_t writer_elapsed = monotonic_ns() - start;
    const auto counters = writer->counters();
    // Close the ring now (destroying the Writer): the reader drains the remaining frames, gets
    // WriterGone and reports. The name disappears from /dev/shm.
    writer = zerobuffer::make_error(Errc::InvalidState, "closed");

    std::string line;
    char buffer[256];
    ssize_t got = 0;
    while ((got = read(pipe_fds[0], buffer, sizeof buffer)) > 0 || (got < 0 && errno == EINTR)) {
        if (got > 0) {
            line.append(buffer, static_cast<std::size_t>(got));
        }
    }
    close(pipe_fds[0]);
    if (!child_done) {
        while (waitpid(*child, &child_status, 0) < 0 && errno == EINTR) {
        }
        child_done = true;
    }
    const auto report = parse_report(line);
    if (!report || !WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
        std::fprintf(stderr, "zb-demo: the reader process failed (%s)\n",
                     WIFSIGNALED(child_status) ? strsignal(WTERMSIG(child_status)) : "no report");
        return 1;
    }

    ReaderReport r = *report;
    const double seconds = r.elapsed_ns > 0 ? static_cast<double>(r.elapsed_ns) / 1e9 : 1.0;
    const bool all_good =
        !failed && r.frames == counters.frames_written && r.verified == r.frames && r.mismatches == 0 && r.drops == 0;
    std::printf("summary: %llu frames written in %.2f s, %llu read, %llu verified, %llu mismatches, %llu drops\n",
                static_cast<unsigned long long>(counters.frames_written), static_cast<double>(writer_elapsed) / 1e9,
                static_cast<unsigned long long>(r.frames), static_cast<unsigned long long>(r.verified),
                static_cast<unsigned long long>(r.mismatches), static_cast<unsigned long long>(r.drops));
    std::printf("throughput: %.1f frames/s, %.2f GB/s\n", static_cast<double>(r.frames) / seconds,
                static_cast<double>(r.bytes) / 1e9 / seconds);
    std::printf("latency commit->acquire: p50 %s, p99 %s, p99.9 %s, max %s%s\n", format_ns(r.p50).c_str(),
                format_ns(r.p99).c_str(), format_ns(r.p999).c_str(), format_ns(r.max).c_str(),
                o.fps == 0 ? " (unpaced: includes time queued in a full ring)" : "");
    std::printf("writer waited for ring space %llu times\n", static_cast<unsigned long long>(counters.waits));
    std::printf("result: %s\n", all_good ? "OK, every frame verified" : "FAILED");
    return all_good ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    // Hidden role switch: "zb-demo --reader RING --report-fd FD" is the reader process.
    if (argc == 5 && std::string_view(argv[1]) == "--reader" && std::string_view(argv[3]) == "--report-fd") {
        int fd = -1;
        if (!parse_number(std::string_view(argv[4]), fd)) {
            return 2;
        }
        return run_reader(argv[2], fd);
    }
    const auto options = parse_options(argc, argv);
    if (!options) {
        return 2;
    }
    return run_writer(*options);
}
