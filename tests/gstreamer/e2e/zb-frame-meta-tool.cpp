// SPDX-License-Identifier: MIT
// zb-frame-meta-tool: the per-frame metadata of the GStreamer elements seen from a program that uses only the core
// (and gst-plugins/frame_meta.h), for the meta tests across processes.
//
//   zb-frame-meta-tool write RING FRAMES raw|format   writes FRAMES 64x48 GRAY8 frames, then end-of-stream; each
//       frame's metadata is "app-frame-N" (raw: an application's own bytes, not the format) or the format with a
//       region of interest "car" and the user bytes "frame=N" (format)
//   zb-frame-meta-tool read RING                        reads frames until end-of-stream and prints, per frame,
//       "frame N" and the decoded metadata as zb-gst-probe prints metas (rois=[...] user=HEX, segment=...)
// Exit status: 0 done, 1 ring or metadata error (message on stderr), 2 usage.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include <zerobuffer/zerobuffer.h>

#include "frame_meta.h"

namespace fm = zerobuffer::gst::frame_meta;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t kWidth = 64;
constexpr std::uint32_t kHeight = 48;

std::string hex(std::span<const std::byte> bytes)
{
    std::string text;
    char digits[3];
    for (const std::byte b : bytes) {
        std::snprintf(digits, sizeof digits, "%02x", static_cast<unsigned>(b));
        text += digits;
    }
    return text;
}

int write_frames(const std::string& ring, int frames, bool raw)
{
    zerobuffer::WriterOptions options;
    options.ring_size = std::size_t{1} << 20;
    auto writer = zerobuffer::Writer::create(ring, options);
    if (!writer) {
        std::fprintf(stderr, "zb-frame-meta-tool: error: %s\n", writer.error().message.c_str());
        return 1;
    }
    zerobuffer::StreamFormat format;
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "GRAY8";
    format.width = kWidth;
    format.height = kHeight;
    format.framerate = zerobuffer::Fraction{25, 1};
    format.planes = {{0, kWidth}};
    format.frame_size = kWidth * kHeight;
    if (auto set = writer->set_stream_metadata(zerobuffer::to_json(format)); !set) {
        std::fprintf(stderr, "zb-frame-meta-tool: error: %s\n", set.error().message.c_str());
        return 1;
    }
    if (auto waited = writer->wait_for_readers(1, 30s); !waited) {
        std::fprintf(stderr, "zb-frame-meta-tool: error: no reader within 30 s: %s\n", waited.error().message.c_str());
        return 1;
    }
    std::vector<std::byte> payload(std::size_t{kWidth} * kHeight);
    std::vector<std::byte> metadata;
    for (int n = 0; n < frames; ++n) {
        std::memset(payload.data(), n * 7, payload.size());
        if (raw) {
            const std::string bytes = "app-frame-" + std::to_string(n);
            metadata.assign(reinterpret_cast<const std::byte*>(bytes.data()),
                            reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size());
        } else {
            fm::FrameMeta meta;
            meta.regions.push_back({"car",
                                    n,
                                    -1,
                                    static_cast<std::uint32_t>(n),
                                    2,
                                    30,
                                    20,
                                    {"detection, label=(string)car, confidence=(double)0.25"}});
            const std::string bytes = "frame=" + std::to_string(n);
            meta.user_data.emplace(reinterpret_cast<const std::byte*>(bytes.data()),
                                   reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size());
            fm::encode(meta, metadata);
        }
        zerobuffer::FrameInfo info;
        info.pts = n * 40'000'000LL;
        info.duration = 40'000'000;
        info.flags = zerobuffer::kFrameKeyframe;
        if (auto written = writer->write(payload, info, metadata); !written) {
            std::fprintf(stderr, "zb-frame-meta-tool: error: %s\n", written.error().message.c_str());
            return 1;
        }
    }
    zerobuffer::FrameInfo end;
    end.flags = zerobuffer::kFrameEndOfStream;
    if (auto written = writer->write({}, end); !written) {
        std::fprintf(stderr, "zb-frame-meta-tool: error: %s\n", written.error().message.c_str());
        return 1;
    }
    return 0;
}

std::string describe(const fm::FrameMeta& meta)
{
    std::string text;
    if (!meta.regions.empty()) {
        text += " rois=[";
        for (std::size_t i = 0; i < meta.regions.size(); ++i) {
            const fm::RegionOfInterest& r = meta.regions[i];
            text += (i == 0 ? "" : ";") + r.type + "#" + std::to_string(r.id) + "<" + std::to_string(r.parent_id) +
                    "@" + std::to_string(r.x) + "," + std::to_string(r.y) + "," + std::to_string(r.w) + "x" +
                    std::to_string(r.h);
            for (const std::string& param : r.params)
                text += "{" + param + "}";
        }
        text += "]";
    }
    if (meta.user_data)
        text += " user=" + hex(*meta.user_data);
    if (meta.segment)
        text += " segment=base:" + std::to_string(meta.segment->base) + ",start:" + std::to_string(meta.segment->start);
    return text;
}

int read_frames(const std::string& ring)
{
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    zerobuffer::Result<zerobuffer::Reader> reader = zerobuffer::Reader::attach(ring);
    while (!reader && reader.error().code == zerobuffer::Errc::NotFound &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        reader = zerobuffer::Reader::attach(ring);
    }
    if (!reader) {
        std::fprintf(stderr, "zb-frame-meta-tool: error: %s\n", reader.error().message.c_str());
        return 1;
    }
    for (std::uint64_t n = 0;; ++n) {
        auto frame = reader->acquire(30s);
        if (!frame) {
            std::fprintf(stderr, "zb-frame-meta-tool: error: %s\n", frame.error().message.c_str());
            return 1;
        }
        if ((frame->info().flags & zerobuffer::kFrameEndOfStream) != 0)
            return 0;
        const std::vector<std::byte> bytes(frame->metadata().begin(), frame->metadata().end());
        auto meta = fm::decode(bytes);
        if (!meta) {
            std::fprintf(stderr, "zb-frame-meta-tool: error: frame %llu: %s\n", static_cast<unsigned long long>(n),
                         meta.error().message.c_str());
            return 1;
        }
        std::printf("frame %llu%s\n", static_cast<unsigned long long>(n), describe(*meta).c_str());
        std::fflush(stdout);
    }
}

} // namespace

int main(int argc, char** argv)
{
    constexpr const char* kUsage =
        "usage: zb-frame-meta-tool write RING FRAMES raw|format | read RING\n"
        "  write: FRAMES frames carrying per-frame metadata (raw bytes, or in the elements' format) into RING\n"
        "  read: prints the per-frame metadata of each frame of RING, decoded (tests/gstreamer/e2e)\n";
    const std::string_view mode = argc > 1 ? argv[1] : "";
    if (mode == "-h" || mode == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (mode == "write" && argc == 5 && (std::string_view(argv[4]) == "raw" || std::string_view(argv[4]) == "format"))
        return write_frames(argv[2], std::atoi(argv[3]), std::string_view(argv[4]) == "raw");
    if (mode == "read" && argc == 3)
        return read_frames(argv[2]);
    std::fputs(kUsage, stderr);
    return 2;
}
