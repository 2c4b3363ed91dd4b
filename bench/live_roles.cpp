// SPDX-License-Identifier: MIT
// The child roles of the live-latency section: a camera-like writer paced at absolute deadlines, and a lossless
// reader that measures each frame's one-way latency (commit to acquire returning) and the CPU it used.
#include "role_support.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <vector>

namespace zbbench {

namespace zb = zerobuffer;
using namespace std::chrono_literals;

namespace {

void sleep_until_ns(std::int64_t deadline_ns) noexcept
{
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

zb::WaitMode wait_mode_of(const std::string& name)
{
    if (name == "cadence") {
        return zb::WaitMode::Cadence;
    }
    if (name == "sleep") {
        return zb::WaitMode::Sleep;
    }
    throw BenchFailure("live-reader: mode must be cadence or sleep, not " + name);
}

} // namespace

/// Writes `frames` frames of `size` bytes at `fps`, frame i at t0 + i / fps, with a stream format that announces
/// the rate (as a GStreamer or FFmpeg writer does). Copies each frame in with Writer::write.
int role_live_writer(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const auto size = arg_size(args, "size");
    const double fps = arg_f64(args, "fps");
    const auto frames = arg_u64(args, "frames");
    if (fps <= 0 || frames == 0) {
        throw BenchFailure("live-writer needs fps and frames above 0");
    }
    zb::WriterOptions wo;
    wo.ring_size = arg_size(args, "ring_size");
    wo.max_readers = 1;
    auto writer = must(zb::Writer::create(arg(args, "ring"), wo), "create ring " + arg(args, "ring"));
    const auto rate = static_cast<long long>(std::llround(fps));
    must(writer.set_stream_metadata(R"({"schema":"zerobuffer.stream-format/1","media_type":"application/octet-stream",)"
                                    R"("framerate":{"num":)" + std::to_string(rate) + R"(,"den":1}})"),
         "set the stream format");
    std::vector<std::byte> source(size, std::byte{0x5a});
    must(writer.wait_for_readers(1, 10s), "wait for the reader");
    const auto period_ns = static_cast<std::int64_t>(std::llround(1e9 / fps));
    const std::int64_t t0 = now_ns() + period_ns;
    std::int64_t max_late_ns = 0;
    for (std::uint64_t i = 0; i < frames; ++i) {
        const std::int64_t deadline = t0 + static_cast<std::int64_t>(i) * period_ns;
        sleep_until_ns(deadline);
        max_late_ns = std::max(max_late_ns, now_ns() - deadline);
        stamp(source, i);
        must(writer.write(source), "write");
    }
    ResultLine().add("frames", frames).add("max_late_ms", static_cast<double>(max_late_ns) * 1e-6).print();
    return 0;
}

/// Reads every frame until WriterGone with the wait mode asked for; the first `warmup` frames (the cadence wait
/// learning the rate) count in neither latency nor CPU.
int role_live_reader(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const auto warmup = arg_u64(args, "warmup");
    zb::ReaderOptions ro;
    ro.wait_mode = wait_mode_of(arg(args, "mode"));
    auto reader = must(attach_retry(arg(args, "ring"), ro, 10s), "attach ring " + arg(args, "ring"));
    std::vector<std::int64_t> samples;
    std::uint64_t index = 0;
    std::uint64_t errors = 0;
    rusage usage_start{};
    std::int64_t wall_start = 0;
    zb::ReaderCounters counters_start;
    for (;; ++index) {
        if (index == warmup) {
            usage_start = self_usage();
            wall_start = now_ns();
            counters_start = reader.counters();
        }
        auto frame = reader.acquire(60s);
        const std::int64_t arrived = now_ns();
        if (!frame) {
            if (frame.error().code == zb::Errc::WriterGone) {
                break;
            }
            fail(frame.error(), "acquire");
        }
        if (read_stamp(frame->payload()) != index) {
            ++errors;
        }
        if (index >= warmup) {
            samples.push_back(arrived - frame->commit_time_ns());
        }
        frame->release();
    }
    if (samples.empty()) {
        throw BenchFailure("live-reader: no frames after the warm-up");
    }
    const rusage usage_end = self_usage();
    const double wall = static_cast<double>(now_ns() - wall_start) * 1e-9;
    const double cpu = seconds_of(usage_end.ru_utime) + seconds_of(usage_end.ru_stime) -
                       seconds_of(usage_start.ru_utime) - seconds_of(usage_start.ru_stime);
    const auto counters = reader.counters();
    std::sort(samples.begin(), samples.end());
    const auto rank = [&samples](double p) {
        const auto n = static_cast<double>(samples.size());
        const auto idx = static_cast<std::size_t>(std::max(1.0, std::ceil(p * n))) - 1;
        return samples[std::min(idx, samples.size() - 1)];
    };
    ResultLine()
        .add("count", samples.size())
        .add("p50_ns", rank(0.50))
        .add("p99_ns", rank(0.99))
        .add("p999_ns", rank(0.999))
        .add("max_ns", samples.back())
        .add("errors", errors)
        .add("cpu_s", cpu)
        .add("seconds", wall)
        .add("spin_ns", counters.spin_ns - counters_start.spin_ns)
        .add("cadence_hits", counters.cadence_hits - counters_start.cadence_hits)
        .add("cadence_misses", counters.cadence_misses - counters_start.cadence_misses)
        .print();
    return 0;
}

} // namespace zbbench
