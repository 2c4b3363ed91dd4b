// SPDX-License-Identifier: MIT
// libFuzzer harness: the stream-format JSON parser (docs/stream-format.md), fed by any writer of a ring.
// Properties: no crash, and what it accepts survives a round trip: to_json() of the result parses again to a
// document that serialises the same way.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <zerobuffer/stream_format.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto format = zerobuffer::parse_stream_format(text);
    if (!format) {
        if (format.error().message.empty()) {
            std::fprintf(stderr, "zb-fuzz: a refused stream format has no message\n");
            std::abort();
        }
        return 0;
    }
    const std::string first = zerobuffer::to_json(*format);
    auto again = zerobuffer::parse_stream_format(first);
    if (!again) {
        std::fprintf(stderr, "zb-fuzz: to_json() output does not parse: %s\n%s\n", again.error().message.c_str(),
                     first.c_str());
        std::abort();
    }
    if (zerobuffer::to_json(*again) != first) {
        std::fprintf(stderr, "zb-fuzz: the stream format changed in a round trip:\n%s\n", first.c_str());
        std::abort();
    }
    return 0;
}
