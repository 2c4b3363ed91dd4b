// SPDX-License-Identifier: MIT
// Test helper: a writer whose stream format or frames do not match, to check that zb-record bounds-checks them.
//
//   zb-hostile-writer RING MODE      MODE: planes-out-of-bounds | short-frame | no-metadata
// Waits for one reader, writes 10 frames of 320x240 I420 (grey) and an end-of-stream frame.
//   planes-out-of-bounds: the third plane's offset points past the frame payload.
//   short-frame:          correct format, but frame 5 has only half the bytes.
//   no-metadata:          never publishes a stream format.
#include <chrono>
#include <cstdio>
#include <string_view>
#include <vector>

#include <zerobuffer/zerobuffer.h>

int main(int argc, char** argv)
{
    constexpr const char* kUsage =
        "usage: zb-hostile-writer RING planes-out-of-bounds|short-frame|no-metadata\n"
        "  Waits for one reader of ring RING, then writes 10 frames of 320x240 I420 that break the stream format\n"
        "  as MODE says, and end-of-stream. Exit status: 0 written, 1 a ring call failed, 2 usage error.\n";
    const std::string_view ring = argc > 1 ? argv[1] : "";
    if (ring == "-h" || ring == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    const std::string_view mode = argc == 3 ? argv[2] : "";
    if (argc != 3 || ring.starts_with("-") ||
        (mode != "planes-out-of-bounds" && mode != "short-frame" && mode != "no-metadata")) {
        std::fprintf(stderr, "zb-hostile-writer: expected RING MODE\n%s", kUsage);
        return 2;
    }
    constexpr std::uint32_t kWidth = 320;
    constexpr std::uint32_t kHeight = 240;
    constexpr std::size_t kFrameSize = std::size_t{kWidth} * kHeight * 3 / 2;
    auto writer = zerobuffer::Writer::create(argv[1]);
    if (!writer) {
        std::fprintf(stderr, "zb-hostile-writer: %s\n", writer.error().message.c_str());
        return 1;
    }
    zerobuffer::StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.width = kWidth;
    format.height = kHeight;
    format.pixel_format = "I420";
    format.framerate = zerobuffer::Fraction{30, 1};
    format.frame_size = kFrameSize;
    format.planes = {{0, kWidth}, {kWidth * kHeight, kWidth / 2}, {kWidth * kHeight * 5 / 4, kWidth / 2}};
    if (mode == "planes-out-of-bounds") {
        format.planes[2].offset = kFrameSize; // Starts where the payload ends.
    }
    if (mode != "no-metadata") {
        if (auto published = writer->set_stream_metadata(zerobuffer::to_json(format)); !published) {
            std::fprintf(stderr, "zb-hostile-writer: %s\n", published.error().message.c_str());
            return 1;
        }
    }
    if (!writer->wait_for_readers(1, std::chrono::seconds(30))) {
        std::fprintf(stderr, "zb-hostile-writer: no reader came\n");
        return 1;
    }
    const std::vector<std::byte> grey(kFrameSize, std::byte{128});
    for (int i = 0; i < 10; ++i) {
        zerobuffer::FrameInfo info;
        info.pts = i * 33'333'333LL;
        info.duration = 33'333'333;
        const std::size_t size = (mode == "short-frame" && i == 5) ? kFrameSize / 2 : kFrameSize;
        if (auto written = writer->write(std::span(grey).first(size), info); !written) {
            std::fprintf(stderr, "zb-hostile-writer: %s\n", written.error().message.c_str());
            return 1;
        }
    }
    zerobuffer::FrameInfo end;
    end.flags = zerobuffer::kFrameEndOfStream;
    return writer->write({}, end) ? 0 : 1;
}
