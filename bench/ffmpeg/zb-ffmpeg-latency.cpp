// SPDX-License-Identifier: MIT
// Benchmark helper: a lossless reader that measures each frame's latency from the writer's commit
// (Frame::commit_time_ns) to its arrival here (CLOCK_MONOTONIC right after acquire), until end-of-stream.
//
//   zb-ffmpeg-latency RING    prints "frames N p50_us X p99_us Y max_us Z"
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <thread>
#include <vector>

#include <zerobuffer/zerobuffer.h>

namespace {

constexpr const char* kUsage = R"(Usage: zb-ffmpeg-latency RING

Benchmark helper (bench/ffmpeg/ffmpeg-bench.sh): reads ring RING losslessly until its writer ends the
stream and prints "frames N p50_us X p99_us Y max_us Z", the latency from each frame's commit to its
arrival here. Waits up to 30 s for the writer. Exit status: 0 done, 1 no ring, 2 usage error.
)";

std::int64_t monotonic_ns()
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

double percentile_us(const std::vector<std::int64_t>& sorted, double fraction)
{
    if (sorted.empty()) {
        return 0.0;
    }
    const auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1));
    return static_cast<double>(sorted[index]) / 1e3;
}

} // namespace

int main(int argc, char** argv)
{
    const std::string_view ring = argc == 2 ? argv[1] : "";
    if (ring == "-h" || ring == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (argc != 2 || ring.starts_with("-")) {
        std::fprintf(stderr, "zb-ffmpeg-latency: expected one RING\n%s", kUsage);
        return 2;
    }
    auto reader = zerobuffer::Reader::attach(argv[1]);
    for (int tries = 0; !reader && reader.error().code == zerobuffer::Errc::NotFound && tries < 3000; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        reader = zerobuffer::Reader::attach(argv[1]);
    }
    if (!reader) {
        std::fprintf(stderr, "zb-ffmpeg-latency: cannot attach to '%s': %s\n", argv[1], reader.error().message.c_str());
        return 1;
    }
    std::vector<std::int64_t> latencies;
    latencies.reserve(100'000); // No allocation while frames arrive.
    while (latencies.size() < latencies.capacity()) {
        auto frame = reader->acquire(std::chrono::seconds(5));
        const std::int64_t arrival = monotonic_ns();
        if (!frame) {
            if (frame.error().code == zerobuffer::Errc::Timeout) {
                continue;
            }
            break; // WriterGone: the writer ended without end-of-stream.
        }
        if ((frame->info().flags & zerobuffer::kFrameEndOfStream) != 0) {
            break;
        }
        latencies.push_back(arrival - frame->commit_time_ns());
    }
    std::sort(latencies.begin(), latencies.end());
    std::printf("frames %zu p50_us %.1f p99_us %.1f max_us %.1f\n", latencies.size(), percentile_us(latencies, 0.50),
                percentile_us(latencies, 0.99), latencies.empty() ? 0.0 : static_cast<double>(latencies.back()) / 1e3);
    return latencies.empty() ? 1 : 0;
}
