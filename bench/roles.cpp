// SPDX-License-Identifier: MIT
// The child roles of zb-bench: each runs in its own process, pinned to one CPU, and prints one result line.
#include "role_support.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <thread>

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace zbbench {
namespace {

namespace zb = zerobuffer;
using namespace std::chrono_literals;

inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

/// Round-trip samples in ns, summarised with nearest-rank percentiles.
void print_latency(std::vector<std::int64_t>& samples, std::uint64_t errors)
{
    std::sort(samples.begin(), samples.end());
    const auto rank = [&samples](double p) {
        const auto n = static_cast<double>(samples.size());
        auto idx = static_cast<std::size_t>(std::max(1.0, std::ceil(p * n))) - 1;
        return samples[std::min(idx, samples.size() - 1)];
    };
    double sum = 0;
    for (const auto s : samples) {
        sum += static_cast<double>(s);
    }
    ResultLine()
        .add("count", samples.size())
        .add("p50_ns", rank(0.50))
        .add("p99_ns", rank(0.99))
        .add("p999_ns", rank(0.999))
        .add("min_ns", samples.front())
        .add("max_ns", samples.back())
        .add("mean_ns", sum / static_cast<double>(samples.size()))
        .add("errors", errors)
        .print();
}

// ---------------------------------------------------------------- ring round trip

/// Process A: writes a frame into ring `out`, waits for the echo in ring `in`, times the round trip.
int role_lat_ping(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const auto size = arg_size(args, "size");
    const auto count = arg_u64(args, "count");
    const auto warmup = arg_u64(args, "warmup");
    const auto spin = arg_ns(args, "spin_ns");

    zb::WriterOptions wo;
    wo.ring_size = arg_size(args, "ring_size");
    wo.spin = spin;
    wo.max_readers = 1;
    wo.reader_timeout = 10s;
    auto writer = must(zb::Writer::create(arg(args, "out"), wo), "create ring " + arg(args, "out"));
    zb::ReaderOptions ro;
    ro.spin = spin;
    auto reader = must(attach_retry(arg(args, "in"), ro, 10s), "attach ring " + arg(args, "in"));
    must(writer.wait_for_readers(1, 10s), "wait for the echo process");

    std::vector<std::byte> buffer(size, std::byte{0x5a});
    std::vector<std::int64_t> samples(count);
    std::uint64_t errors = 0;
    for (std::uint64_t i = 0; i < warmup + count; ++i) {
        stamp(buffer, i);
        const auto t0 = now_ns();
        must(writer.write(buffer), "write");
        auto frame = must(reader.acquire(10s), "acquire echo");
        if (frame.payload().size() != size || read_stamp(frame.payload()) != i) {
            ++errors;
        }
        frame.release();
        const auto t1 = now_ns();
        if (i >= warmup) {
            samples[i - warmup] = t1 - t0;
        }
    }
    print_latency(samples, errors);
    return 0;
}

/// Process B: acquires each frame of ring `in` and writes it back into ring `out`.
int role_lat_pong(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const auto total = arg_u64(args, "count") + arg_u64(args, "warmup");
    const auto spin = arg_ns(args, "spin_ns");

    zb::WriterOptions wo;
    wo.ring_size = arg_size(args, "ring_size");
    wo.spin = spin;
    wo.max_readers = 1;
    wo.reader_timeout = 10s;
    auto writer = must(zb::Writer::create(arg(args, "out"), wo), "create ring " + arg(args, "out"));
    zb::ReaderOptions ro;
    ro.spin = spin;
    auto reader = must(attach_retry(arg(args, "in"), ro, 10s), "attach ring " + arg(args, "in"));
    must(writer.wait_for_readers(1, 10s), "wait for the ping process");

    for (std::uint64_t i = 0; i < total; ++i) {
        auto frame = must(reader.acquire(10s), "acquire");
        must(writer.write(frame.payload()), "write echo");
        frame.release();
    }
    ResultLine().add("echoed", total).print();
    return 0;
}

// ---------------------------------------------------------------- bare ping-pong (machine limits)

/// The shared page of the bare ping-pongs (a memfd passed as fd 3). Words on separate cache lines.
struct PingPongPage {
    alignas(64) std::uint32_t ping;
    alignas(64) std::uint32_t pong;
    alignas(64) std::uint32_t ready;
};

/// Maps fd 3 (a memfd of at least one page, zero-filled by the kernel).
class SharedPage {
public:
    SharedPage()
    {
        mapping_ = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
        if (mapping_ == MAP_FAILED) {
            throw BenchFailure(std::string("mmap of the shared ping-pong page: ") + std::strerror(errno));
        }
    }
    SharedPage(const SharedPage&) = delete;
    SharedPage& operator=(const SharedPage&) = delete;
    ~SharedPage() { munmap(mapping_, kSize); }
    [[nodiscard]] PingPongPage& page() const noexcept { return *static_cast<PingPongPage*>(mapping_); }

private:
    static constexpr std::size_t kSize = 4096;
    void* mapping_ = nullptr;
};

// Non-private futex operations: the two processes share the page through a memfd, not an address space.
void futex_wait(std::uint32_t* word, std::uint32_t expected) noexcept
{
    static_cast<void>(syscall(SYS_futex, word, FUTEX_WAIT, expected, nullptr, nullptr, 0));
}

void futex_wake(std::uint32_t* word) noexcept
{
    static_cast<void>(syscall(SYS_futex, word, FUTEX_WAKE, 1, nullptr, nullptr, 0));
}

void publish(std::uint32_t* word, std::uint32_t value, bool use_futex) noexcept
{
    std::atomic_ref<std::uint32_t>(*word).store(value, std::memory_order_release);
    if (use_futex) {
        futex_wake(word);
    }
}

void wait_for_value(std::uint32_t* word, std::uint32_t value, bool use_futex) noexcept
{
    for (;;) {
        const auto seen = std::atomic_ref<std::uint32_t>(*word).load(std::memory_order_acquire);
        if (seen == value) {
            return;
        }
        if (use_futex) {
            futex_wait(word, seen);
        } else {
            cpu_relax();
        }
    }
}

int role_bare_ping(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const bool use_futex = arg(args, "mode") == "futex";
    const auto count = arg_u64(args, "count");
    const auto warmup = arg_u64(args, "warmup");
    SharedPage shared;
    auto& page = shared.page();

    const auto deadline = now_ns() + 10'000'000'000;
    while (std::atomic_ref<std::uint32_t>(page.ready).load(std::memory_order_acquire) == 0) {
        if (now_ns() > deadline) {
            throw BenchFailure("the pong process never became ready");
        }
        std::this_thread::sleep_for(1ms);
    }

    std::vector<std::int64_t> samples(count);
    for (std::uint64_t i = 0; i < warmup + count; ++i) {
        const auto value = static_cast<std::uint32_t>(i + 1);
        const auto t0 = now_ns();
        publish(&page.ping, value, use_futex);
        wait_for_value(&page.pong, value, use_futex);
        const auto t1 = now_ns();
        if (i >= warmup) {
            samples[i - warmup] = t1 - t0;
        }
    }
    print_latency(samples, 0);
    return 0;
}

int role_bare_pong(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const bool use_futex = arg(args, "mode") == "futex";
    const auto total = arg_u64(args, "count") + arg_u64(args, "warmup");
    SharedPage shared;
    auto& page = shared.page();
    std::atomic_ref<std::uint32_t>(page.ready).store(1, std::memory_order_release);
    for (std::uint64_t i = 0; i < total; ++i) {
        const auto value = static_cast<std::uint32_t>(i + 1);
        wait_for_value(&page.ping, value, use_futex);
        publish(&page.pong, value, use_futex);
    }
    ResultLine().add("echoed", total).print();
    return 0;
}

// ---------------------------------------------------------------- throughput

/// Writes frames as fast as the reader takes them for `seconds` after `warmup` frames.
/// mode=copy: Writer::write from a prepared buffer. mode=inplace: reserve, memset the payload, commit.
int role_tput_writer(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const auto size = arg_size(args, "size");
    const auto warmup = arg_u64(args, "warmup");
    const auto seconds = arg_f64(args, "seconds");
    const bool in_place = arg(args, "mode") == "inplace";

    zb::WriterOptions wo;
    wo.ring_size = arg_size(args, "ring_size");
    wo.spin = arg_ns(args, "spin_ns");
    wo.max_readers = 1;
    wo.reader_timeout = 30s;
    auto writer = must(zb::Writer::create(arg(args, "ring"), wo), "create ring " + arg(args, "ring"));
    if (writer.max_payload_size() < size) {
        throw BenchFailure("ring too small: max_payload_size " + std::to_string(writer.max_payload_size()) +
                           " < frame " + std::to_string(size));
    }
    // Prepared before the reader is waited for, so the copy source is already faulted in.
    std::vector<std::byte> source(in_place ? 0 : size, std::byte{0x5a});
    must(writer.wait_for_readers(1, 10s), "wait for the reader");

    const auto duration_ns = static_cast<std::int64_t>(seconds * 1e9);
    // Reading the clock costs tens of ns: for small frames look at it only every 1024 frames.
    const std::uint64_t check_mask = size >= 65536 ? 0 : 1023;
    std::int64_t t_start = now_ns();
    rusage ru_start = self_usage();
    const zb::FrameInfo info{};
    std::uint64_t i = 0;
    for (;; ++i) {
        if (i == warmup) {
            t_start = now_ns();
            ru_start = self_usage();
        }
        if (i > warmup && (i & check_mask) == 0 && now_ns() - t_start >= duration_ns) {
            break;
        }
        if (in_place) {
            auto reservation = must(writer.reserve(size), "reserve");
            const auto payload = reservation.payload();
            std::memset(payload.data(), static_cast<int>(i & 0xff), payload.size());
            stamp(payload, i);
            must(writer.commit(reservation, info), "commit");
        } else {
            stamp(source, i);
            must(writer.write(source, info), "write");
        }
    }
    const auto t_end = now_ns();
    const rusage ru_end = self_usage();
    const auto counters = writer.counters();
    ResultLine()
        .add("frames", i - warmup)
        .add("seconds", static_cast<double>(t_end - t_start) * 1e-9)
        .add("cpu_s", cpu_seconds(ru_end) - cpu_seconds(ru_start))
        .add("waits", counters.waits)
        .add("timeouts", counters.timeouts)
        .add("frames_written", counters.frames_written)
        .print();
    return 0;
}

/// Acquires, touches (one byte per 4 KiB page and the last byte, checking the writer's stamps) and releases
/// every frame until the writer is gone. Times from frame `warmup` to WriterGone, which comes right after
/// the last frame because the writer closes as soon as it stops.
int role_tput_reader(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const auto size = arg_size(args, "size");
    const auto warmup = arg_u64(args, "warmup");
    const bool in_place = arg(args, "mode") == "inplace";
    zb::ReaderOptions ro;
    ro.spin = arg_ns(args, "spin_ns");
    auto reader = must(attach_retry(arg(args, "ring"), ro, 10s), "attach ring " + arg(args, "ring"));

    std::int64_t t_start = now_ns();
    rusage ru_start = self_usage();
    std::uint64_t n = 0;
    std::uint64_t errors = 0;
    std::uint64_t sink = 0;
    for (;; ++n) {
        auto frame = reader.acquire(30s);
        if (!frame) {
            if (frame.error().code == zb::Errc::WriterGone) {
                break;
            }
            fail(frame.error(), "acquire");
        }
        if (n == warmup) {
            t_start = now_ns();
            ru_start = self_usage();
        }
        const auto payload = frame->payload();
        if (payload.size() != size) {
            ++errors;
        } else {
            for (std::size_t off = 4096; off < size; off += 4096) {
                sink += std::to_integer<std::uint64_t>(payload[off]);
            }
            const auto last = std::to_integer<std::uint64_t>(payload[size - 1]);
            sink += last;
            const std::uint64_t expected_last = in_place ? (n & 0xff) : 0x5a;
            if (read_stamp(payload) != n || (size > 8 && last != expected_last)) {
                ++errors;
            }
        }
        frame->release();
    }
    const auto t_end = now_ns();
    const rusage ru_end = self_usage();
    const auto counters = reader.counters();
    ResultLine()
        .add("frames", n > warmup ? n - warmup : 0)
        .add("total_frames", n)
        .add("seconds", static_cast<double>(t_end - t_start) * 1e-9)
        .add("cpu_s", cpu_seconds(ru_end) - cpu_seconds(ru_start))
        .add("errors", errors)
        .add("waits", counters.waits)
        .add("frames_skipped", counters.frames_skipped)
        .add("sink", sink & 0xffff)
        .print();
    return 0;
}

/// Single-process baseline: memcpy frames from one buffer into a shared-memory buffer as large as the ring,
/// cycling through it like the ring does (64-byte aligned records, same kind of memory: a memfd).
int role_memcpy(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    const auto size = arg_size(args, "size");
    const auto ring_size = arg_size(args, "ring_size");
    const auto seconds = arg_f64(args, "seconds");

    const int fd = memfd_create("zb-bench-memcpy", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(ring_size)) != 0) {
        throw BenchFailure(std::string("memfd for the memcpy baseline: ") + std::strerror(errno));
    }
    void* mapping = mmap(nullptr, ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (mapping == MAP_FAILED) {
        throw BenchFailure(std::string("mmap for the memcpy baseline: ") + std::strerror(errno));
    }
    auto* dst = static_cast<std::byte*>(mapping);
    std::memset(dst, 0, ring_size); // fault every page in, as the ring's warm-up passes do
    std::vector<std::byte> source(size, std::byte{0x5a});
    const std::size_t step = (size + 63) & ~std::size_t{63};

    const auto duration_ns = static_cast<std::int64_t>(seconds * 1e9);
    const std::uint64_t check_mask = size >= 65536 ? 0 : 1023;
    std::size_t offset = 0;
    std::uint64_t frames = 0;
    const auto t_start = now_ns();
    const rusage ru_start = self_usage();
    for (;; ++frames) {
        if (frames > 0 && (frames & check_mask) == 0 && now_ns() - t_start >= duration_ns) {
            break;
        }
        if (offset + size > ring_size) {
            offset = 0;
        }
        std::memcpy(dst + offset, source.data(), size);
        // Keep the compiler from treating the copies as dead stores.
        asm volatile("" : : "r"(dst + offset) : "memory");
        offset += step;
    }
    const auto t_end = now_ns();
    const rusage ru_end = self_usage();
    munmap(mapping, ring_size);
    ResultLine()
        .add("frames", frames)
        .add("seconds", static_cast<double>(t_end - t_start) * 1e-9)
        .add("cpu_s", cpu_seconds(ru_end) - cpu_seconds(ru_start))
        .print();
    return 0;
}

// ---------------------------------------------------------------- idle reader

/// Creates a ring, waits for `readers` readers, then publishes nothing for `seconds` and closes.
int role_idle_writer(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    zb::WriterOptions wo;
    wo.ring_size = arg_size(args, "ring_size");
    auto writer = must(zb::Writer::create(arg(args, "ring"), wo), "create ring " + arg(args, "ring"));
    must(writer.wait_for_readers(static_cast<std::uint32_t>(arg_u64(args, "readers")), 10s), "wait for readers");
    std::this_thread::sleep_for(std::chrono::duration<double>(arg_f64(args, "seconds")));
    ResultLine().add("idle_s", arg_f64(args, "seconds")).print();
    return 0;
}

/// Blocks in acquire() on a ring that gets no frames, until WriterGone; reports the CPU that cost.
int role_idle_reader(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    zb::ReaderOptions ro;
    ro.spin = arg_ns(args, "spin_ns");
    auto reader = must(attach_retry(arg(args, "ring"), ro, 10s), "attach ring " + arg(args, "ring"));
    const auto t_start = now_ns();
    const rusage ru_start = self_usage();
    std::uint64_t frames = 0;
    std::uint64_t timeouts = 0;
    for (;;) {
        auto frame = reader.acquire(60s);
        if (frame) {
            ++frames;
            continue;
        }
        if (frame.error().code == zb::Errc::WriterGone) {
            break;
        }
        if (frame.error().code == zb::Errc::Timeout) {
            ++timeouts;
            continue;
        }
        fail(frame.error(), "acquire");
    }
    const auto t_end = now_ns();
    const rusage ru_end = self_usage();
    ResultLine()
        .add("seconds", static_cast<double>(t_end - t_start) * 1e-9)
        .add("cpu_s", cpu_seconds(ru_end) - cpu_seconds(ru_start))
        .add("user_s", seconds_of(ru_end.ru_utime) - seconds_of(ru_start.ru_utime))
        .add("voluntary_switches", ru_end.ru_nvcsw - ru_start.ru_nvcsw)
        .add("involuntary_switches", ru_end.ru_nivcsw - ru_start.ru_nivcsw)
        .add("frames", frames)
        .add("timeouts", timeouts)
        .print();
    return 0;
}

// ---------------------------------------------------------------- host CPU grant

/// Spins reading the clock for `seconds`; any jump between two reads longer than 20 us is time this CPU was
/// not running us. In a VM without steal-time reporting this is the only view of hypervisor throttling.
int role_capacity(const Args& args)
{
    pin_to_cpu(arg_int(args, "cpu"));
    constexpr std::int64_t kStallNs = 20'000;
    const auto start = now_ns();
    const auto end = start + static_cast<std::int64_t>(arg_f64(args, "seconds") * 1e9);
    std::int64_t last = start;
    std::int64_t lost = 0;
    std::int64_t longest = 0;
    std::uint64_t stalls = 0;
    for (;;) {
        const auto t = now_ns();
        const auto gap = t - last;
        if (gap > kStallNs) {
            lost += gap;
            longest = std::max(longest, gap);
            ++stalls;
        }
        last = t;
        if (t >= end) {
            break;
        }
    }
    const auto wall = static_cast<double>(last - start);
    ResultLine()
        .add("available", wall > 0 ? 1.0 - static_cast<double>(lost) / wall : 0.0)
        .add("stalls", stalls)
        .add("longest_stall_ms", static_cast<double>(longest) * 1e-6)
        .print();
    return 0;
}

} // namespace

int run_role(std::string_view role, const Args& args)
{
    static const std::map<std::string_view, int (*)(const Args&)> kRoles = {
        {"lat-ping", role_lat_ping},       {"lat-pong", role_lat_pong},         {"bare-ping", role_bare_ping},
        {"bare-pong", role_bare_pong},     {"tput-writer", role_tput_writer},   {"tput-reader", role_tput_reader},
        {"memcpy", role_memcpy},           {"idle-writer", role_idle_writer},   {"idle-reader", role_idle_reader},
        {"capacity", role_capacity},       {"held-writer", role_held_writer},   {"held-reader", role_held_reader},
    };
    const auto it = kRoles.find(role);
    if (it == kRoles.end()) {
        std::cerr << "zb-bench: unknown role " << role << "\n";
        return 2;
    }
    try {
        return it->second(args);
    } catch (const std::exception& e) {
        // Unwinding has already destroyed Writers and Readers, so no ring is left behind by a failure.
        std::cerr << "zb-bench " << role << ": " << e.what() << "\n";
        return 1;
    }
}

} // namespace zbbench
