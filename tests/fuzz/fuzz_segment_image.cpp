// SPDX-License-Identifier: MIT
// libFuzzer harness: a whole hostile file in /dev/shm under a ring name, read by zbctl's views (inspect_ring,
// list_rings, what `zbctl inspect` and `zbctl list` print) and by a reader attaching and acquiring.
//
// Input: one flag byte, then the file's bytes. Flag bit 0: the harness holds the byte-0 lock, so the "writer"
// is alive; bit 1: latest reader; bit 2: verify off; bit 3: start at the newest frame. Properties: nothing
// crashes, hangs or reads outside the file's mapping; the snapshot stays within the protocol's limits.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <zerobuffer/inspect.h>
#include <zerobuffer/reader.h>

#include "fuzz_support.h"

namespace {

using namespace std::chrono_literals;

[[noreturn]] void fail(const char* what)
{
    std::fprintf(stderr, "zb-fuzz: %s\n", what);
    std::abort();
}

/// The hostile file under its name; removed when the input is done.
class HostileFile {
public:
    HostileFile(const std::string& path, const std::uint8_t* data, std::size_t size) : path_(path)
    {
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd_ < 0) {
            fail("cannot create the hostile ring file in /dev/shm");
        }
        std::size_t done = 0;
        while (done < size) {
            const auto n = ::write(fd_, data + done, size - done);
            if (n <= 0) {
                fail("cannot write the hostile ring file (is /dev/shm full?)");
            }
            done += static_cast<std::size_t>(n);
        }
    }
    HostileFile(const HostileFile&) = delete;
    HostileFile& operator=(const HostileFile&) = delete;
    ~HostileFile()
    {
        ::unlink(path_.c_str());
        ::close(fd_);
    }

    /// Takes the writer's liveness lock (byte 0, an OFD lock: it conflicts with the reader's test even in this
    /// process, since that goes through another open file description).
    void lock_writer_byte()
    {
        struct flock lock {};
        lock.l_type = F_WRLCK;
        lock.l_whence = SEEK_SET;
        lock.l_start = 0;
        lock.l_len = 1;
        (void)::fcntl(fd_, F_OFD_SETLK, &lock);
    }

private:
    std::string path_;
    int fd_ = -1;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1) {
        return 0;
    }
    const std::uint8_t flags = data[0];
    const std::string name = zbfuzz::unique_ring_name();
    const std::string path = "/dev/shm/zb-" + name;
    HostileFile file(path, data + 1, size - 1);
    if ((flags & 1) != 0) {
        file.lock_writer_byte();
    }

    if (auto snapshot = zerobuffer::inspect_ring(name)) {
        if (snapshot->readers.size() > 64 || snapshot->stream_metadata.size() > (std::size_t{16} << 20)) {
            fail("inspect_ring returned a snapshot beyond the protocol's limits");
        }
    }
    if (auto names = zerobuffer::list_rings(); !names) {
        fail("list_rings failed on a readable /dev/shm");
    }

    zerobuffer::ReaderOptions options;
    options.policy = (flags & 2) != 0 ? zerobuffer::ReaderPolicy::Latest : zerobuffer::ReaderPolicy::Lossless;
    options.verify = (flags & 4) == 0;
    options.start_at = (flags & 8) != 0 ? zerobuffer::StartAt::NewestFrame : zerobuffer::StartAt::NextFrame;
    options.wait_mode = zerobuffer::WaitMode::Sleep;
    options.liveness_interval = 1ms;
    auto reader = zerobuffer::Reader::attach(name, options);
    if (!reader) {
        return 0;
    }
    const auto maps = zbfuzz::mappings_of(path);
    std::vector<zerobuffer::Frame> held;
    for (int i = 0; i < 8; ++i) {
        auto frame = reader->acquire(0ns);
        if (reader->stream_metadata().size() > (std::size_t{16} << 20)) {
            fail("stream metadata beyond 16 MiB was handed out");
        }
        if (!frame) {
            continue;
        }
        zbfuzz::require_inside(frame->payload().data(), frame->payload().size(), maps, 0, size - 1, "payload");
        zbfuzz::require_inside(frame->metadata().data(), frame->metadata().size(), maps, 0, size - 1,
                               "frame metadata");
        (void)zbfuzz::touch(frame->payload());
        (void)zbfuzz::touch(frame->metadata());
        if ((i & 1) == 0) {
            held.push_back(std::move(*frame));
        }
    }
    return 0;
}
