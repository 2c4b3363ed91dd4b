// SPDX-License-Identifier: MIT
// Writes the fuzzers' seed corpora from real rings and messages: zb-fuzz-make-seeds DIR (DIR/NAME/ per harness).
// Run once when a format changes and commit the output (tests/fuzz/corpus/); docs/reliability.md says how.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <zerobuffer/reader.h>
#include <zerobuffer/stream_format.h>
#include <zerobuffer/writer.h>

#ifdef ZB_FUZZ_WITH_RELAY
#include "wire.h"
#endif

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

void save(const fs::path& dir, const std::string& name, const std::vector<std::uint8_t>& bytes)
{
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void save(const fs::path& dir, const std::string& name, const std::string& text)
{
    save(dir, name, std::vector<std::uint8_t>(text.begin(), text.end()));
}

std::vector<std::uint8_t> file_bytes(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

zerobuffer::StreamFormat raw_video()
{
    zerobuffer::StreamFormat f;
    f.media_type = "video/x-raw";
    f.codec = "raw";
    f.width = 64;
    f.height = 32;
    f.pixel_format = "I420";
    f.planes = {{0, 64}, {2048, 32}, {2560, 32}};
    f.frame_size = 3072;
    f.framerate = zerobuffer::Fraction{30, 1};
    return f;
}

/// Segment images: a flag byte (see fuzz_segment_image.cpp), then a real ring file in several states.
int segment_images(const fs::path& dir)
{
    for (int variant = 0; variant < 4; ++variant) {
        zerobuffer::WriterOptions options;
        options.ring_size = 4096;
        options.max_readers = 2;
        options.metadata_capacity = 192;
        options.max_frames = 16;
        options.max_outstanding = 2;
        options.max_holds_per_reader = 4;
        options.integrity = variant % 2 == 1 ? zerobuffer::Integrity::Checksum : zerobuffer::Integrity::None;
        const std::string name = "fuzz-seed-" + std::to_string(::getpid()) + "-" + std::to_string(variant);
        auto writer = zerobuffer::Writer::create(name, options);
        if (!writer) {
            std::fprintf(stderr, "zb-fuzz-make-seeds: error: %s\n", writer.error().message.c_str());
            return 1;
        }
        zerobuffer::ReaderOptions ro;
        ro.policy = variant >= 2 ? zerobuffer::ReaderPolicy::Latest : zerobuffer::ReaderPolicy::Lossless;
        auto reader = zerobuffer::Reader::attach(name, ro);
        if (variant > 0) {
            (void)writer->set_stream_metadata(zerobuffer::to_json(raw_video()));
        }
        std::vector<zerobuffer::Frame> held;
        for (int i = 0; i < 3 + variant; ++i) {
            std::vector<std::byte> payload(static_cast<std::size_t>(200 + 100 * i), std::byte{0x42});
            std::vector<std::byte> metadata(static_cast<std::size_t>(8 * i), std::byte{0x17});
            zerobuffer::FrameInfo info;
            info.pts = 1000 * i;
            info.flags = i == 0 ? zerobuffer::kFrameKeyframe : 0;
            (void)writer->write(payload, info, metadata);
            if (reader && i % 2 == 0) {
                if (auto frame = reader->acquire(10ms)) {
                    held.push_back(std::move(*frame));
                }
            }
        }
        const auto bytes = file_bytes("/dev/shm/zb-" + name);
        std::vector<std::uint8_t> image;
        image.push_back(static_cast<std::uint8_t>(variant == 3 ? 0x0b : variant)); // live writer, latest, newest
        image.insert(image.end(), bytes.begin(), bytes.end());
        save(dir, "ring-" + std::to_string(variant), image);
    }
    return 0;
}

/// Programs for fuzz_segment_reader.cpp: integrity byte, attach byte, then steps (opcode % 12, arguments).
void reader_programs(const fs::path& dir)
{
    // write: 2, u16 payload, u8 metadata, u8 flags, u32 pts; acquire: 4, which; release: 6, which, index;
    // patch: 0, region, mode, u16 offset, bytes...; attach: 7, which, how; metadata: 8, u16; race: 9, region,
    // u32 seed, rounds, then the writes of each round; inspect: 10.
    save(dir, "write-read", std::vector<std::uint8_t>{0, 0, 2, 100, 0, 16, 1, 1, 0, 0, 0, 4, 0, 4, 0, 6, 0, 0});
    save(dir, "patch-descriptor",
         std::vector<std::uint8_t>{1, 0, 2, 200, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 8, 0, 13, 4, 0, 4, 0});
    save(dir, "patch-control", std::vector<std::uint8_t>{0, 1, 8, 64, 0, 2, 50, 0, 8, 0, 0, 0, 1, 192, 0, 8, 4, 0,
                                                          0, 0, 1, 224, 0, 9, 4, 0, 10});
    save(dir, "two-readers-holds",
         std::vector<std::uint8_t>{0, 1, 7, 1, 0, 2, 80, 0, 0, 0, 0, 0, 0, 0, 4, 0, 4, 1, 0, 1, 1, 1, 16, 0, 3, 2,
                                   90, 0, 0, 0, 0, 0, 0, 0, 4, 0, 4, 1, 6, 0, 0, 10});
    save(dir, "race-slots", std::vector<std::uint8_t>{0, 0, 9, 1, 7, 7, 7, 7, 6, 100, 0, 0, 0, 0, 0, 0, 0, 100, 0,
                                                       0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0});
    save(dir, "race-descriptors", std::vector<std::uint8_t>{1, 1, 9, 2, 1, 2, 3, 4, 4, 50, 0, 4, 0, 1, 0, 0, 0, 60,
                                                             0, 4, 0, 2, 0, 0, 0, 70, 0, 4, 0, 3, 0, 0, 0});
    save(dir, "metadata-slots", std::vector<std::uint8_t>{0, 0, 8, 7, 0, 2, 10, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 8, 0,
                                                           3, 4, 0, 8, 9, 0, 0, 3, 0, 0, 0, 255, 255, 2, 10, 0,
                                                           0, 0, 0, 0, 0, 0, 4, 0});
}

void stream_formats(const fs::path& dir)
{
    save(dir, "raw-i420", zerobuffer::to_json(raw_video()));
    zerobuffer::StreamFormat h264;
    h264.media_type = "video/x-h264";
    h264.codec = "h264";
    h264.width = 1920;
    h264.height = 1080;
    h264.codec_extradata = std::string("\x01\x64\x00\x28\xff\xe1", 6);
    h264.time_base = zerobuffer::Fraction{1, 90000};
    h264.caps = "video/x-h264, stream-format=byte-stream, alignment=au";
    save(dir, "h264", zerobuffer::to_json(h264));
    zerobuffer::StreamFormat audio;
    audio.media_type = "audio/x-raw";
    audio.sample_rate = 48000;
    audio.channels = 2;
    audio.sample_format = "S16LE";
    audio.extra_json = R"({"vendor":{"gain":[1,2,3]}})";
    save(dir, "audio-extra", zerobuffer::to_json(audio));
    save(dir, "minimal", std::string(R"({"schema":"zerobuffer.stream-format/1","media_type":"application/octet-stream"})"));
}

#ifdef ZB_FUZZ_WITH_RELAY
void relay_wire(const fs::path& dir)
{
    namespace wire = zerobuffer::relay::wire;
    wire::FrameHeader header;
    header.session = 7;
    header.sequence = 42;
    header.format_generation = 1;
    header.info.pts = 33'000'000;
    header.info.flags = zerobuffer::kFrameKeyframe;
    header.payload_size = 3072;
    header.metadata_size = 8;
    std::vector<std::uint8_t> part(1 + wire::kFrameHeaderSize + 8, 0x33);
    part[0] = 0;
    wire::encode(header, std::span<std::byte, wire::kFrameHeaderSize>(reinterpret_cast<std::byte*>(part.data() + 1),
                                                                       wire::kFrameHeaderSize));
    save(dir, "frame", part);
    header.kind = wire::Kind::StreamMetadata;
    header.metadata_size = 0;
    part.resize(1 + wire::kFrameHeaderSize);
    wire::encode(header, std::span<std::byte, wire::kFrameHeaderSize>(reinterpret_cast<std::byte*>(part.data() + 1),
                                                                       wire::kFrameHeaderSize));
    save(dir, "stream-metadata", part);
    for (const auto kind : {wire::Kind::Hello, wire::Kind::Credit}) {
        wire::ControlMessage message;
        message.kind = kind;
        message.session = 9;
        message.received = 100;
        message.window = 8;
        std::vector<std::uint8_t> control(1 + wire::kControlSize);
        control[0] = 1;
        wire::encode(message, std::span<std::byte, wire::kControlSize>(reinterpret_cast<std::byte*>(control.data() + 1),
                                                                        wire::kControlSize));
        save(dir, kind == wire::Kind::Hello ? "hello" : "credit", control);
    }
}

void broker_requests(const fs::path& dir)
{
    const auto join = [](std::initializer_list<std::pair<char, std::string>> requests) {
        std::string out;
        for (const auto& [who, body] : requests) {
            out += who;
            out += body;
            out += '\0';
        }
        return out;
    };
    save(dir, "reg-disc-list",
         join({{1, R"({"type":"REG","name":"cam0","address":"tcp://*:5555","ttl_ms":1000,"info":{"w":1920}})"},
               {0, R"({"type":"DISC","name":"cam0"})"},
               {0, R"({"type":"LIST"})"},
               {1, R"({"type":"DEREG","name":"cam0","address":"tcp://*:5555"})"}}));
    save(dir, "not-owner", join({{1, R"({"type":"REG","name":"a","address":"ipc:///tmp/a"})"},
                                 {2, R"({"type":"REG","name":"a","address":"tcp://10.0.0.1:1"})"},
                                 {2, R"({"type":"DEREG","name":"a"})"},
                                 {40, R"({"type":"DISC","name":"a"})"}}));
    save(dir, "bad", join({{0, R"([1,2,3])"}, {0, R"({"type":"NOPE"})"}, {0, R"({"type":"REG"})"},
                           {0, R"({"type":"REG","name":"x y","address":"udp://x"})"}, {0, "{\"a\":"}}));
}
#endif

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2 || std::string_view(argv[1]) == "--help") {
        std::fprintf(argc == 2 ? stdout : stderr, "usage: zb-fuzz-make-seeds DIR  (writes DIR/NAME/ per harness)\n");
        return argc == 2 ? 0 : 2;
    }
    const fs::path dir = argv[1];
    reader_programs(dir / "segment-reader");
    stream_formats(dir / "stream-format");
#ifdef ZB_FUZZ_WITH_RELAY
    relay_wire(dir / "relay-wire");
    broker_requests(dir / "broker-request");
#endif
    return segment_images(dir / "segment-image");
}
