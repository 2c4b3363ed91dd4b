// SPDX-License-Identifier: MIT
// An application built only from an installed libzerobuffer (pkg-config zerobuffer), by
// scripts/check-install.sh: one frame goes through a ring from a Writer to a Reader in this process.
#include <zerobuffer/zerobuffer.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace {

int fail(const char* step, const zerobuffer::Error& error)
{
    std::fprintf(stderr, "install-consumer: %s: %s: %s\n", step, std::string(zerobuffer::to_string(error.code)).c_str(),
                 error.message.c_str());
    return 1;
}

} // namespace

int main()
{
    // A name of its own, so that runs beside other tests never meet; the Writer removes it on exit.
    const std::string name = "install-check-" + std::to_string(getpid());
    zerobuffer::WriterOptions options;
    options.ring_size = std::size_t{1} << 20;
    auto writer = zerobuffer::Writer::create(name, options);
    if (!writer) {
        return fail("Writer::create", writer.error());
    }
    auto reader = zerobuffer::Reader::attach(name);
    if (!reader) {
        return fail("Reader::attach", reader.error());
    }
    std::array<std::byte, 1000> payload{};
    payload[0] = std::byte{42};
    if (auto written = writer->write(payload); !written) {
        return fail("Writer::write", written.error());
    }
    auto frame = reader->acquire(std::chrono::seconds(5));
    if (!frame) {
        return fail("Reader::acquire", frame.error());
    }
    if (frame->payload().size() != payload.size() || frame->payload()[0] != std::byte{42}) {
        std::fprintf(stderr, "install-consumer: frame came back wrong (%zu bytes)\n", frame->payload().size());
        return 1;
    }
    std::printf("install-consumer: libzerobuffer %s: one frame through ring %s\n", zerobuffer::kLibraryVersion,
                name.c_str());
    return 0;
}
