// SPDX-License-Identifier: MIT
// zb-relay-bench's fan-out section: one publishing relay, four receiving relays, 1080p at 30 fps over loopback
// tcp. Does every receiver keep the publisher's rate, and does a slow policy=latest receiver leave the others
// alone? Figures with target and PASS/MISS; never fails on speed.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <zerobuffer/reader.h>
#include <zerobuffer/writer.h>

#include "relay_bench.h"

namespace zerobuffer::relay_bench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReceivers = 4;
constexpr std::size_t kFrameBytes = 1920 * 1080 * 3 / 2;
constexpr double kFps = 30.0;
constexpr std::size_t kRingBytes = std::size_t{32} << 20;
constexpr double kTarget = 0.95;
constexpr auto kSlowReaderHold = std::chrono::milliseconds(100); ///< The slow reader takes 10 frames a second.

/// What one reader of a receiving relay's ring saw.
struct ReceiverFigures {
    std::uint64_t frames = 0; ///< Not counting the end-of-stream frame.
    std::int64_t first_ns = 0;
    std::int64_t last_ns = 0;
    std::vector<std::int64_t> latencies_ns; ///< Source commit (the frame's pts) to acquire in this ring.
    bool attached = false;

    [[nodiscard]] double fps() const
    {
        return frames < 2 ? 0.0 : static_cast<double>(frames - 1) * 1e9 / static_cast<double>(last_ns - first_ns);
    }
    [[nodiscard]] double p99_ms()
    {
        if (latencies_ns.empty())
            return 0;
        std::sort(latencies_ns.begin(), latencies_ns.end());
        return static_cast<double>(latencies_ns[(latencies_ns.size() - 1) * 99 / 100]) / 1e6;
    }
};

/// Reads `ring` until end-of-stream (or 5 s without a frame once `writer_done`), holding each frame for `hold`.
void read_ring(const std::string& ring, std::chrono::milliseconds hold, const std::atomic<bool>& writer_done,
               ReceiverFigures& figures)
{
    std::optional<Reader> reader;
    for (int i = 0; i < 2000 && !reader; ++i) {
        if (auto attached = Reader::attach(ring))
            reader.emplace(std::move(*attached));
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reader)
        return;
    figures.attached = true;
    auto idle_since = Clock::now();
    for (;;) {
        auto frame = reader->acquire(std::chrono::milliseconds(200));
        if (!frame) {
            if (frame.error().code != Errc::Timeout)
                return;
            if (writer_done.load() && Clock::now() - idle_since > std::chrono::seconds(5))
                return;
            continue;
        }
        idle_since = Clock::now();
        if ((frame->info().flags & kFrameEndOfStream) != 0)
            return;
        const std::int64_t now = monotonic_ns();
        if (figures.frames == 0)
            figures.first_ns = now;
        figures.last_ns = now;
        ++figures.frames;
        figures.latencies_ns.push_back(now - frame->info().pts);
        frame->release();
        if (hold.count() > 0)
            std::this_thread::sleep_for(hold);
    }
}

/// One run: returns false (after saying why) when the relays could not be set up.
bool run_fanout(const std::string& relay, const std::string& tag, bool slow_latest, std::uint64_t frames)
{
    const std::string address = "tcp://127.0.0.1:" + std::to_string(free_port_after(30000));
    const std::string source = tag + "-fo-src";
    std::vector<std::unique_ptr<RelayProcess>> relays;
    relays.push_back(std::make_unique<RelayProcess>(
        relay, std::vector<std::string>{"--from", "ring:" + source, "--to",
                                        address + "?wait-peers=" + std::to_string(kReceivers), "--insecure",
                                        "--status-interval", "0"}));
    std::array<ReceiverFigures, kReceivers> figures;
    std::atomic<bool> writer_done{false};
    std::vector<std::thread> readers;
    for (std::size_t i = 0; i < kReceivers; ++i) {
        const bool slow = slow_latest && i + 1 == kReceivers;
        const std::string ring = tag + "-fo-" + std::to_string(i);
        relays.push_back(std::make_unique<RelayProcess>(
            relay, std::vector<std::string>{"--from", address + (slow ? "?policy=latest&window=2" : ""), "--to",
                                            "ring:" + ring + "?size=" + std::to_string(kRingBytes) +
                                                "&wait-readers=1",
                                            "--insecure", "--status-interval", "0"}));
        readers.emplace_back(read_ring, ring, slow ? kSlowReaderHold : std::chrono::milliseconds(0),
                             std::cref(writer_done), std::ref(figures[i]));
    }
    WriterOptions options;
    options.ring_size = kRingBytes;
    options.reader_timeout = std::chrono::seconds(20);
    auto created = Writer::create(source, options);
    if (!created) {
        std::fprintf(stderr, "zb-relay-bench: error: fan-out: %s\n", created.error().message.c_str());
        writer_done.store(true);
        for (std::thread& reader : readers)
            reader.join();
        return false;
    }
    std::optional<Writer> writer(std::move(*created)); // Destroyed (the ring closed) before the relays stop.
    if (!writer->wait_for_readers(1, std::chrono::seconds(20))) {
        std::fprintf(stderr, "zb-relay-bench: error: fan-out: the publishing relay did not attach\n");
        writer.reset();
        writer_done.store(true);
        for (std::thread& reader : readers)
            reader.join();
        return false;
    }
    // The receivers connect once their readers are there; then every connection's handshake has time to finish,
    // so that the clock does not start with a backlog the publisher held back for wait-peers.
    for (int i = 0; i < 2000; ++i) {
        if (std::all_of(figures.begin(), figures.end(), [](const ReceiverFigures& f) { return f.attached; }))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    const auto start = Clock::now();
    std::int64_t first_commit = 0;
    std::int64_t last_commit = 0;
    for (std::uint64_t i = 0; i < frames; ++i) {
        std::this_thread::sleep_until(
            start + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / kFps)));
        auto reservation = writer->reserve(kFrameBytes, 0, std::chrono::seconds(20));
        if (!reservation) {
            std::fprintf(stderr, "zb-relay-bench: error: fan-out: writing: %s\n", reservation.error().message.c_str());
            break;
        }
        std::memset(reservation->payload().data(), static_cast<int>(i & 0xff), kFrameBytes);
        FrameInfo info;
        info.pts = monotonic_ns();
        (void)writer->commit(*reservation, info);
        if (i == 0)
            first_commit = info.pts;
        last_commit = info.pts;
    }
    FrameInfo end_of_stream;
    end_of_stream.flags = kFrameEndOfStream;
    if (auto reservation = writer->reserve(0, 0, std::chrono::seconds(5)))
        (void)writer->commit(*reservation, end_of_stream);
    writer.reset();
    writer_done.store(true);
    for (std::thread& reader : readers)
        reader.join();
    relays.clear();
    const double publisher_fps =
        static_cast<double>(frames - 1) * 1e9 / static_cast<double>(std::max<std::int64_t>(1, last_commit - first_commit));
    std::printf("1080p  fan-out to %zu receivers%s: publisher %.1f frames/s (%llu frames)\n", kReceivers,
                slow_latest ? ", the last one slow and policy=latest" : "", publisher_fps,
                static_cast<unsigned long long>(frames));
    for (std::size_t i = 0; i < kReceivers; ++i) {
        ReceiverFigures& f = figures[i];
        const bool slow = slow_latest && i + 1 == kReceivers;
        const double ratio = f.fps() / publisher_fps;
        const double p99 = f.p99_ms();
        if (slow) {
            std::printf("1080p    receiver %zu (slow, latest): %.1f frames/s, %llu of %llu frames (drops by design), "
                        "p99 latency %.1f ms\n",
                        i + 1, f.fps(), static_cast<unsigned long long>(f.frames),
                        static_cast<unsigned long long>(frames), p99);
            continue;
        }
        // A receiver that lost frames has not kept up, whatever its rate between the frames it got.
        const bool complete = f.frames == frames;
        std::printf("1080p    receiver %zu: %.1f frames/s, %llu of %llu frames, p99 latency %.1f ms, ratio to the "
                    "publisher %.2f (target >= %.2f, every frame) %s\n",
                    i + 1, f.fps(), static_cast<unsigned long long>(f.frames),
                    static_cast<unsigned long long>(frames), p99, ratio, kTarget,
                    complete ? verdict(ratio, kTarget) : "MISS");
    }
    return true;
}

} // namespace

void fanout_section(const std::string& relay, const std::string& tag, bool quick)
{
    const std::uint64_t frames = quick ? 90 : 300; // 3 s or 10 s at 30 fps
    for (const bool slow_latest : {false, true}) {
        if (!run_fanout(relay, tag, slow_latest, frames))
            return;
    }
}

} // namespace zerobuffer::relay_bench
