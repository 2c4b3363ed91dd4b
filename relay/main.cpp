// SPDX-License-Identifier: MIT
// zb-relay: moves frames from a ring to rings or ZeroMQ peers; `zb-relay broker` runs the stream registry.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker.h"
#include "config.h"
#include "keys.h"
#include "metrics.h"
#include "route.h"

namespace {

using namespace zerobuffer::relay;

/// Exit codes (docs/relay.md): 0 stopped cleanly, 1 a route failed at run time, 2 bad command line or config.
constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kUsage = R"(usage:
  zb-relay --from SRC --to DST [--to DST ...] [OPTIONS]
  zb-relay --config FILE [--status-interval SEC] [--metrics ADDR:PORT]
  zb-relay keygen PREFIX              write PREFIX.key (secret) and PREFIX.pub (public) CURVE keys
  zb-relay broker [OPTIONS]           run the stream registry (zb-relay broker --help)

endpoints (options after '?', joined with '&'):
  ring:NAME[?policy=lossless|latest&size=64M&readers=8&metadata-size=16K]
        a ring on this machine; as --to the relay creates it (taking over a dead writer's ring)
  tcp://*:PORT[?policy=latest&wait-peers=N&max-peers=64]   --to: bind and publish to every receiver that
                                       connects (at most max-peers connections at once)
  tcp://HOST:PORT[?policy=latest&window=4&max-frame=512M]   --from: connect to a publishing relay
  ipc:///PATH                          like tcp, over a Unix socket (file permissions; CURVE when keys are given)
  broker://HOST:PORT/NAME              --from: ask the broker where stream NAME is published

options:
  --curve-secret FILE   this side's CURVE secret key (from zb-relay keygen; mode 0600, owned by you)
  --allowed-keys FILE   publishing side: public keys (one per line) of receivers allowed to connect
  --server-key FILE     receiving side: the publishing relay's public key (.pub); the route talks to no
                        other key, whatever address it is given or a broker returns
  --insecure            allow plain tcp without CURVE (only on networks you trust; not with keys)
  --broker ADDR --publish-name NAME [--advertise tcp://HOST:PORT]
                        publishing side: register the stream with a zb-relay broker
  --broker-key FILE     the broker's public key: talk CURVE to it (our key is --curve-secret);
                        without it a tcp broker needs --insecure
  --name NAME           route name in log lines (default: the source)
  --status-interval SEC seconds between status lines on stderr (default 5, 0 = off)
  --metrics ADDR:PORT   serve each route's counters for Prometheus at http://ADDR:PORT/metrics
                        (for example 127.0.0.1:9478; docs/monitoring.md)
  -h, --help            this text

examples:
  # fan a camera ring out to an inference ring (every frame) and a preview ring (never slows the camera)
  zb-relay --from ring:camera --to ring:inference --to 'ring:preview?policy=latest'
  # machine A publishes, machine B receives into a local ring (keys made once with zb-relay keygen)
  A$ zb-relay --from ring:camera --to 'tcp://*:5555' --curve-secret server.key --allowed-keys clients.txt
  B$ zb-relay --from tcp://a.example:5555 --to 'ring:camera?size=256M' --curve-secret client.key \
       --server-key server.pub
  # publish by name, receive by name through a broker on host b
  A$ zb-relay --from ring:camera --to 'tcp://*:5555' --broker tcp://b:5550 --publish-name cam1 --insecure
  B$ zb-relay --from broker://b:5550/cam1 --to ring:camera --insecure
  # several routes from one file
  zb-relay --config relay.json

exit codes: 0 stopped by SIGINT/SIGTERM, 1 a route failed (bind, ring, keys), 2 bad command line or config
)";

int run_keygen(int argc, char** argv)
{
    if (argc == 3 && (std::string_view(argv[2]) == "-h" || std::string_view(argv[2]) == "--help")) {
        std::fputs(
            "usage: zb-relay keygen PREFIX\n  writes PREFIX.key (the CURVE secret key, mode 0600) and PREFIX.pub "
            "(the public key)\n",
            stdout);
        return kExitOk;
    }
    if (argc != 3 || argv[2][0] == '-') {
        std::fputs("zb-relay: error: keygen needs one PREFIX - run `zb-relay keygen server` to write server.key "
                   "and server.pub (see zb-relay keygen --help)\n",
                   stderr);
        return kExitUsage;
    }
    auto written = write_key_pair(argv[2]);
    if (!written) {
        std::fprintf(stderr, "zb-relay: error: %s\n", written.error().message.c_str());
        return kExitRuntime;
    }
    std::printf("wrote %s.key (secret, keep it private) and %s.pub (public, give it to the other side)\n", argv[2],
                argv[2]);
    return kExitOk;
}

struct RunningRoute {
    const RouteConfig* config = nullptr;
    RouteStats stats;
    std::thread thread;
    RelayResult<void> result;
    std::atomic<bool> finished{false};
    std::uint64_t last_frames = 0;
    std::uint64_t last_bytes = 0;
};

void print_status(RunningRoute& route, double seconds)
{
    const std::uint64_t frames = route.stats.frames.load(std::memory_order_relaxed);
    const std::uint64_t bytes = route.stats.bytes.load(std::memory_order_relaxed);
    const double fps = static_cast<double>(frames - route.last_frames) / seconds;
    const double mbps = static_cast<double>(bytes - route.last_bytes) / seconds / 1e6;
    route.last_frames = frames;
    route.last_bytes = bytes;
    std::fprintf(stderr,
                 "zb-relay: route %s: %.1f fps, %.1f MB/s, %llu frames, drops %llu, peers %llu, rejected %llu\n",
                 route.config->name.c_str(), fps, mbps, static_cast<unsigned long long>(frames),
                 static_cast<unsigned long long>(route.stats.drops.load(std::memory_order_relaxed)),
                 static_cast<unsigned long long>(route.stats.peers.load(std::memory_order_relaxed)),
                 static_cast<unsigned long long>(route.stats.rejected.load(std::memory_order_relaxed)));
}

int run_relay(const RelayConfig& config)
{
    // libzmq allocates a buffer for every large message it receives. Keep freed buffers in the heap instead of
    // returning them to the kernel, so that each frame does not fault in fresh pages again (set before any
    // thread starts; the bench applies the same to its plain ZeroMQ baseline).
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1024 << 20);
    // Signals are taken synchronously by this thread (sigtimedwait): no handler, no global flag.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    std::atomic<bool> stop{false};
    std::vector<std::unique_ptr<RunningRoute>> routes;
    for (const RouteConfig& route_config : config.routes) {
        auto route = std::make_unique<RunningRoute>();
        route->config = &route_config;
        RunningRoute* raw = route.get();
        route->thread = std::thread([raw, &stop] {
            raw->result = run_route(*raw->config, raw->stats, stop);
            raw->finished.store(true, std::memory_order_release);
        });
        routes.push_back(std::move(route));
    }
    std::unique_ptr<MetricsEndpoint> metrics;
    if (!config.metrics_listen.empty()) {
        std::vector<MetricsRoute> shown;
        for (const auto& route : routes)
            shown.push_back({route->config, &route->stats});
        auto started = MetricsEndpoint::start(config.metrics_listen, std::move(shown));
        if (!started) {
            std::fprintf(stderr, "zb-relay: error: %s\n", started.error().message.c_str());
            stop.store(true);
            for (auto& route : routes)
                route->thread.join();
            return kExitRuntime;
        }
        metrics = std::move(*started);
        std::fprintf(stderr, "zb-relay: serving metrics at %s\n", metrics->url().c_str());
    }
    const double interval = config.status_interval_s;
    auto last_status = std::chrono::steady_clock::now();
    int exit_code = kExitOk;
    while (!stop.load()) {
        timespec timeout{0, 100'000'000};
        const int signal = sigtimedwait(&signals, nullptr, &timeout);
        if (signal == SIGINT || signal == SIGTERM) {
            std::fprintf(stderr, "zb-relay: stopping (%s)\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
            stop.store(true);
            break;
        }
        for (auto& route : routes) {
            if (route->finished.load(std::memory_order_acquire) && !route->result) {
                std::fprintf(stderr, "zb-relay: error: route %s: %s\n", route->config->name.c_str(),
                             route->result.error().message.c_str());
                exit_code = route->result.error().code == RelayErrc::InvalidConfig ? kExitUsage : kExitRuntime;
                stop.store(true);
            }
        }
        const auto now = std::chrono::steady_clock::now();
        const double elapsed = std::chrono::duration<double>(now - last_status).count();
        if (interval > 0 && elapsed >= interval) {
            for (auto& route : routes)
                print_status(*route, elapsed);
            last_status = now;
        }
    }
    metrics.reset(); // Before the routes it reads.
    for (auto& route : routes)
        route->thread.join();
    for (auto& route : routes) {
        if (!route->result && exit_code == kExitOk) {
            std::fprintf(stderr, "zb-relay: error: route %s: %s\n", route->config->name.c_str(),
                         route->result.error().message.c_str());
            exit_code = kExitRuntime;
        }
    }
    return exit_code;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc > 1 && std::string_view(argv[1]) == "broker") {
        return zerobuffer::relay::broker_main(argc - 1, argv + 1);
    }
    if (argc > 1 && std::string_view(argv[1]) == "keygen")
        return run_keygen(argc, argv);
    auto command_line = parse_command_line(argc, argv);
    if (!command_line) {
        std::fprintf(stderr, "zb-relay: error: %s\n", command_line.error().message.c_str());
        return kExitUsage;
    }
    if (command_line->help) {
        std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
        return kExitOk;
    }
    if (argc == 1) {
        std::fwrite(kUsage.data(), 1, kUsage.size(), stderr);
        return kExitUsage;
    }
    return run_relay(command_line->config);
}
