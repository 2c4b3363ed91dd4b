// SPDX-License-Identifier: MIT
// Test helper for zb-relay: writes known frames into a ring, verifies every byte and field of frames read back,
// and plays hostile network peers. Used by relay-test.sh.
//
//   zb-relay-peer write RING [--frames N] [--width W] [--height H] [--encoded] [--fps F] [--wait-readers K]
//                            [--ring-size BYTES] [--format-change-at K] [--no-eos] [--pause-at K ...]
//                            [--pause-ms MS] [--gop N]
//   zb-relay-peer read RING [--frames N] [--width W] [--height H] [--encoded] [--format-change-at K]
//                           [--allow-gaps] [--reattach] [--slow-ms MS] [--timeout-s S] [--gop N]
//   zb-relay-peer hostile-sender tcp://127.0.0.1:PORT     bind, wait for a receiving relay, send garbage,
//                                                         then 5 good 64x48 frames and end-of-stream
//   zb-relay-peer hostile-client tcp://127.0.0.1:PORT     connect to a sending relay and send garbage
//   zb-relay-peer hello-flood tcp://127.0.0.1:PORT [--seconds S]  connect to a sending relay and send HELLOs with
//                                                        a new session each, as fast as it takes them, for S s
//   zb-relay-peer flood-client tcp://127.0.0.1:PORT [--part-bytes N] [--megabytes M]   a raw ZMTP (NULL) client that
//                                                        sends parts flagged MORE without end, until M MB are sent or
//                                                        the relay drops the connection; prints the bytes sent
//   zb-relay-peer flood-sender tcp://127.0.0.1:PORT [...] the same as a sending relay a receiver connects to
//   zb-relay-peer broker-reg tcp://BROKER NAME ADDRESS [--broker-key F --curve-secret F] [--ttl-ms MS]
//                                                        REG as any client of the broker may send it: prints the
//                                                        reply; exit 0 accepted, 3 refused, 1 no answer
//   zb-relay-peer free-port                              print a free tcp port on 127.0.0.1
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <zmq.h>
#include <zerobuffer/reader.h>
#include <zerobuffer/stream_format.h>
#include <zerobuffer/writer.h>

#include "broker_client.h"
#include "wire.h"
#include "zmtp_raw.h"

namespace {

using namespace zerobuffer;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kFrameDuration = 16'666'667;

struct Options {
    std::string mode;
    std::string target;
    std::uint64_t frames = 60;
    std::uint32_t width = 1920;
    std::uint32_t height = 1080;
    bool encoded = false;
    double fps = 0;
    std::uint32_t wait_readers = 0;
    std::size_t ring_size = std::size_t{64} << 20;
    std::uint64_t format_change_at = UINT64_MAX;
    bool no_eos = false;
    std::vector<std::uint64_t> pause_at; ///< Before writing these frames, print "paused at K" and wait pause_ms.
    int pause_ms = 3000;
    std::uint64_t gop = 10; ///< Encoded streams: a keyframe every `gop` frames.
    bool allow_gaps = false;
    bool reattach = false;
    int slow_ms = 0;
    int timeout_s = 60;
    std::string stream_name; ///< broker-reg
    std::string address;     ///< broker-reg
    std::string broker_key;
    std::string curve_secret;
    int ttl_ms = 10'000;
    double seconds = 5;               ///< hello-flood
    std::size_t part_bytes = 200'000; ///< flood-*
    std::uint64_t megabytes = 400;    ///< flood-*
};

/// The stream format in effect for frame `index`.
StreamFormat format_for(const Options& options, std::uint64_t index)
{
    const bool changed = index >= options.format_change_at;
    const std::uint32_t width = changed ? options.width / 2 : options.width;
    const std::uint32_t height = changed ? options.height / 2 : options.height;
    StreamFormat format;
    format.width = width;
    format.height = height;
    format.framerate = Fraction{60, 1};
    if (options.encoded) {
        format.media_type = "video/x-h264";
        format.codec = "h264";
        format.codec_extradata = std::string("\x00\x00\x00\x01\x67\x42\x00\x1f\x00\x00\x00\x01\x68\xce", 14);
        format.extra_json = R"({"alignment":"au","stream_format":"byte-stream"})";
        return format;
    }
    format.media_type = "video/x-raw";
    format.codec = "raw";
    format.pixel_format = "I420";
    const std::uint64_t luma = std::uint64_t{width} * height;
    format.planes = {PlaneLayout{0, width}, PlaneLayout{luma, width / 2}, PlaneLayout{luma + luma / 4, width / 2}};
    format.frame_size = luma * 3 / 2;
    format.pixel_aspect_ratio = Fraction{1, 1};
    return format;
}

bool is_keyframe(const Options& options, std::uint64_t index)
{
    return index % options.gop == 0;
}

std::size_t payload_size_for(const Options& options, std::uint64_t index)
{
    const StreamFormat format = format_for(options, index);
    if (!options.encoded)
        return static_cast<std::size_t>(*format.frame_size);
    // Keyframes are big, the others vary, as in a real H.264 stream.
    return is_keyframe(options, index) ? 120'000 + index % 7 * 1000 : 8'000 + (index * 7919) % 20'000;
}

FrameInfo info_for(const Options& options, std::uint64_t index)
{
    FrameInfo info;
    info.pts = static_cast<std::int64_t>(index) * kFrameDuration + 1000;
    info.dts = info.pts - 500;
    info.duration = kFrameDuration;
    info.offset = index;
    info.offset_end = index + 1;
    if (options.encoded)
        info.flags = is_keyframe(options, index) ? kFrameKeyframe : (index % 2 == 1 ? kFrameDroppable : kFrameNone);
    else
        info.flags = kFrameKeyframe;
    info.flags |= static_cast<std::uint32_t>(index & 0xff) << kFrameUserShift;
    return info;
}

std::string blob_for(std::uint64_t index)
{
    if (index % 7 == 3)
        return {}; // Some frames carry no metadata blob at all.
    std::string blob;
    for (std::uint64_t i = 0; i <= index % 5; ++i)
        blob += "frame=" + std::to_string(index) + ";";
    return blob;
}

std::uint64_t word_for(std::uint64_t index, std::size_t position)
{
    return (index + 1) * 0x9E3779B97F4A7C15ULL + position;
}

void fill_payload(std::span<std::byte> payload, std::uint64_t index, bool encoded, bool keyframe)
{
    const std::size_t words = payload.size() / 8;
    for (std::size_t i = 0; i < words; ++i) {
        const std::uint64_t word = word_for(index, i);
        std::memcpy(payload.data() + i * 8, &word, 8);
    }
    for (std::size_t i = words * 8; i < payload.size(); ++i)
        payload[i] = static_cast<std::byte>(index + i);
    if (encoded && payload.size() >= 5) {
        // An Annex-B start code and NAL type (5 = IDR slice, 1 = other slice) as a real access unit has.
        const std::array<std::byte, 5> start{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1},
                                             keyframe ? std::byte{0x65} : std::byte{0x41}};
        std::memcpy(payload.data(), start.data(), start.size());
    }
}

bool payload_matches(const Options& options, std::span<const std::byte> payload, std::uint64_t index)
{
    thread_local std::vector<std::byte> expected;
    expected.resize(payload.size());
    fill_payload(expected, index, options.encoded, is_keyframe(options, index));
    return std::memcmp(expected.data(), payload.data(), payload.size()) == 0;
}

int fail(const std::string& message)
{
    std::fprintf(stderr, "zb-relay-peer: error: %s\n", message.c_str());
    return 1;
}

int run_writer(const Options& options)
{
    WriterOptions writer_options;
    writer_options.ring_size = options.ring_size;
    auto writer = Writer::create(options.target, writer_options);
    if (!writer)
        return fail("cannot create ring: " + writer.error().message);
    if (auto set = writer->set_stream_metadata(to_json(format_for(options, 0))); !set)
        return fail(set.error().message);
    if (options.wait_readers > 0) {
        if (auto ok = writer->wait_for_readers(options.wait_readers, std::chrono::seconds(30)); !ok)
            return fail("no reader came: " + ok.error().message);
    }
    auto start = Clock::now();
    for (std::uint64_t index = 0; index < options.frames; ++index) {
        if (std::find(options.pause_at.begin(), options.pause_at.end(), index) != options.pause_at.end()) {
            // A known point in the stream (e.g. mid-GOP) at which a test starts or restarts a receiver.
            std::printf("paused at %llu\n", static_cast<unsigned long long>(index));
            std::fflush(stdout);
            std::this_thread::sleep_for(std::chrono::milliseconds(options.pause_ms));
            start += std::chrono::milliseconds(options.pause_ms);
        }
        if (index == options.format_change_at) {
            if (auto set = writer->set_stream_metadata(to_json(format_for(options, index))); !set)
                return fail(set.error().message);
        }
        if (options.fps > 0)
            std::this_thread::sleep_until(start + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                                      static_cast<double>(index) * 1e9 / options.fps)));
        const std::string blob = blob_for(index);
        const std::size_t size = payload_size_for(options, index);
        Result<FrameReservation> reservation = make_error(Errc::Timeout, "");
        for (int attempt = 0; attempt < 12; ++attempt) {
            reservation = writer->reserve(size, blob.size(), std::chrono::seconds(5));
            if (reservation || reservation.error().code != Errc::Timeout)
                break;
        }
        if (!reservation)
            return fail("reserve frame " + std::to_string(index) + ": " + reservation.error().message);
        fill_payload(reservation->payload(), index, options.encoded, is_keyframe(options, index));
        std::memcpy(reservation->metadata().data(), blob.data(), blob.size());
        if (auto ok = writer->commit(*reservation, info_for(options, index)); !ok)
            return fail(ok.error().message);
    }
    if (!options.no_eos) {
        FrameInfo eos;
        eos.flags = kFrameEndOfStream;
        for (int attempt = 0; attempt < 12; ++attempt) {
            auto reservation = writer->reserve(0, 0, std::chrono::seconds(5));
            if (reservation) {
                if (auto ok = writer->commit(*reservation, eos); !ok)
                    return fail(ok.error().message);
                break;
            }
        }
    }
    std::printf("wrote %llu frames to ring %s\n", static_cast<unsigned long long>(options.frames),
                options.target.c_str());
    return 0;
}

struct ReadReport {
    std::uint64_t frames = 0;
    std::uint64_t missing = 0;
    std::uint64_t discontinuities = 0;
    std::uint64_t mismatches = 0;
    std::uint64_t reattached = 0;
    std::int64_t first = -1;
    std::int64_t last = -1;
    bool eos = false;
};

void mismatch(ReadReport& report, const std::string& what)
{
    if (report.mismatches < 20)
        std::fprintf(stderr, "zb-relay-peer: mismatch: %s\n", what.c_str());
    ++report.mismatches;
}

/// Checks one frame against what the writer wrote for its index.
void check_frame(const Options& options, const Frame& frame, const Reader& reader, bool check_format,
                 ReadReport& report, bool after_reattach)
{
    const FrameInfo& info = frame.info();
    const std::uint64_t index = info.offset;
    if (index >= options.frames) {
        mismatch(report, "frame offset " + std::to_string(index) + " is out of range");
        return;
    }
    const std::string at = "frame " + std::to_string(index) + ": ";
    const std::int64_t previous = report.last;
    const bool gap = static_cast<std::int64_t>(index) != previous + 1;
    if (gap) {
        if (static_cast<std::int64_t>(index) <= previous)
            mismatch(report, at + "out of order after " + std::to_string(previous));
        else
            report.missing += index - static_cast<std::uint64_t>(previous + 1);
        if (!options.allow_gaps)
            mismatch(report, at + "frames missing before it");
    }
    const bool discontinuity = (info.flags & kFrameDiscontinuity) != 0;
    if (discontinuity)
        ++report.discontinuities;
    if (gap && !discontinuity)
        mismatch(report, at + "frames are missing before it but it lacks kFrameDiscontinuity");
    // An encoded stream must resume where a decoder can start again.
    if (gap && options.encoded && (info.flags & (kFrameKeyframe | kFrameHeader)) == 0)
        mismatch(report, at + "an encoded stream resumed after a gap without a keyframe");
    // A relay that restarted marks its first frame conservatively, even when nothing was lost.
    if (!gap && discontinuity && !after_reattach && !options.allow_gaps)
        mismatch(report, at + "kFrameDiscontinuity without a gap");
    const FrameInfo expected = info_for(options, index);
    if (info.pts != expected.pts || info.dts != expected.dts || info.duration != expected.duration ||
        info.offset_end != expected.offset_end || (info.flags & ~std::uint32_t{kFrameDiscontinuity}) != expected.flags)
        mismatch(report, at + "FrameInfo differs (flags " + std::to_string(info.flags) + ", expected " +
                             std::to_string(expected.flags) + ")");
    const std::string blob = blob_for(index);
    if (frame.metadata().size() != blob.size() || std::memcmp(frame.metadata().data(), blob.data(), blob.size()) != 0)
        mismatch(report, at + "metadata blob differs");
    if (frame.payload().size() != payload_size_for(options, index))
        mismatch(report, at + "payload of " + std::to_string(frame.payload().size()) + " bytes, expected " +
                             std::to_string(payload_size_for(options, index)));
    else if (!payload_matches(options, frame.payload(), index))
        mismatch(report, at + "payload bytes differ");
    if (check_format) {
        auto format = parse_stream_format(reader.stream_metadata());
        if (!format)
            mismatch(report, at + "stream metadata does not parse: " + format.error().message);
        else if (!(*format == format_for(options, index)))
            mismatch(report, at + "stream metadata differs: " + reader.stream_metadata());
    }
    report.last = static_cast<std::int64_t>(index);
    if (report.first < 0)
        report.first = static_cast<std::int64_t>(index);
    ++report.frames;
}

int run_reader(const Options& options)
{
    ReadReport report;
    const auto deadline = Clock::now() + std::chrono::seconds(options.timeout_s);
    bool after_reattach = false;
    while (Clock::now() < deadline && !report.eos) {
        auto reader = Reader::attach(options.target);
        if (!reader) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        bool first = true;
        while (Clock::now() < deadline) {
            auto frame = reader->acquire(std::chrono::milliseconds(200));
            if (!frame) {
                if (frame.error().code == Errc::Timeout)
                    continue;
                if (frame.error().code != Errc::WriterGone)
                    mismatch(report, "acquire: " + frame.error().message);
                break;
            }
            if ((frame->info().flags & kFrameEndOfStream) != 0) {
                report.eos = true;
                break;
            }
            check_frame(options, *frame, *reader, first || frame->format_changed(), report, after_reattach);
            after_reattach = false;
            first = false;
            frame->release();
            if (options.slow_ms > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(options.slow_ms));
        }
        if (report.eos || !options.reattach)
            break;
        ++report.reattached;
        after_reattach = true; // The writer of our ring restarted: the next frame may carry the gap mark.
    }
    std::printf("frames: %llu\nfirst: %lld\nlast: %lld\nmissing: %llu\ndiscontinuities: %llu\nmismatches: %llu\n"
                "reattached: %llu\neos: %s\n",
                static_cast<unsigned long long>(report.frames), static_cast<long long>(report.first),
                static_cast<long long>(report.last), static_cast<unsigned long long>(report.missing),
                static_cast<unsigned long long>(report.discontinuities),
                static_cast<unsigned long long>(report.mismatches), static_cast<unsigned long long>(report.reattached),
                report.eos ? "yes" : "no");
    if (report.mismatches != 0)
        return 1;
    if (!report.eos)
        return fail("no end-of-stream within " + std::to_string(options.timeout_s) + " s");
    if (!options.allow_gaps && report.frames != options.frames)
        return fail("got " + std::to_string(report.frames) + " frames, expected " + std::to_string(options.frames));
    return 0;
}

void send_parts(void* socket, const std::string& id, const std::vector<std::string>& parts)
{
    zmq_send(socket, id.data(), id.size(), ZMQ_SNDMORE);
    for (std::size_t i = 0; i < parts.size(); ++i)
        zmq_send(socket, parts[i].data(), parts[i].size(), i + 1 < parts.size() ? ZMQ_SNDMORE : 0);
}

std::string header_bytes(const zerobuffer::relay::wire::FrameHeader& header)
{
    std::array<std::byte, zerobuffer::relay::wire::kFrameHeaderSize> bytes{};
    zerobuffer::relay::wire::encode(header, bytes);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

int run_hostile_sender(const Options& options)
{
    namespace wire = zerobuffer::relay::wire;
    void* context = zmq_ctx_new();
    void* router = zmq_socket(context, ZMQ_ROUTER);
    const int linger = 1000;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(router, options.target.c_str()) != 0)
        return fail(std::string("bind: ") + zmq_strerror(zmq_errno()));
    // Wait for the receiving relay's HELLO to learn its routing id and session.
    std::string id;
    std::uint64_t session = 0;
    zmq_pollitem_t item{router, 0, ZMQ_POLLIN, 0};
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (session == 0 && Clock::now() < deadline) {
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        std::array<char, 256> buffer{};
        const int id_size = zmq_recv(router, buffer.data(), buffer.size(), 0);
        id.assign(buffer.data(), static_cast<std::size_t>(std::max(id_size, 0)));
        std::array<std::byte, 64> body{};
        const int body_size = zmq_recv(router, body.data(), body.size(), 0);
        auto control = wire::decode_control(
            std::span<const std::byte>(body.data(), static_cast<std::size_t>(std::max(body_size, 0))));
        if (control && control->kind == wire::Kind::Hello)
            session = control->session;
    }
    if (session == 0)
        return fail("no HELLO from the receiving relay");
    Options small = options;
    small.width = 64;
    small.height = 48;
    small.frames = 5;
    wire::FrameHeader good;
    good.session = session;
    good.info = info_for(small, 0);
    good.payload_size = payload_size_for(small, 0);
    std::string payload(good.payload_size, '\0');
    auto with = [&](auto change) {
        wire::FrameHeader header = good;
        change(header);
        return header_bytes(header);
    };
    std::vector<std::vector<std::string>> garbage;
    garbage.push_back({"just one part"});
    garbage.push_back({with([](auto&) {}), payload, "a third part"});
    garbage.push_back({"short", payload});
    std::string wrong_magic = with([](auto&) {});
    wrong_magic[0] = 'X';
    garbage.push_back({wrong_magic, payload});
    std::string wrong_version = with([](auto&) {});
    wrong_version[4] = '\x09';
    garbage.push_back({wrong_version, payload});
    std::string wrong_kind = with([](auto&) {});
    wrong_kind[6] = '\x77';
    garbage.push_back({wrong_kind, payload});
    garbage.push_back({with([](auto& h) { h.metadata_size = 500; }), payload});
    garbage.push_back({with([](auto& h) { h.payload_size = 1000; }), payload});
    garbage.push_back({with([](auto& h) { h.payload_size = std::uint64_t{1} << 60; }), payload});
    std::string reserved = with([](auto&) {});
    reserved[84] = '\x01';
    garbage.push_back({reserved, payload});
    garbage.push_back({with([](auto& h) {
                           h.kind = wire::Kind::StreamMetadata;
                           h.payload_size = 9;
                       }),
                       "not json!"});
    garbage.push_back({with([](auto& h) {
                           h.kind = wire::Kind::StreamMetadata;
                           h.payload_size = std::uint64_t{1} << 40;
                       }),
                       "{}"});
    // Stream metadata nested 100,000 deep: the core and every reader of the ring would walk it recursively.
    const std::string deep_json =
        R"({"media_type":"video/x-raw","x":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
    garbage.push_back({with([&](auto& h) {
                           h.kind = wire::Kind::StreamMetadata;
                           h.payload_size = deep_json.size();
                       }),
                       deep_json});
    garbage.push_back({std::string(200, '\xff'), std::string(1000, '\xee')});
    for (const auto& message : garbage)
        send_parts(router, id, message);
    // Then a well-formed stream: metadata, 5 frames, end of stream.
    const std::string json = to_json(format_for(small, 0));
    send_parts(router, id,
               {with([&](auto& h) {
                    h.kind = wire::Kind::StreamMetadata;
                    h.info = FrameInfo{};
                    h.payload_size = json.size();
                }),
                json});
    for (std::uint64_t index = 0; index < small.frames; ++index) {
        std::string bytes(payload_size_for(small, index), '\0');
        fill_payload(std::span<std::byte>(reinterpret_cast<std::byte*>(bytes.data()), bytes.size()), index, false,
                     true);
        const std::string blob = blob_for(index);
        wire::FrameHeader header = good;
        header.sequence = index;
        header.info = info_for(small, index);
        header.payload_size = bytes.size();
        header.metadata_size = static_cast<std::uint32_t>(blob.size());
        send_parts(router, id, {header_bytes(header) + blob, bytes});
    }
    wire::FrameHeader eos = good;
    eos.sequence = small.frames;
    eos.info = FrameInfo{};
    eos.info.flags = kFrameEndOfStream;
    eos.payload_size = 0;
    send_parts(router, id, {header_bytes(eos), ""});
    std::printf("sent %zu bad messages and %llu good frames\n", garbage.size(),
                static_cast<unsigned long long>(small.frames));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    zmq_close(router);
    zmq_ctx_term(context);
    return 0;
}

int run_hostile_client(const Options& options)
{
    namespace wire = zerobuffer::relay::wire;
    void* context = zmq_ctx_new();
    void* dealer = zmq_socket(context, ZMQ_DEALER);
    const int linger = 1000;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(dealer, options.target.c_str()) != 0)
        return fail(std::string("connect: ") + zmq_strerror(zmq_errno()));
    std::array<std::byte, wire::kControlSize> good{};
    wire::ControlMessage hello;
    hello.kind = wire::Kind::Hello;
    hello.session = 42;
    hello.window = 4;
    wire::encode(hello, good);
    const std::string valid(reinterpret_cast<const char*>(good.data()), good.size());
    std::vector<std::vector<std::string>> garbage;
    garbage.push_back({"x"});
    garbage.push_back({valid, "second part"});
    garbage.push_back({std::string(32, '\0')});
    std::string bad_window = valid;
    bad_window[24] = '\0';
    garbage.push_back({bad_window});
    std::string bad_policy = valid;
    bad_policy[28] = '\x07';
    garbage.push_back({bad_policy});
    std::string bad_kind = valid;
    bad_kind[6] = '\x01';
    garbage.push_back({bad_kind});
    garbage.push_back({std::string(100000, '\xab')});
    for (const auto& message : garbage)
        for (std::size_t i = 0; i < message.size(); ++i)
            zmq_send(dealer, message[i].data(), message[i].size(), i + 1 < message.size() ? ZMQ_SNDMORE : 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::printf("sent %zu bad messages\n", garbage.size());
    zmq_close(dealer);
    zmq_ctx_term(context);
    return 0;
}

int run_hello_flood(const Options& options)
{
    namespace wire = zerobuffer::relay::wire;
    void* context = zmq_ctx_new();
    void* dealer = zmq_socket(context, ZMQ_DEALER);
    const int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(dealer, options.target.c_str()) != 0)
        return fail(std::string("connect: ") + zmq_strerror(zmq_errno()));
    wire::ControlMessage hello;
    hello.kind = wire::Kind::Hello;
    hello.window = 4;
    std::array<std::byte, wire::kControlSize> bytes{};
    std::uint64_t sent = 0;
    const auto end = Clock::now() + std::chrono::duration<double>(options.seconds);
    while (Clock::now() < end) {
        hello.session = 1000 + sent;
        wire::encode(hello, bytes);
        if (zmq_send(dealer, bytes.data(), bytes.size(), ZMQ_DONTWAIT) >= 0)
            ++sent;
        else
            std::this_thread::sleep_for(std::chrono::microseconds(100)); // its queue is full: let it drain
    }
    std::printf("sent %llu HELLOs\n", static_cast<unsigned long long>(sent));
    zmq_close(dealer);
    zmq_ctx_term(context);
    return 0;
}

/// The port of tcp://127.0.0.1:PORT.
int port_of(const std::string& address)
{
    return std::stoi(address.substr(address.rfind(':') + 1));
}

int run_flood(const Options& options, bool as_sender)
{
    using zerobuffer::relay::test::RawZmtp;
    auto peer = as_sender ? RawZmtp::accept(port_of(options.target), "ROUTER", 20)
                          : RawZmtp::connect(port_of(options.target), "DEALER");
    if (!peer)
        return fail("no ZMTP handshake with the relay at " + options.target);
    const std::uint64_t total = options.megabytes * 1'000'000;
    const std::uint64_t sent = peer->flood(options.part_bytes, total);
    std::printf("sent %llu bytes in parts of %zu, all flagged MORE%s\n", static_cast<unsigned long long>(sent),
                options.part_bytes, sent < total ? " (then the relay dropped the connection)" : "");
    return 0;
}

int run_broker_reg(const Options& options)
{
    using namespace zerobuffer::relay;
    BrokerClientOptions client_options{options.target, std::chrono::milliseconds(500), std::nullopt};
    if (!options.broker_key.empty()) {
        auto keys = load_curve_client_keys(options.broker_key, options.curve_secret);
        if (!keys)
            return fail(keys.error().message);
        client_options.curve = std::move(*keys);
    }
    auto client = BrokerClient::connect(client_options);
    if (!client)
        return fail(client.error().message);
    const nlohmann::json request = {
        {"type", "REG"}, {"name", options.stream_name}, {"address", options.address}, {"ttl", options.ttl_ms / 1000.0}};
    for (int attempt = 0; attempt < 20; ++attempt) { // a CURVE handshake may need a moment
        auto reply = client->request(request);
        if (!reply)
            continue;
        std::printf("%s\n", reply->dump().c_str());
        return (*reply)["ok"].get<bool>() ? 0 : 3;
    }
    return fail("no answer from the broker at " + options.target);
}

int print_free_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0)
        return fail("cannot find a free port");
    std::printf("%u\n", static_cast<unsigned>(ntohs(address.sin_port)));
    ::close(fd);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    Options options;
    if (argc < 2)
        return fail("usage: zb-relay-peer write|read|hostile-sender|hostile-client|free-port ...");
    options.mode = argv[1];
    if (options.mode == "free-port")
        return print_free_port();
    if (argc < 3)
        return fail("missing ring name or address");
    options.target = argv[2];
    int first_flag = 3;
    if (options.mode == "broker-reg") {
        if (argc < 5)
            return fail("broker-reg needs BROKER NAME ADDRESS");
        options.stream_name = argv[3];
        options.address = argv[4];
        first_flag = 5;
    }
    for (int i = first_flag; i < argc; ++i) {
        const std::string_view flag = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (flag == "--frames")
            options.frames = std::stoull(next());
        else if (flag == "--width")
            options.width = static_cast<std::uint32_t>(std::stoul(next()));
        else if (flag == "--height")
            options.height = static_cast<std::uint32_t>(std::stoul(next()));
        else if (flag == "--encoded")
            options.encoded = true;
        else if (flag == "--fps")
            options.fps = std::stod(next());
        else if (flag == "--wait-readers")
            options.wait_readers = static_cast<std::uint32_t>(std::stoul(next()));
        else if (flag == "--ring-size")
            options.ring_size = std::stoull(next());
        else if (flag == "--format-change-at")
            options.format_change_at = std::stoull(next());
        else if (flag == "--pause-at")
            options.pause_at.push_back(std::stoull(next()));
        else if (flag == "--gop")
            options.gop = std::max<std::uint64_t>(1, std::stoull(next()));
        else if (flag == "--pause-ms")
            options.pause_ms = std::stoi(next());
        else if (flag == "--no-eos")
            options.no_eos = true;
        else if (flag == "--allow-gaps")
            options.allow_gaps = true;
        else if (flag == "--reattach")
            options.reattach = true;
        else if (flag == "--slow-ms")
            options.slow_ms = std::stoi(next());
        else if (flag == "--timeout-s")
            options.timeout_s = std::stoi(next());
        else if (flag == "--broker-key")
            options.broker_key = next();
        else if (flag == "--curve-secret")
            options.curve_secret = next();
        else if (flag == "--ttl-ms")
            options.ttl_ms = std::stoi(next());
        else if (flag == "--seconds")
            options.seconds = std::stod(next());
        else if (flag == "--part-bytes")
            options.part_bytes = std::stoull(next());
        else if (flag == "--megabytes")
            options.megabytes = std::stoull(next());
        else
            return fail("unknown option " + std::string(flag));
    }
    if (options.mode == "write")
        return run_writer(options);
    if (options.mode == "read")
        return run_reader(options);
    if (options.mode == "hostile-sender")
        return run_hostile_sender(options);
    if (options.mode == "hostile-client")
        return run_hostile_client(options);
    if (options.mode == "broker-reg")
        return run_broker_reg(options);
    if (options.mode == "hello-flood")
        return run_hello_flood(options);
    if (options.mode == "flood-client" || options.mode == "flood-sender")
        return run_flood(options, options.mode == "flood-sender");
    return fail("unknown mode " + options.mode);
}
