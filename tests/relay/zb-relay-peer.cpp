// SPDX-License-Identifier: MIT
// Test helper for zb-relay: writes known frames into a ring, verifies every byte and field of frames read back,
// and plays hostile network peers. Used by relay-test.sh.
//
//   zb-relay-peer write RING [--frames N] [--width W] [--height H] [--encoded] [--fps F] [--wait-readers K]
//                            [--ring-size BYTES] [--format-change-at K] [--no-eos] [--pause-at K ...]
//                            [--pause-ms MS] [--gop N] [--eos-on-sigterm]
//   zb-relay-peer read RING [--frames N] [--width W] [--height H] [--encoded] [--format-change-at K]
//                           [--allow-gaps] [--reattach] [--slow-ms MS] [--timeout-s S] [--gop N]
//                           [--print-arrivals]
//   zb-relay-peer hostile-sender tcp://127.0.0.1:PORT     bind, wait for a receiving relay, send garbage,
//                                                         then 5 good 64x48 frames and end-of-stream
//   zb-relay-peer torn-sender tcp://127.0.0.1:PORT [--width W --height H]  bind, offer a receiving relay a payload
//                                                        stream, send frame 0 whole and half of frame 1, close it
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
#include <cstdio>
#include <string>
#include <string_view>

#include "peer.h"

namespace {

using namespace zerobuffer::relay::test;

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

constexpr const char* kUsage = R"(Usage: zb-relay-peer write RING [--frames N] [--width W] [--height H] [--encoded] [--fps F]
                          [--wait-readers K] [--ring-size BYTES] [--format-change-at K] [--no-eos]
                          [--pause-at K ...] [--pause-ms MS] [--gop N] [--eos-on-sigterm]
       zb-relay-peer read RING [--frames N] [--width W] [--height H] [--encoded] [--format-change-at K]
                          [--allow-gaps] [--reattach] [--slow-ms MS] [--timeout-s S] [--gop N]
                          [--print-arrivals]
       zb-relay-peer hostile-sender tcp://127.0.0.1:PORT
       zb-relay-peer torn-sender tcp://127.0.0.1:PORT [--width W] [--height H]
       zb-relay-peer hostile-client tcp://127.0.0.1:PORT
       zb-relay-peer hello-flood tcp://127.0.0.1:PORT [--seconds S]
       zb-relay-peer flood-client|flood-sender tcp://127.0.0.1:PORT [--part-bytes N] [--megabytes M]
       zb-relay-peer broker-reg tcp://BROKER NAME ADDRESS [--broker-key F --curve-secret F] [--ttl-ms MS]
       zb-relay-peer free-port
Test helper of relay-test.sh: writes known frames into a ring, verifies every byte of frames read back, or
plays a hostile network peer. Exit status: 0 as expected, 1 a check failed, 2 usage error.
)";

int usage_error(const std::string& message)
{
    std::fprintf(stderr, "zb-relay-peer: %s\n%s", message.c_str(), kUsage);
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    Options options;
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    if (std::find(args.begin(), args.end(), "--help") != args.end() ||
        std::find(args.begin(), args.end(), "-h") != args.end()) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    static constexpr std::array<std::string_view, 10> kModes = {
        "write",       "read",         "hostile-sender", "hostile-client", "free-port",
        "broker-reg",  "hello-flood",  "flood-client",   "flood-sender",   "torn-sender"};
    if (args.empty() || std::find(kModes.begin(), kModes.end(), args[0]) == kModes.end())
        return usage_error(args.empty() ? "no mode given" : "unknown mode '" + std::string(args[0]) + "'");
    options.mode = argv[1];
    if (options.mode == "free-port")
        return args.size() == 1 ? print_free_port() : usage_error("free-port takes no arguments");
    if (args.size() < 2 || args[1].starts_with("-"))
        return usage_error("missing ring name or address");
    options.target = argv[2];
    int first_flag = 3;
    if (options.mode == "broker-reg") {
        if (argc < 5)
            return usage_error("broker-reg needs BROKER NAME ADDRESS");
        options.stream_name = argv[3];
        options.address = argv[4];
        first_flag = 5;
    }
    try {
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
        else if (flag == "--eos-on-sigterm")
            options.eos_on_sigterm = true;
        else if (flag == "--allow-gaps")
            options.allow_gaps = true;
        else if (flag == "--reattach")
            options.reattach = true;
        else if (flag == "--print-arrivals")
            options.print_arrivals = true;
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
            return usage_error("unknown option " + std::string(flag));
    }
    } catch (const std::logic_error&) { // std::sto* on a missing or malformed value.
        return usage_error("a bad or missing number in the options");
    }
    if (options.mode == "write")
        return run_writer(options);
    if (options.mode == "read")
        return run_reader(options);
    if (options.mode == "hostile-sender")
        return run_hostile_sender(options);
    if (options.mode == "torn-sender")
        return run_torn_sender(options);
    if (options.mode == "hostile-client")
        return run_hostile_client(options);
    if (options.mode == "broker-reg")
        return run_broker_reg(options);
    if (options.mode == "hello-flood")
        return run_hello_flood(options);
    if (options.mode == "flood-client" || options.mode == "flood-sender")
        return run_flood(options, options.mode == "flood-sender");
    return usage_error("unknown mode " + options.mode);
}
