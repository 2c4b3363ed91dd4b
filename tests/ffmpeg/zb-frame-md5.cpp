// SPDX-License-Identifier: MIT
// Test helper: reads every frame of a ring in its own process and prints one line per frame with the MD5 of
// its pixels (raw video: the planes without row padding, as 'ffmpeg -f framemd5' hashes them) or payload.
//
//   zb-frame-md5 RING [--timeout SEC]
// Output: "format JSON" once per stream-format generation, then "frame SEQ PTS_NS FLAGS MD5" per frame, then
// "eos" at end-of-stream. Exit 0 after EOS, 1 when the writer died without EOS, 3 on a ring or format error.
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <zerobuffer/zerobuffer.h>

#include "cli.h"
#include "formats.h"

extern "C" {
#include <libavutil/md5.h>
}

namespace {

std::string md5_of(AVMD5* md5, const zerobuffer::Frame& frame, const zbffmpeg::RawLayout* layout)
{
    av_md5_init(md5);
    const auto* payload = reinterpret_cast<const std::uint8_t*>(frame.payload().data());
    if (layout == nullptr) {
        av_md5_update(md5, payload, frame.payload().size());
    } else {
        for (std::size_t plane = 0; plane < layout->planes.size(); ++plane) {
            for (std::uint32_t row = 0; row < layout->plane_heights[plane]; ++row) {
                av_md5_update(md5,
                              payload + layout->planes[plane].offset + std::size_t{row} * layout->planes[plane].stride,
                              layout->row_bytes[plane]);
            }
        }
    }
    std::array<std::uint8_t, 16> digest{};
    av_md5_final(md5, digest.data());
    std::string text;
    for (const std::uint8_t byte : digest) {
        std::array<char, 3> hex{};
        std::snprintf(hex.data(), hex.size(), "%02x", byte);
        text += hex.data();
    }
    return text;
}

} // namespace

int main(int argc, char** argv)
{
    constexpr const char* kUsage =
        "usage: zb-frame-md5 RING [--timeout SEC]\n"
        "  Prints \"format JSON\" per stream-format generation, \"frame SEQ PTS_NS FLAGS MD5\" per frame of ring RING\n"
        "  and \"eos\" at its end; waits up to SEC seconds (default 20) for the ring.\n"
        "  Exit status: 0 after end-of-stream, 1 the writer died without it, 2 usage error, 3 ring or format error.\n";
    const std::string_view ring = argc > 1 ? argv[1] : "";
    if (ring == "-h" || ring == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    double timeout = 20.0;
    if ((argc != 2 && argc != 4) || ring.starts_with("-") ||
        (argc == 4 && (std::string_view(argv[2]) != "--timeout" || !zbffmpeg::parse_seconds(argv[3], timeout)))) {
        std::fprintf(stderr, "zb-frame-md5: expected RING [--timeout SEC]\n%s", kUsage);
        return 2;
    }
    const std::int64_t deadline = zbffmpeg::monotonic_ns() + static_cast<std::int64_t>(timeout * 1e9);
    auto reader = zerobuffer::Reader::attach(argv[1]);
    while (!reader && reader.error().code == zerobuffer::Errc::NotFound && zbffmpeg::monotonic_ns() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        reader = zerobuffer::Reader::attach(argv[1]);
    }
    if (!reader) {
        std::fprintf(stderr, "zb-frame-md5: cannot attach to ring '%s': %s\n", argv[1], reader.error().message.c_str());
        return 3;
    }
    std::unique_ptr<AVMD5, decltype(&av_free)> md5(av_md5_alloc(), &av_free);
    std::optional<zbffmpeg::RawLayout> layout;
    bool first = true;
    while (true) {
        auto frame = reader->acquire(std::chrono::seconds(1));
        if (!frame) {
            if (frame.error().code == zerobuffer::Errc::Timeout) {
                continue;
            }
            if (frame.error().code == zerobuffer::Errc::WriterGone) {
                std::printf("writer-gone\n");
                return 1;
            }
            std::fprintf(stderr, "zb-frame-md5: %s\n", frame.error().message.c_str());
            return 3;
        }
        if ((frame->info().flags & zerobuffer::kFrameEndOfStream) != 0) {
            std::printf("eos\n");
            return 0;
        }
        if (first || frame->format_changed()) {
            first = false;
            std::printf("format %s\n", reader->stream_metadata().c_str());
            auto format = zerobuffer::parse_stream_format(reader->stream_metadata());
            if (!format) {
                std::fprintf(stderr, "zb-frame-md5: bad stream format: %s\n", format.error().message.c_str());
                return 3;
            }
            layout.reset();
            if (format->media_type == "video/x-raw") {
                auto checked = zbffmpeg::checked_layout(*format, zbffmpeg::pixel_format_from_gst(format->pixel_format),
                                                        frame->payload().size());
                if (!checked) {
                    std::fprintf(stderr, "zb-frame-md5: bad layout: %s\n", checked.error().message.c_str());
                    return 3;
                }
                layout = std::move(*checked);
            }
        }
        if (layout && frame->payload().size() < layout->frame_size) {
            std::fprintf(stderr, "zb-frame-md5: frame %llu is smaller than its layout\n",
                         static_cast<unsigned long long>(frame->sequence()));
            return 3;
        }
        std::printf("frame %llu %lld %u %s\n", static_cast<unsigned long long>(frame->sequence()),
                    static_cast<long long>(frame->info().pts), frame->info().flags,
                    md5_of(md5.get(), *frame, layout ? &*layout : nullptr).c_str());
    }
}
