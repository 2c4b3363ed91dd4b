// SPDX-License-Identifier: MIT
// The child roles of the held-frames section: a camera-like writer paced at absolute deadlines, and a latest
// reader that holds every frame it gets for a while, as an inference process does.
#include "role_support.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <optional>
#include <thread>
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

/// The writer stamps the frame's index at both ends of the payload, so a reader can tell a frame that was
/// overwritten (either end changed) from one that is intact.
void stamp_both_ends(std::span<std::byte> payload, std::uint64_t index) noexcept
{
    stamp(payload, index);
    if (payload.size() >= 16) {
        stamp(payload.subspan(payload.size() - 8), index);
    }
}

/// The index stamped at both ends, or nullopt when the frame has the wrong size or the ends disagree.
std::optional<std::uint64_t> stamped_index(std::span<const std::byte> payload, std::size_t size) noexcept
{
    if (payload.size() != size) {
        return std::nullopt;
    }
    const auto head = read_stamp(payload);
    if (payload.size() >= 16 && read_stamp(payload.subspan(payload.size() - 8)) != head) {
        return std::nullopt;
    }
    return head;
}

} // namespace

/// Writes `fps` frames per second for `seconds`, frame i at t0 + i / fps (absolute deadlines, so a late frame
/// does not shift the ones after it). Like a camera with a one-frame buffer, a writer that comes back more than a
/// period late takes the newest frame: the ones in between are lost (late_frames). Copies the frame in with
/// Writer::write; a reserve() that times out loses that frame and is counted.
int role_held_writer(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const auto size = arg_size(args, "size");
    const double fps = arg_f64(args, "fps");
    const double seconds = arg_f64(args, "seconds");
    const auto readers = static_cast<std::uint32_t>(arg_u64(args, "readers"));
    if (fps <= 0 || seconds <= 0 || readers == 0) {
        throw BenchFailure("held-writer needs fps, seconds and readers above 0");
    }

    zb::WriterOptions wo;
    wo.ring_size = arg_size(args, "ring_size");
    wo.max_readers = readers;
    wo.reader_timeout = std::chrono::milliseconds(arg_u64(args, "timeout_ms"));
    auto writer = must(zb::Writer::create(arg(args, "ring"), wo), "create ring " + arg(args, "ring"));
    if (writer.max_payload_size() < size) {
        throw BenchFailure("ring too small: max_payload_size " + std::to_string(writer.max_payload_size()) +
                           " < frame " + std::to_string(size));
    }
    // Prepared before the readers are waited for, so the copy source is already faulted in.
    std::vector<std::byte> source(size, std::byte{0x5a});
    must(writer.wait_for_readers(readers, 10s), "wait for the readers");

    const auto period_ns = static_cast<std::int64_t>(std::llround(1e9 / fps));
    const auto total = static_cast<std::uint64_t>(std::llround(seconds * fps));
    const std::int64_t t0 = now_ns() + period_ns; // the readers are already waiting in acquire()
    std::uint64_t index = 0;
    std::uint64_t written = 0;
    std::uint64_t late = 0;
    std::int64_t max_late_ns = 0;
    while (index < total) {
        const std::int64_t deadline = t0 + static_cast<std::int64_t>(index) * period_ns;
        sleep_until_ns(deadline);
        max_late_ns = std::max(max_late_ns, now_ns() - deadline);
        stamp_both_ends(source, index);
        zb::FrameInfo info;
        info.pts = static_cast<std::int64_t>(index) * period_ns;
        info.duration = period_ns;
        if (auto done = writer.write(source, info); done) {
            ++written;
        } else if (done.error().code != zb::Errc::Timeout) {
            fail(done.error(), "write");
        }
        const auto newest = static_cast<std::uint64_t>(std::max<std::int64_t>(0, (now_ns() - t0) / period_ns));
        const auto next = std::max(index + 1, std::min(newest, total));
        late += next - (index + 1);
        index = next;
    }
    const std::int64_t end = std::max(now_ns(), t0 + static_cast<std::int64_t>(total) * period_ns);
    const auto counters = writer.counters();
    ResultLine()
        .add("frames", written)
        .add("seconds", static_cast<double>(end - t0) * 1e-9)
        .add("late_frames", late)
        .add("max_late_ms", static_cast<double>(max_late_ns) * 1e-6)
        .add("waits", counters.waits)
        .add("wait_ns", counters.wait_ns)
        .add("timeouts", counters.timeouts)
        .add("frames_passed", counters.frames_passed)
        .add("rewinds", counters.rewinds)
        .add("frames_written", counters.frames_written)
        .print();
    return 0;
}

/// A latest reader: acquires the newest frame, checks it, holds it for hold_ns, checks it is still intact,
/// releases it, and starts again, until the writer is gone. Reports the oldest frame it was given (time from
/// commit to acquire): a latest reader should always get a frame younger than one period plus a wake-up. The
/// last frame before WriterGone does not count: it may be the newest one a writer left when it closed.
int role_held_reader(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const auto size = arg_size(args, "size");
    const auto hold = arg_ns(args, "hold_ns");
    zb::ReaderOptions ro;
    ro.policy = zb::ReaderPolicy::Latest;
    auto reader = must(attach_retry(arg(args, "ring"), ro, 10s), "attach ring " + arg(args, "ring"));

    std::uint64_t frames = 0;
    std::uint64_t errors = 0;
    std::int64_t max_age_ns = 0;
    std::int64_t last_age_ns = 0;
    for (;;) {
        auto frame = reader.acquire(60s);
        if (!frame) {
            if (frame.error().code == zb::Errc::WriterGone) {
                break;
            }
            fail(frame.error(), "acquire");
        }
        max_age_ns = std::max(max_age_ns, last_age_ns);
        last_age_ns = now_ns() - frame->commit_time_ns();
        const auto at_acquire = stamped_index(frame->payload(), size);
        if (hold.count() > 0) {
            std::this_thread::sleep_for(hold);
        }
        if (!at_acquire || stamped_index(frame->payload(), size) != at_acquire) {
            ++errors;
        }
        frame->release();
        ++frames;
    }
    const auto counters = reader.counters();
    ResultLine()
        .add("frames", frames)
        .add("errors", errors)
        .add("max_age_ms", static_cast<double>(max_age_ns) * 1e-6)
        .add("frames_skipped", counters.frames_skipped)
        .add("overruns", counters.overruns)
        .add("waits", counters.waits)
        .print();
    return 0;
}

} // namespace zbbench
