// SPDX-License-Identifier: MIT
// libFuzzer harness: a live writer and readers on a real ring whose bytes a hostile process rewrites between and
// during acquires (control block, reader slots and their hold records, descriptors, metadata slots, frame area).
//
// The input is a program: each step is one operation byte and its arguments (see step()). The properties:
// nothing crashes, hangs or reads outside the mapping (ASan and the MMU for the crash, require_inside() for frames
// that would point outside the frame area, libFuzzer's -timeout for hangs), and what readers hand out is bounded by
// the ring's real geometry (stream metadata never larger than its slot, frames never larger than the frame area).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <zerobuffer/inspect.h>
#include <zerobuffer/reader.h>
#include <zerobuffer/writer.h>

#include "fuzz_support.h"

namespace {

using namespace std::chrono_literals;
using zerobuffer::Frame;
using zerobuffer::Reader;
using zerobuffer::ReaderOptions;
using zerobuffer::Writer;
using zerobuffer::WriterOptions;

constexpr std::size_t kSteps = 96;  // bounds the work of one input (libFuzzer -timeout catches hangs)
constexpr std::size_t kHeld = 6;    // frames the harness keeps held at most per reader

[[noreturn]] void fail(const char* what)
{
    std::fprintf(stderr, "zb-fuzz: %s\n", what);
    std::abort();
}

std::uint64_t load_u64(const std::byte* base, std::size_t offset)
{
    std::uint64_t value;
    std::memcpy(&value, base + offset, sizeof value);
    return value;
}

/// The harness's own read-write mapping of the ring file: the hostile process.
struct HostileMap {
    int fd = -1;
    std::byte* base = nullptr;
    std::size_t size = 0;
    // The real geometry, read once before any change (the control block offsets of docs/protocol.md, 2.1).
    std::uint64_t readers_offset = 0, descriptors_offset = 0, metadata_offset = 0, payload_offset = 0;
    std::uint64_t payload_capacity = 0, metadata_capacity = 0;

    explicit HostileMap(const std::string& path)
    {
        fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        struct stat st {};
        if (fd < 0 || ::fstat(fd, &st) != 0) {
            fail("cannot open the ring file the writer just created");
        }
        size = static_cast<std::size_t>(st.st_size);
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            fail("cannot map the ring file");
        }
        base = static_cast<std::byte*>(p);
        readers_offset = load_u64(base, 40);
        descriptors_offset = load_u64(base, 48);
        metadata_offset = load_u64(base, 56);
        metadata_capacity = load_u64(base, 64);
        payload_offset = load_u64(base, 80);
        payload_capacity = load_u64(base, 88);
    }
    HostileMap(const HostileMap&) = delete;
    HostileMap& operator=(const HostileMap&) = delete;
    ~HostileMap()
    {
        ::munmap(base, size);
        ::close(fd);
    }

    /// [begin, end) of region r: 0 control block, 1 reader slots, 2 descriptors, 3 metadata, 4 frame area, 5 all.
    [[nodiscard]] std::pair<std::size_t, std::size_t> region(unsigned r) const
    {
        switch (r % 6) {
        case 0: return {0, readers_offset};
        case 1: return {readers_offset, descriptors_offset};
        case 2: return {descriptors_offset, metadata_offset};
        case 3: return {metadata_offset, payload_offset};
        case 4: return {payload_offset, size};
        default: return {0, size};
        }
    }
};

/// Values that break bounds checks more often than random bytes do.
std::uint64_t interesting(std::uint8_t pick, const HostileMap& map)
{
    const std::array<std::uint64_t, 16> values = {
        0, 1, 2, 0x7f, 0xff, 0xffff, 0xffffffffULL, 0x80000000ULL, ~0ULL, ~0ULL >> 1, 1ULL << 63,
        map.size, map.payload_capacity, map.payload_capacity - 64, map.metadata_capacity + 1, 4096,
    };
    return values[pick % values.size()];
}

/// Applies one change of the segment described by the input.
void patch(zbfuzz::Input& in, HostileMap& map)
{
    const auto [begin, end] = map.region(in.byte());
    if (end <= begin) {
        return;
    }
    const std::uint8_t mode = in.byte();
    std::size_t at = begin + in.u16() % (end - begin);
    if (mode % 2 == 0) {
        const auto bytes = in.bytes(1 + mode / 2 % 8);
        const std::size_t n = std::min(bytes.size(), map.size - at);
        std::memcpy(map.base + at, bytes.data(), n);
    } else {
        at &= ~std::size_t{7};
        if (at + 8 <= map.size) {
            const std::uint64_t value = interesting(in.byte(), map);
            std::memcpy(map.base + at, &value, sizeof value);
        }
    }
}

/// A thread that keeps rewriting one region while the main thread acquires and releases: changes *during*
/// acquires. Pseudo-random from a seed of the input, so a finding mostly reproduces.
class Racer {
public:
    Racer(HostileMap& map, unsigned region, std::uint32_t seed) : map_(map), region_(region), state_(seed | 1)
    {
        thread_ = std::thread([this] { run(); });
    }
    Racer(const Racer&) = delete;
    Racer& operator=(const Racer&) = delete;
    ~Racer()
    {
        stop_.store(true, std::memory_order_relaxed);
        thread_.join();
    }

private:
    void run()
    {
        const auto [begin, end] = map_.region(region_);
        if (end <= begin) {
            return;
        }
        for (int i = 0; i < 20000 && !stop_.load(std::memory_order_relaxed); ++i) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 17;
            state_ ^= state_ << 5;
            const std::size_t at = (begin + state_ % (end - begin)) & ~std::size_t{7};
            if (at + 8 <= map_.size) {
                const std::uint64_t value = (state_ & 0x100) != 0 ? interesting(static_cast<std::uint8_t>(state_ >> 9), map_)
                                                                   : state_ * 0x9e3779b97f4a7c15ULL;
                // A relaxed atomic store: the hostile process's writes race with the readers by design.
                std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(map_.base + at))
                    .store(value, std::memory_order_relaxed);
            }
        }
    }

    HostileMap& map_;
    unsigned region_;
    std::uint32_t state_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

struct Harness {
    std::string name;
    std::string path;
    Writer writer;
    HostileMap map;
    std::array<std::optional<Reader>, 2> readers;
    std::array<std::vector<Frame>, 2> held;
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> maps;

    Harness(std::string ring, Writer w)
        : name(std::move(ring)), path("/dev/shm/zb-" + name), writer(std::move(w)), map(path)
    {
    }

    void remap() { maps = zbfuzz::mappings_of(path); }

    void attach(unsigned which, std::uint8_t how)
    {
        held[which].clear();
        readers[which].reset();
        ReaderOptions options;
        options.policy = (how & 1) != 0 ? zerobuffer::ReaderPolicy::Latest : zerobuffer::ReaderPolicy::Lossless;
        options.start_at = (how & 2) != 0 ? zerobuffer::StartAt::NewestFrame : zerobuffer::StartAt::NextFrame;
        options.max_lag_frames = (how >> 2) & 3;
        options.verify = (how & 16) == 0;
        options.wait_mode = zerobuffer::WaitMode::Sleep;
        options.liveness_interval = 1ms;
        auto reader = Reader::attach(name, options);
        if (reader) {
            readers[which].emplace(std::move(*reader));
            remap();
        }
    }

    void check(const Frame& frame) const
    {
        if (frame.payload().size() > map.payload_capacity || frame.metadata().size() > map.payload_capacity) {
            fail("a frame larger than the frame area was handed out");
        }
        zbfuzz::require_inside(frame.payload().data(), frame.payload().size(), maps, map.payload_offset, map.size,
                               "payload");
        zbfuzz::require_inside(frame.metadata().data(), frame.metadata().size(), maps, map.payload_offset, map.size,
                               "frame metadata");
        (void)zbfuzz::touch(frame.payload());
        (void)zbfuzz::touch(frame.metadata());
    }

    void acquire(unsigned which)
    {
        auto& reader = readers[which];
        if (!reader) {
            return;
        }
        auto frame = reader->acquire(0ns);
        if (reader->stream_metadata().size() > map.metadata_capacity) {
            fail("stream metadata larger than its slot was handed out");
        }
        if (!frame) {
            return;
        }
        check(*frame);
        if (held[which].size() < kHeld && held[which].size() < reader->max_held()) {
            held[which].push_back(std::move(*frame));
        }
    }

    void release(unsigned which, std::uint8_t index)
    {
        auto& frames = held[which];
        if (!frames.empty()) {
            frames.erase(frames.begin() + index % frames.size());
        }
    }

    void write(zbfuzz::Input& in)
    {
        const std::size_t payload = in.u16() % (map.payload_capacity + 256);
        const std::size_t metadata = in.byte();
        auto reservation = writer.reserve(payload, metadata, 1ms);
        if (!reservation) {
            return;
        }
        std::memset(reservation->payload().data(), 0x5a, reservation->payload().size());
        std::memset(reservation->metadata().data(), 0xa5, reservation->metadata().size());
        zerobuffer::FrameInfo info;
        info.flags = in.byte();
        info.pts = static_cast<std::int64_t>(in.u32());
        if ((info.flags & 0x80) != 0) {
            reservation->abort();
            return;
        }
        (void)writer.commit(*reservation, info);
    }

    void step(zbfuzz::Input& in)
    {
        switch (in.byte() % 12) {
        case 0:
        case 1: patch(in, map); break;
        case 2:
        case 3: write(in); break;
        case 4:
        case 5: acquire(in.byte() & 1); break;
        case 6: {
            const std::uint8_t which = in.byte();
            release(which & 1, in.byte());
            break;
        }
        case 7: {
            const std::uint8_t which = in.byte();
            attach(which & 1, in.byte());
            break;
        }
        case 8: {
            std::string json = R"({"schema":"zerobuffer.stream-format/1","media_type":"video/x-raw","width":)";
            json += std::to_string(in.u16()) + "}";
            (void)writer.set_stream_metadata(json);
            break;
        }
        case 9: {
            const unsigned region = in.byte();
            const std::uint32_t seed = in.u32();
            const unsigned rounds = 1 + in.byte() % 16;
            Racer racer(map, region, seed);
            for (unsigned i = 0; i < rounds; ++i) {
                write(in);
                acquire(i & 1);
                acquire((i + 1) & 1);
                release(i & 1, static_cast<std::uint8_t>(i));
            }
            break;
        }
        case 10: {
            auto snapshot = zerobuffer::inspect_ring(name);
            if (snapshot && snapshot->readers.size() > 64) {
                fail("inspect_ring listed more readers than a ring can have");
            }
            break;
        }
        default: (void)writer.reader_count(); break;
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    zbfuzz::Input in(data, size);
    WriterOptions options;
    options.ring_size = 16384;
    options.max_readers = 2;
    options.metadata_capacity = 256;
    options.max_frames = 16;
    options.max_outstanding = 2;
    options.max_holds_per_reader = 8;
    options.reader_timeout = 1ms;
    options.integrity = (in.byte() & 1) != 0 ? zerobuffer::Integrity::Checksum : zerobuffer::Integrity::None;
    const std::string name = zbfuzz::unique_ring_name();
    auto writer = Writer::create(name, options);
    if (!writer) {
        std::fprintf(stderr, "zb-fuzz: cannot create ring %s: %s\n", name.c_str(), writer.error().message.c_str());
        std::abort(); // the environment, not a finding: /dev/shm must have room for a 32 KiB ring
    }
    Harness harness(name, std::move(*writer));
    harness.attach(0, in.byte());
    for (std::size_t i = 0; i < kSteps && !in.empty(); ++i) {
        harness.step(in);
    }
    return 0;
}
