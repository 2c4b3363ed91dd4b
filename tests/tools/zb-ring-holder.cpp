// SPDX-License-Identifier: MIT
// Test helper: a real process that holds a ring as its writer or as one reader until SIGTERM.
//
//   zb-ring-holder writer RING [--frames N] [--wait-readers K] [--frame-bytes B]
//   zb-ring-holder reader RING [--frames N] [--policy lossless|latest]
//
// Prints "attached" once it holds the ring and "ready" once its frames are written or read, then
// sleeps until SIGTERM or SIGINT and exits cleanly (destructors close the ring / free the slot).
// Tests kill -9 it to make dead writers and readers.
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <zerobuffer/zerobuffer.h>

namespace {

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

int run_writer(const std::string& ring, std::uint64_t frames, std::uint32_t wait_readers, std::size_t frame_bytes)
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
    return wait_for_stop();
}

int run_reader(const std::string& ring, std::uint64_t frames, zerobuffer::ReaderPolicy policy, std::uint64_t max_lag)
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
    return wait_for_stop();
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

    if (argc < 3) {
        std::fprintf(stderr, "usage: zb-ring-holder writer|reader RING [options]\n");
        return 2;
    }
    const std::string_view role = argv[1];
    const std::string ring = argv[2];
    std::uint64_t frames = 0;
    std::uint64_t wait_readers = 0;
    std::uint64_t frame_bytes = 1000;
    std::uint64_t max_lag = 0;
    auto policy = zerobuffer::ReaderPolicy::Lossless;
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string_view key = argv[i];
        const std::string_view value = argv[i + 1];
        bool ok = true;
        if (key == "--frames") {
            ok = parse(value, frames);
        } else if (key == "--wait-readers") {
            ok = parse(value, wait_readers);
        } else if (key == "--max-lag") {
            ok = parse(value, max_lag);
        } else if (key == "--frame-bytes") {
            ok = parse(value, frame_bytes);
        } else if (key == "--policy") {
            ok = value == "lossless" || value == "latest";
            policy = value == "latest" ? zerobuffer::ReaderPolicy::Latest : zerobuffer::ReaderPolicy::Lossless;
        } else {
            ok = false;
        }
        if (!ok) {
            std::fprintf(stderr, "zb-ring-holder: bad option %s %s\n", argv[i], argv[i + 1]);
            return 2;
        }
    }
    if (role == "writer") {
        return run_writer(ring, frames, static_cast<std::uint32_t>(wait_readers), static_cast<std::size_t>(frame_bytes));
    }
    if (role == "reader") {
        return run_reader(ring, frames, policy, max_lag);
    }
    std::fprintf(stderr, "zb-ring-holder: role must be writer or reader\n");
    return 2;
}
