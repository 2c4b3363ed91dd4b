// SPDX-License-Identifier: MIT
// Test helper: a real process that holds a ring as its writer or as one reader until SIGTERM.
//
//   zb-ring-holder writer RING [--frames N] [--wait-readers K] [--frame-bytes B] [--no-hold]
//   zb-ring-holder reader RING [--frames N] [--policy lossless|latest] [--no-hold]
//   zb-ring-holder lock FILE
//
// Prints "attached" once it holds the ring and "ready" once its frames are written or read, then
// sleeps until SIGTERM or SIGINT and exits cleanly (destructors close the ring / free the slot).
// Tests kill -9 it to make dead writers and readers.
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <zerobuffer/zerobuffer.h>

namespace {

constexpr const char* kUsage = R"(Usage: zb-ring-holder writer RING [--frames N] [--wait-readers K] [--frame-bytes B] [--no-hold]
       zb-ring-holder reader RING [--frames N] [--policy lossless|latest] [--max-lag N] [--no-hold]
       zb-ring-holder lock FILE

Test helper: holds ring RING as its writer (writing N frames of B bytes, default 1000, after K readers
attached) or as one reader (reading N frames; latest with --max-lag N reads in order while at most N
frames behind), printing "attached" once it holds the ring and "ready"
once its frames are done, then waits for SIGTERM or SIGINT and closes cleanly. With --no-hold it closes
and exits 0 right after "ready". 'lock FILE' holds a writer's lock (byte 0) on an existing FILE the way a
writer creating a ring does, prints "ready" and waits likewise.
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

int run_writer(const std::string& ring, std::uint64_t frames, std::uint32_t wait_readers, std::size_t frame_bytes,
               bool hold)
{
    zerobuffer::WriterOptions options;
    options.ring_size = std::size_t{1} << 20;
    options.max_readers = 4;
    auto writer = zerobuffer::Writer::create(ring, options);
    if (!writer) {
        return fail("create", writer.error());
    }
    zerobuffer::StreamFormat format;
    format.media_type = "application/octet-stream";
    format.codec = "test";
    if (auto set = writer->set_stream_metadata(zerobuffer::to_json(format)); !set) {
        return fail("set_stream_metadata", set.error());
    }
    say("attached");
    if (wait_readers > 0) {
        if (auto ready = writer->wait_for_readers(wait_readers, std::chrono::seconds(30)); !ready) {
            return fail("wait_for_readers", ready.error());
        }
    }
    std::vector<std::byte> payload(frame_bytes, std::byte{0x5a});
    for (std::uint64_t i = 0; i < frames; ++i) {
        zerobuffer::FrameInfo info;
        info.pts = static_cast<std::int64_t>(i) * 1'000'000;
        if (auto written = writer->write(payload, info); !written) {
            return fail("write", written.error());
        }
    }
    say("ready");
    return hold ? wait_for_stop() : 0;
}

int run_reader(const std::string& ring, std::uint64_t frames, zerobuffer::ReaderPolicy policy, bool hold,
               std::uint64_t max_lag)
{
    zerobuffer::ReaderOptions options;
    options.policy = policy;
    options.max_lag_frames = max_lag;
    auto reader = zerobuffer::Reader::attach(ring, options);
    for (int tries = 0; !reader && reader.error().code == zerobuffer::Errc::NotFound && tries < 200; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        reader = zerobuffer::Reader::attach(ring, options);
    }
    if (!reader) {
        return fail("attach", reader.error());
    }
    say("attached");
    for (std::uint64_t i = 0; i < frames; ++i) {
        auto frame = reader->acquire(std::chrono::seconds(30));
        if (!frame) {
            return fail("acquire", frame.error());
        }
    }
    say("ready");
    return hold ? wait_for_stop() : 0;
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

bool parse(std::string_view text, std::uint64_t& value)
{
    const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
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
    std::uint64_t frames = 0;
    std::uint64_t wait_readers = 0;
    std::uint64_t frame_bytes = 1000;
    bool hold = true;
    std::uint64_t max_lag = 0;
    auto policy = zerobuffer::ReaderPolicy::Lossless;
    for (std::size_t i = 2; i < args.size(); ++i) {
        const std::string_view key = args[i];
        if (key == "--no-hold") {
            hold = false;
            continue;
        }
        if (i + 1 == args.size()) {
            return usage_error("unknown option or missing value: " + std::string(key));
        }
        const std::string_view value = args[++i];
        bool ok = true;
        if (key == "--frames") {
            ok = parse(value, frames);
        } else if (key == "--wait-readers" && role == "writer") {
            ok = parse(value, wait_readers);
        } else if (key == "--max-lag" && role == "reader") {
            ok = parse(value, max_lag);
        } else if (key == "--frame-bytes" && role == "writer") {
            ok = parse(value, frame_bytes);
        } else if (key == "--policy" && role == "reader") {
            ok = value == "lossless" || value == "latest";
            policy = value == "latest" ? zerobuffer::ReaderPolicy::Latest : zerobuffer::ReaderPolicy::Lossless;
        } else {
            ok = false;
        }
        if (!ok) {
            return usage_error("bad option " + std::string(key) + " " + std::string(value));
        }
    }
    if (role == "writer") {
        return run_writer(ring, frames, static_cast<std::uint32_t>(wait_readers), static_cast<std::size_t>(frame_bytes),
                          hold);
    }
    return run_reader(ring, frames, policy, hold, max_lag);
}
