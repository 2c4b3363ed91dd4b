// SPDX-License-Identifier: MIT
// Test helper: a real process that holds a ring as its writer or as one reader until SIGTERM.
//
//   zb-ring-holder writer RING [--frames N] [--wait-readers K] [--frame-bytes B] [--no-hold] [--stream-ms P]
//                              [--ring-bytes R] [--reader-timeout-ms T] [--no-metadata] [--mode OCTAL]
//                              [--start-after-ms S]
//   zb-ring-holder reader RING [--frames N] [--policy lossless|latest] [--no-hold] [--keep K] [--delay-ms D]
//   zb-ring-holder lock FILE
//
// Prints "attached" once it holds the ring and "ready" once its frames are written or read, then
// sleeps until SIGTERM or SIGINT and exits cleanly (destructors close the ring / free the slot).
// Tests kill -9 it to make dead writers and readers.
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fcntl.h>
#include <unistd.h>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <zerobuffer/zerobuffer.h>

namespace {

constexpr const char* kUsage = R"(Usage: zb-ring-holder writer RING [--frames N] [--wait-readers K] [--frame-bytes B] [--no-hold]
                             [--stream-ms P] [--ring-bytes R] [--reader-timeout-ms T] [--no-metadata]
                             [--mode OCTAL] [--start-after-ms S]
       zb-ring-holder reader RING [--frames N] [--policy lossless|latest] [--max-lag N] [--no-hold]
                             [--keep K] [--delay-ms D]
       zb-ring-holder lock FILE

Test helper: holds ring RING as its writer (writing N frames of B bytes, default 1000, after K readers
attached) or as one reader (reading N frames; latest with --max-lag N reads in order while at most N
frames behind), printing "attached" once it holds the ring and "ready"
once its frames are done, then waits for SIGTERM or SIGINT and closes cleanly. With --no-hold it closes
and exits 0 right after "ready". 'lock FILE' holds a writer's lock (byte 0) on an existing FILE the way a
writer creating a ring does, prints "ready" and waits likewise.
Writer: --stream-ms P keeps writing a frame every P ms after "ready" until stopped (a live stream);
--ring-bytes R sizes the frame memory (default 1 MiB); --reader-timeout-ms T is its longest wait for a
lossless reader (default 5000); --no-metadata leaves the stream metadata unset; --mode OCTAL is the
ring's file mode (default 0600); --start-after-ms S waits S ms before creating the ring (time for a test
to lower the process's limits).
Reader: --keep K keeps the last K frames it read held until it stops; --delay-ms D sleeps D ms after
each frame (a slow reader).
Exit status: 0 done, 1 a ring call failed, 2 usage error.
)";

int usage_error(const std::string& message)
{
    std::fprintf(stderr, "zb-ring-holder: %s\n%s", message.c_str(), kUsage);
    return 2;
}

int wait_for_stop()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int signal_number = 0;
    sigwait(&set, &signal_number);
    return 0;
}

void say(const char* word)
{
    std::printf("%s\n", word);
    std::fflush(stdout);
}

int fail(const char* what, const zerobuffer::Error& error)
{
    std::fprintf(stderr, "zb-ring-holder: %s: %s\n", what, error.message.c_str());
    return 1;
}

// True once SIGTERM or SIGINT is pending (they are blocked in every thread), without waiting.
bool stop_requested()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    const timespec zero{};
    return sigtimedwait(&set, nullptr, &zero) > 0;
}

struct WriterSettings {
    std::uint64_t frames = 0;
    std::uint32_t wait_readers = 0;
    std::size_t frame_bytes = 1000;
    std::size_t ring_bytes = std::size_t{1} << 20;
    std::uint64_t stream_ms = 0;       // 0: no stream after "ready".
    std::uint64_t reader_timeout_ms = 5000;
    std::uint32_t mode = 0600;
    std::uint64_t start_after_ms = 0;
    bool metadata = true;
    bool hold = true;
};

struct ReaderSettings {
    std::uint64_t frames = 0;
    zerobuffer::ReaderPolicy policy = zerobuffer::ReaderPolicy::Lossless;
    std::uint64_t max_lag = 0;
    std::uint64_t keep = 0;     // Frames kept held until the end.
    std::uint64_t delay_ms = 0; // Sleep after each frame.
    bool hold = true;
};

int run_writer(const std::string& ring, const WriterSettings& settings)
{
    zerobuffer::WriterOptions options;
    options.ring_size = settings.ring_bytes;
    options.max_readers = 4;
    options.permissions = settings.mode;
    std::this_thread::sleep_for(std::chrono::milliseconds(settings.start_after_ms));
    options.reader_timeout = std::chrono::milliseconds(settings.reader_timeout_ms);
    auto writer = zerobuffer::Writer::create(ring, options);
    if (!writer) {
        return fail("create", writer.error());
    }
    if (settings.metadata) {
        zerobuffer::StreamFormat format;
        format.media_type = "application/octet-stream";
        format.codec = "test";
        if (auto set = writer->set_stream_metadata(zerobuffer::to_json(format)); !set) {
            return fail("set_stream_metadata", set.error());
        }
    }
    say("attached");
    if (settings.wait_readers > 0) {
        if (auto ready = writer->wait_for_readers(settings.wait_readers, std::chrono::seconds(30)); !ready) {
            return fail("wait_for_readers", ready.error());
        }
    }
    std::vector<std::byte> payload(settings.frame_bytes, std::byte{0x5a});
    std::uint64_t sequence = 0;
    auto write_one = [&]() {
        zerobuffer::FrameInfo info;
        info.pts = static_cast<std::int64_t>(sequence++) * 1'000'000;
        return writer->write(payload, info);
    };
    for (std::uint64_t i = 0; i < settings.frames; ++i) {
        if (auto written = write_one(); !written) {
            return fail("write", written.error());
        }
    }
    say("ready");
    if (settings.stream_ms > 0) {
        while (!stop_requested()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(settings.stream_ms));
            if (auto written = write_one(); !written) {
                return fail("write", written.error());
            }
        }
        return 0;
    }
    return settings.hold ? wait_for_stop() : 0;
}

int run_reader(const std::string& ring, const ReaderSettings& settings)
{
    zerobuffer::ReaderOptions options;
    options.policy = settings.policy;
    options.max_lag_frames = settings.max_lag;
    auto reader = zerobuffer::Reader::attach(ring, options);
    for (int tries = 0; !reader && reader.error().code == zerobuffer::Errc::NotFound && tries < 200; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        reader = zerobuffer::Reader::attach(ring, options);
    }
    if (!reader) {
        return fail("attach", reader.error());
    }
    say("attached");
    std::deque<zerobuffer::Frame> kept; // The last `keep` frames, held until this process stops.
    for (std::uint64_t i = 0; i < settings.frames; ++i) {
        auto frame = reader->acquire(std::chrono::seconds(30));
        if (!frame) {
            return fail("acquire", frame.error());
        }
        if (settings.keep > 0) {
            kept.push_back(std::move(*frame));
            if (kept.size() > settings.keep) {
                kept.pop_front();
            }
        }
        if (settings.delay_ms > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(settings.delay_ms));
        }
    }
    say("ready");
    return settings.hold ? wait_for_stop() : 0;
}

// An OFD lock on byte 0, as Segment::create_temporary takes it: what gc must see as a live creator.
int run_lock(const std::string& path)
{
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        std::perror(("zb-ring-holder: open " + path).c_str());
        return 1;
    }
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &lock) != 0) {
        std::perror(("zb-ring-holder: lock " + path).c_str());
        return 1;
    }
    say("ready");
    const int status = wait_for_stop();
    ::close(fd);
    return status;
}

bool parse(std::string_view text, std::uint64_t& value, int base)
{
    const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    return err == std::errc{} && end == text.data() + text.size();
}

} // namespace

int main(int argc, char** argv)
{
    // Block the stop signals in every thread so that sigwait() receives them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    const std::vector<std::string_view> args(argv + 1, argv + argc);
    for (const auto arg : args) {
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
    }
    if (args.size() < 2) {
        return usage_error("needs a role (writer, reader or lock) and a RING or FILE");
    }
    const std::string_view role = args[0];
    const std::string ring(args[1]);
    if (role != "writer" && role != "reader" && role != "lock") {
        return usage_error("role must be writer, reader or lock, not '" + std::string(role) + "'");
    }
    if (ring.starts_with("-")) {
        return usage_error("expected a RING or FILE, not the option '" + ring + "'");
    }
    if (role == "lock") {
        if (args.size() != 2) {
            return usage_error("'lock' takes just a FILE");
        }
        return run_lock(ring);
    }
    WriterSettings writer;
    ReaderSettings reader;
    const bool is_writer = role == "writer";
    std::uint64_t number = 0;
    for (std::size_t i = 2; i < args.size(); ++i) {
        const std::string_view key = args[i];
        if (key == "--no-hold") {
            writer.hold = reader.hold = false;
            continue;
        }
        if (key == "--no-metadata" && is_writer) {
            writer.metadata = false;
            continue;
        }
        if (i + 1 == args.size()) {
            return usage_error("unknown option or missing value: " + std::string(key));
        }
        const std::string_view value = args[++i];
        bool ok = key == "--policy" || parse(value, number, key == "--mode" ? 8 : 10);
        if (key == "--frames") {
            writer.frames = reader.frames = number;
        } else if (key == "--wait-readers" && is_writer) {
            writer.wait_readers = static_cast<std::uint32_t>(number);
        } else if (key == "--frame-bytes" && is_writer) {
            writer.frame_bytes = static_cast<std::size_t>(number);
        } else if (key == "--ring-bytes" && is_writer) {
            writer.ring_bytes = static_cast<std::size_t>(number);
        } else if (key == "--start-after-ms" && is_writer) {
            writer.start_after_ms = number;
        } else if (key == "--mode" && is_writer) {
            writer.mode = static_cast<std::uint32_t>(number);
        } else if (key == "--stream-ms" && is_writer) {
            writer.stream_ms = number;
        } else if (key == "--reader-timeout-ms" && is_writer) {
            writer.reader_timeout_ms = number;
        } else if (key == "--max-lag" && !is_writer) {
            reader.max_lag = number;
        } else if (key == "--keep" && !is_writer) {
            reader.keep = number;
        } else if (key == "--delay-ms" && !is_writer) {
            reader.delay_ms = number;
        } else if (key == "--policy" && !is_writer) {
            ok = value == "lossless" || value == "latest";
            reader.policy = value == "latest" ? zerobuffer::ReaderPolicy::Latest : zerobuffer::ReaderPolicy::Lossless;
        } else {
            ok = false;
        }
        if (!ok) {
            return usage_error("bad option " + std::string(key) + " " + std::string(value));
        }
    }
    return is_writer ? run_writer(ring, writer) : run_reader(ring, reader);
}
