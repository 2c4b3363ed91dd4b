// SPDX-License-Identifier: MIT
// zb-relay-bench: throughput of zb-relay (ring->ring, ring->tcp->ring, CURVE on/off) against a plain memcpy and
// a plain ZeroMQ stream of the same sizes measured in the same run, one-way latency at 60 fps, and fan-out to
// four receivers at 1080p30 (fanout.cpp).
// Prints figures and ratios with PASS/MISS against the targets; never fails on speed.
//
//   zb-relay-bench ZB_RELAY [--quick] [--json FILE]
#include <nlohmann/json.hpp>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <zmq.h>
#include <zerobuffer/reader.h>
#include <zerobuffer/writer.h>

#include "relay_bench.h"

namespace {

using namespace zerobuffer;
using namespace zerobuffer::relay_bench;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kFrame1080p = 1920 * 1080 * 3 / 2;
constexpr double kRingTarget = 0.9;    ///< ring -> zb-relay -> ring, of memcpy (issue 16)
constexpr double kNetworkTarget = 0.95; ///< ring -> tcp relay -> ring, of plain ZeroMQ (with CURVE: of plain CURVE)

struct Size {
    const char* name;
    std::size_t bytes;
    std::uint64_t frames;
};

/// memcpy of frame-sized blocks, rotating through two 128 MB regions like ring slots do.
Throughput memcpy_baseline(const Size& size)
{
    const std::size_t region = std::max<std::size_t>(std::size_t{64} << 20, size.bytes * 8); // As the rings.
    const std::size_t slots = std::max<std::size_t>(1, region / size.bytes);
    std::vector<std::byte> source(region, std::byte{1});
    std::vector<std::byte> target(region, std::byte{2});
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < size.frames; ++i) {
        const std::size_t slot = (i % slots) * size.bytes;
        std::memcpy(target.data() + slot, source.data() + slot, size.bytes);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    volatile std::byte sink = target[size.bytes / 2];
    (void)sink;
    return measure(size.frames, size.bytes, seconds);
}

/// Writes `frames` frames into `source` (as fast as the readers allow, or paced with pts = send time) and
/// reads them from `target`; returns throughput and fills `latencies_ns` when pacing.
Throughput through_rings(const std::string& source, const std::string& target, const Size& size, std::size_t ring_bytes,
                         double fps, std::vector<std::int64_t>* latencies_ns)
{
    WriterOptions options;
    options.ring_size = ring_bytes;
    options.reader_timeout = std::chrono::seconds(20);
    auto writer = Writer::create(source, options);
    if (!writer) {
        std::fprintf(stderr, "zb-relay-bench: error: %s\n", writer.error().message.c_str());
        return {};
    }
    std::optional<Reader> reader;
    for (int i = 0; i < 1000 && !reader; ++i) {
        auto attached = Reader::attach(target);
        if (attached)
            reader.emplace(std::move(*attached));
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reader || !writer->wait_for_readers(1, std::chrono::seconds(20))) {
        std::fprintf(stderr, "zb-relay-bench: error: the relay did not connect the rings\n");
        return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300)); // Let the network route finish its handshake.
    // Warm-up: one pass over both rings first, so that page faults of fresh shared memory are not timed.
    const std::uint64_t warm_up = fps > 0 ? 0 : ring_bytes / size.bytes + 2;
    const std::uint64_t total = warm_up + size.frames;
    std::atomic<std::uint64_t> received{0};
    std::atomic<bool> warm{warm_up == 0};
    Clock::time_point start;
    std::thread consumer([&] {
        while (received.load() < total) {
            auto frame = reader->acquire(std::chrono::seconds(5));
            if (!frame) {
                std::fprintf(stderr, "zb-relay-bench: error: reading: %s\n", frame.error().message.c_str());
                return;
            }
            if (latencies_ns != nullptr)
                latencies_ns->push_back(monotonic_ns() - frame->info().pts);
            if (received.fetch_add(1) + 1 == warm_up)
                warm.store(true);
        }
    });
    for (std::uint64_t i = 0; i < total; ++i) {
        if (i == warm_up) {
            while (!warm.load())
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            start = Clock::now();
        }
        if (fps > 0)
            std::this_thread::sleep_until(
                start + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / fps)));
        auto reservation = writer->reserve(size.bytes, 0, std::chrono::seconds(20));
        if (!reservation) {
            std::fprintf(stderr, "zb-relay-bench: error: writing: %s\n", reservation.error().message.c_str());
            break;
        }
        // The warm-up pass writes real bytes, so that the relay never copies from untouched shared memory
        // (which the kernel may back with one zero page: far cheaper to read than a real frame).
        if (i < warm_up || fps > 0)
            std::memset(reservation->payload().data(), static_cast<int>(i & 0xff), size.bytes);
        FrameInfo info;
        info.pts = monotonic_ns();
        (void)writer->commit(*reservation, info);
    }
    consumer.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return measure(received.load() - warm_up, size.bytes, seconds);
}

/// A plain ZeroMQ PUSH/PULL stream over tcp loopback with zero-copy sends, same message sizes.
Throughput plain_zmq(const Size& size, int port, bool curve)
{
    // Two contexts: each side gets its own I/O thread, as the two relay processes have.
    void* receive_context = zmq_ctx_new();
    void* send_context = zmq_ctx_new();
    void* pull = zmq_socket(receive_context, ZMQ_PULL);
    void* push = zmq_socket(send_context, ZMQ_PUSH);
    if (curve) {
        char server_public[41], server_secret[41], client_public[41], client_secret[41];
        zmq_curve_keypair(server_public, server_secret);
        zmq_curve_keypair(client_public, client_secret);
        const int one = 1;
        zmq_setsockopt(pull, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(pull, ZMQ_CURVE_SECRETKEY, server_secret, 41);
        zmq_setsockopt(push, ZMQ_CURVE_SERVERKEY, server_public, 41);
        zmq_setsockopt(push, ZMQ_CURVE_PUBLICKEY, client_public, 41);
        zmq_setsockopt(push, ZMQ_CURVE_SECRETKEY, client_secret, 41);
    }
    const int hwm = 4;
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    const std::string address = "tcp://127.0.0.1:" + std::to_string(port);
    zmq_bind(pull, address.c_str());
    zmq_connect(push, address.c_str());
    std::vector<std::byte> buffer(std::size_t{128} << 20, std::byte{3});
    const std::size_t slots = std::max<std::size_t>(1, buffer.size() / size.bytes);
    constexpr std::uint64_t kWarmUp = 4; // Connection and CURVE handshake happen before the clock starts.
    std::atomic<bool> warm{false};
    std::thread receiver([&] {
        zmq_msg_t message;
        zmq_msg_init(&message);
        for (std::uint64_t i = 0; i < size.frames + kWarmUp; ++i) {
            zmq_msg_recv(&message, pull, 0);
            if (i + 1 == kWarmUp)
                warm.store(true);
        }
        zmq_msg_close(&message);
    });
    for (std::uint64_t i = 0; i < kWarmUp; ++i) {
        zmq_msg_t message;
        zmq_msg_init_data(&message, buffer.data(), size.bytes, nullptr, nullptr);
        zmq_msg_send(&message, push, 0);
    }
    while (!warm.load())
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < size.frames; ++i) {
        zmq_msg_t message;
        zmq_msg_init_data(&message, buffer.data() + (i % slots) * size.bytes, size.bytes, nullptr, nullptr);
        zmq_msg_send(&message, push, 0);
    }
    receiver.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const int linger = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(send_context);
    zmq_ctx_term(receive_context);
    return measure(size.frames, size.bytes, seconds);
}

constexpr const char* kUsage = R"(Usage: zb-relay-bench ZB_RELAY [--quick] [--json FILE]

Measures zb-relay (the program at path ZB_RELAY): throughput ring->relay->ring and ring->tcp->ring with and
without CURVE, against memcpy and plain ZeroMQ of the same frame sizes in the same run, one-way latency
at 60 fps, and fan-out from one publisher to four receivers at 1080p30 (once with a slow policy=latest one).
Prints figures and ratios with PASS/MISS against the targets (docs/performance.md); never fails on speed. 'ninja -C BUILD bench-relay' (or bench-relay-quick) runs it with the built zb-relay.
  --quick      fewer frames (about two minutes)
  --json FILE  also write every figure to FILE as one JSON object (the text output stays the same)
  -h, --help   this text
Exit status: 0 measured, 1 a relay or key could not be set up, 2 usage error.
)";

int usage_error(const std::string& message)
{
    std::fprintf(stderr, "zb-relay-bench: %s\n%s", message.c_str(), kUsage);
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    if (std::find(args.begin(), args.end(), "--help") != args.end() ||
        std::find(args.begin(), args.end(), "-h") != args.end()) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (args.empty() || args[0].starts_with("-")) {
        return usage_error("the first argument is the path of the zb-relay program");
    }
    bool quick = false;
    std::string json_path;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--quick") {
            quick = true;
        } else if (args[i] == "--json" && i + 1 < args.size()) {
            json_path = std::string(args[++i]);
        } else if (args[i] == "--json") {
            return usage_error("--json needs a FILE");
        } else {
            return usage_error("unknown argument '" + std::string(args[i]) + "'");
        }
    }
    std::error_code error;
    if (!std::filesystem::is_regular_file(argv[1], error) || access(argv[1], X_OK) != 0) {
        return usage_error("'" + std::string(args[0]) + "' is not an executable zb-relay");
    }
    const std::string relay = std::filesystem::absolute(argv[1]).string();
    // The same heap tuning as zb-relay (see its main.cpp), so that the plain ZeroMQ baseline is not handicapped.
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1024 << 20);
    // Every printed figure is also kept here for --json (the SLA report reads it).
    nlohmann::json figures{{"tool", "zb-relay-bench"}, {"run", quick ? "quick" : "full"},
                           {"throughput", nlohmann::json::array()}, {"ratios", nlohmann::json::array()},
                           {"latency", nlohmann::json::array()}};
    const auto row = [&figures](const char* size, const char* what, const Throughput& result) {
        print_row(size, what, result);
        figures["throughput"].push_back(
            {{"size", size}, {"transport", what}, {"frames_per_s", result.fps}, {"gb_per_s", result.gbps}});
    };
    const std::vector<Size> sizes = {{"1080p", kFrame1080p, quick ? 120u : 600u},
                                     {"4K", 3840 * 2160 * 3 / 2, quick ? 40u : 200u}};
    char dir_template[] = "/tmp/zb-relay-bench-XXXXXX";
    const std::filesystem::path dir = mkdtemp(dir_template);
    const auto server_keys = run_keygen(relay, dir, "server");
    const auto client_keys = server_keys ? run_keygen(relay, dir, "client") : std::nullopt;
    if (!client_keys) {
        std::filesystem::remove_all(dir);
        return 1;
    }
    const std::string& server = *server_keys;
    const std::string& client = *client_keys;
    std::filesystem::copy_file(client + ".pub", dir / "allowed.txt");
    // Flags of the sending and the receiving relay, with CURVE or plain tcp.
    const auto security_args = [&](bool curve) -> std::pair<std::vector<std::string>, std::vector<std::string>> {
        if (!curve)
            return {{"--insecure"}, {"--insecure"}};
        return {{"--curve-secret", server + ".key", "--allowed-keys", (dir / "allowed.txt").string()},
                {"--curve-secret", client + ".key", "--server-key", server + ".pub"}};
    };
    const std::string tag = "zbrb" + std::to_string(getpid());
    std::printf("zb-relay-bench%s: I420 frames, lossless, one reader; ratios measured side by side in this run\n",
                quick ? " (quick)" : "");
    double plain_1080p_fps = 0; // Measured below; the latency targets are made of them.
    double plain_1080p_curve_fps = 0;

    for (const Size& size : sizes) {
        const std::size_t ring = std::max<std::size_t>(std::size_t{64} << 20, size.bytes * 8);
        const std::string ring_arg = "?size=" + std::to_string(ring) + "&wait-readers=1";
        // Baseline and relay alternate, twice each, and each keeps its better run: load from other programs on
        // the machine then hurts both alike instead of deciding the ratio by chance.
        constexpr int kRounds = 2;
        Throughput copy;
        Throughput local;
        for (int round = 0; round < kRounds; ++round) {
            const Throughput baseline = memcpy_baseline(size);
            copy = baseline.gbps > copy.gbps ? baseline : copy;
            RelayProcess process(relay, {"--from", "ring:" + tag + "-a", "--to", "ring:" + tag + "-b" + ring_arg,
                                         "--status-interval", "0"});
            const Throughput relayed = through_rings(tag + "-a", tag + "-b", size, ring, 0, nullptr);
            local = relayed.gbps > local.gbps ? relayed : local;
        }
        row(size.name, "memcpy (baseline)", copy);
        row(size.name, "ring->zb-relay->ring", local);
        figures["ratios"].push_back({{"size", size.name}, {"what", "ring->zb-relay->ring / memcpy"},
                                     {"ratio", local.gbps / copy.gbps}, {"target", kRingTarget}});
        std::printf("%-6s   ratio to memcpy %.2f (target >= %.2f) %s\n", size.name, local.gbps / copy.gbps,
                    kRingTarget, verdict(local.gbps / copy.gbps, kRingTarget));
        for (const bool curve : {false, true}) {
            const auto [send_security, receive_security] = security_args(curve);
            Throughput plain;
            Throughput network;
            for (int round = 0; round < kRounds; ++round) {
                const Throughput baseline = plain_zmq(size, free_port_after(24000), curve);
                plain = baseline.gbps > plain.gbps ? baseline : plain;
                const std::string address = "tcp://127.0.0.1:" + std::to_string(free_port_after(20000));
                std::vector<std::string> receiver_args{
                    "--from", address, "--to", "ring:" + tag + "-d" + ring_arg, "--status-interval", "0"};
                receiver_args.insert(receiver_args.end(), receive_security.begin(), receive_security.end());
                std::vector<std::string> sender_args{
                    "--from", "ring:" + tag + "-c", "--to", address + "?wait-peers=1", "--status-interval", "0"};
                sender_args.insert(sender_args.end(), send_security.begin(), send_security.end());
                RelayProcess receiver(relay, receiver_args);
                RelayProcess sender(relay, sender_args);
                const Throughput relayed = through_rings(tag + "-c", tag + "-d", size, ring, 0, nullptr);
                network = relayed.gbps > network.gbps ? relayed : network;
            }
            row(size.name, curve ? "plain ZeroMQ tcp, CURVE" : "plain ZeroMQ tcp", plain);
            row(size.name, curve ? "ring->tcp relay->ring, CURVE" : "ring->tcp relay->ring", network);
            figures["ratios"].push_back({{"size", size.name}, {"curve", curve},
                                         {"what", curve ? "tcp relay / plain ZeroMQ, CURVE" : "tcp relay / plain ZeroMQ"},
                                         {"ratio", network.gbps / plain.gbps}, {"target", kNetworkTarget}});
            std::printf("%-6s   ratio to plain ZeroMQ %.2f (target >= %.2f) %s\n", size.name,
                        network.gbps / plain.gbps, kNetworkTarget, verdict(network.gbps / plain.gbps, kNetworkTarget));
            if (size.bytes == kFrame1080p)
                (curve ? plain_1080p_curve_fps : plain_1080p_fps) = plain.fps;
        }
    }

    // One-way latency: writer commit in the source ring -> reader acquire in the target ring, 60 fps, 1080p.
    for (const bool curve : {false, true}) {
        const Size size{"1080p", 1920 * 1080 * 3 / 2, quick ? 120u : 600u};
        const std::size_t ring = std::size_t{64} << 20;
        const std::string ring_arg = "?wait-readers=1";
        const std::string address = "tcp://127.0.0.1:" + std::to_string(free_port_after(28000));
        std::vector<std::string> receiver_args{
            "--from", address, "--to", "ring:" + tag + "-f" + ring_arg, "--status-interval", "0"};
        std::vector<std::string> sender_args{
            "--from", "ring:" + tag + "-e", "--to", address + "?wait-peers=1", "--status-interval", "0"};
        const auto [send_security, receive_security] = security_args(curve);
        receiver_args.insert(receiver_args.end(), receive_security.begin(), receive_security.end());
        sender_args.insert(sender_args.end(), send_security.begin(), send_security.end());
        std::vector<std::int64_t> latencies;
        latencies.reserve(size.frames);
        {
            RelayProcess receiver(relay, receiver_args);
            RelayProcess sender(relay, sender_args);
            (void)through_rings(tag + "-e", tag + "-f", size, ring, 60.0, &latencies);
        }
        if (latencies.empty())
            continue;
        std::sort(latencies.begin(), latencies.end());
        const auto at = [&](double q) {
            return static_cast<double>(
                       latencies[static_cast<std::size_t>(q * static_cast<double>(latencies.size() - 1))]) /
                   1e3;
        };
        std::printf("1080p  latency at 60 fps via tcp relay%s: p50 %.0f us, p99 %.0f us, max %.0f us (%zu frames)\n",
                    curve ? ", CURVE" : "", at(0.5), at(0.99), at(1.0), latencies.size());
        figures["latency"].push_back({{"case", curve ? "1080p tcp relay, CURVE, 60 fps" : "1080p tcp relay, 60 fps"},
                                      {"curve", curve}, {"paced_fps", 60}, {"p50_us", at(0.5)}, {"p99_us", at(0.99)},
                                      {"max_us", at(1.0)}, {"frames", latencies.size()}});
        // Target: p99 within twice the time one frame takes at the plain stream's rate measured above.
        const double plain_fps = curve ? plain_1080p_curve_fps : plain_1080p_fps;
        if (plain_fps > 0) {
            const double target_us = 2e6 / plain_fps;
            std::printf("1080p    p99 %.0f us (target <= %.0f us, twice one frame at the plain%s stream's %.0f "
                        "frames/s) %s\n",
                        at(0.99), target_us, curve ? " CURVE" : "", plain_fps,
                        at(0.99) <= target_us ? "PASS" : "MISS");
        }
    }
    fanout_section(relay, tag, quick);
    std::filesystem::remove_all(dir);
    if (!json_path.empty()) {
        std::ofstream out(json_path);
        out << figures.dump(2) << "\n";
        if (!out) {
            std::fprintf(stderr, "zb-relay-bench: error: cannot write %s\n", json_path.c_str());
            return 1;
        }
    }
    return 0;
}
