// SPDX-License-Identifier: MIT
// zb-relay: moves frames from a ring to rings or ZeroMQ peers; `zb-relay broker` runs the stream registry.
// The command line is CLI11's (tools/cli); the routes and endpoints it names are checked by config.cpp.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <zerobuffer/version.h>

#include "broker.h"
#include "broker_query.h"
#include "cli.h"
#include "config.h"
#include "keys.h"
#include "metrics.h"
#include "route.h"
#include "wire.h"

namespace {

using namespace zerobuffer::relay;

/// Exit codes (docs/relay.md): 0 stopped cleanly, 1 a route failed at run time, 2 bad command line or config.
constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = zerobuffer::cli::kExitUsage;

constexpr const char* kDescription = R"(zb-relay moves frames from a ring to other rings, or to ZeroMQ peers on other machines. One command
line is one route (one --from, any number of --to); --config FILE runs several.
  zb-relay --from SRC --to DST [--to DST ...] [OPTIONS]
  zb-relay --config FILE [--status-interval SEC] [--metrics ADDR:PORT]
  zb-relay keygen PREFIX              write PREFIX.key (secret) and PREFIX.pub (public) CURVE keys
  zb-relay broker [OPTIONS]           run the stream registry (zb-relay broker --help)
)";

constexpr const char* kEndpoints = R"(
Endpoints (options after '?', joined with '&'):
  ring:NAME[?policy=lossless|latest&size=64M&readers=8&metadata-size=16K&wait-readers=N]
        a ring on this machine; as --to the relay creates it (taking over a dead writer's ring)
  tcp://*:PORT[?policy=latest&wait-peers=N&max-peers=64]   --to: bind and publish to every receiver that
                                       connects (at most max-peers connections at once)
  tcp://HOST:PORT[?policy=latest&window=4&max-frame=512M]   --from: connect to a publishing relay
  ipc:///PATH                          like tcp, over a Unix socket (file permissions; CURVE when keys are given)
  broker://HOST:PORT/NAME              --from: ask the broker where stream NAME is published
)";

constexpr const char* kExamples = R"(# fan a camera ring out to an inference ring (every frame) and a preview ring (never slows the camera)
zb-relay --from ring:camera --to ring:inference --to 'ring:preview?policy=latest'
# machine A publishes, machine B receives into a local ring (keys made once with zb-relay keygen)
A$ zb-relay --from ring:camera --to 'tcp://*:5555' --curve-secret server.key --allowed-keys clients.txt
B$ zb-relay --from tcp://a.example:5555 --to 'ring:camera?size=256M' --curve-secret client.key \
     --server-key server.pub
# publish by name, receive by name through a broker on host b
A$ zb-relay --from ring:camera --to 'tcp://*:5555' --broker tcp://b:5550 --publish-name cam1 --insecure
B$ zb-relay --from broker://b:5550/cam1 --to ring:camera --insecure
# several routes from one file
zb-relay --config relay.json)";

constexpr const char* kExitCodes =
    "\nExit codes: 0 stopped by SIGINT/SIGTERM, 1 a route failed (bind, ring, keys), 2 bad command line or config.";

std::string version_text()
{
    return "zb-relay " + std::string(zerobuffer::kLibraryVersion) + " (libzerobuffer " +
           zerobuffer::kLibraryVersion + ", protocol " + std::to_string(zerobuffer::kProtocolVersion) +
           ", relay wire " + std::to_string(wire::kVersion) + ")";
}

/// CLI11's help without its "Needs:" and "Excludes:" lists, which crowd the option column; the option texts
/// say what goes together, and a command line that breaks it names both options.
class HelpFormatter : public CLI::Formatter {
public:
    std::string make_option_opts(const CLI::Option* option) const override
    {
        if (!option->get_option_text().empty())
            return " " + option->get_option_text();
        std::string text;
        if (option->get_type_size() == 0)
            return text;
        if (!option->get_type_name().empty())
            text += " " + option->get_type_name();
        if (!option->get_default_str().empty())
            text += "=" + option->get_default_str();
        if (option->get_expected_max() == CLI::detail::expected_max_vector_size)
            text += " ...";
        if (option->get_required())
            text += " REQUIRED";
        return text;
    }
};

/// The route's options; returns them, as the subcommands and --config refuse them.
std::vector<CLI::Option*> add_route_options(CLI::App& app, RelayArguments& arguments)
{
    RouteConfig& route = arguments.route;
    const std::vector<CLI::Option*> route_options = {
        app.add_option("--from", arguments.from,
                       "the source: ring:NAME, tcp://HOST:PORT, ipc:///PATH or broker://HOST:PORT/NAME")
            ->option_text("SRC")
            ->allow_extra_args(false)
            ->group("Route"),
        app.add_option("--to", arguments.to, "an output: ring:NAME, tcp://*:PORT or ipc:///PATH (repeat for more)")
            ->type_name("DST")
            ->allow_extra_args(false)
            ->group("Route"),
        app.add_option("--name", route.name, "route name in log lines (default: the source)")
            ->type_name("NAME")
            ->group("Route"),
        app.add_option("--curve-secret", route.security.secret_key_file,
                       "this side's CURVE secret key (from zb-relay keygen; mode 0600, owned by\nyou)")
            ->type_name("FILE")
            ->group("Security"),
        app.add_option("--allowed-keys", route.security.allowed_keys_file,
                       "publishing side: public keys (one per line) of receivers allowed to\nconnect")
            ->type_name("FILE")
            ->group("Security"),
        app.add_option("--server-key", route.security.server_key_file,
                       "receiving side: the publishing relay's public key (.pub); the route\ntalks to no "
                       "other key, whatever address it is given or a broker\nreturns")
            ->type_name("FILE")
            ->group("Security"),
        app.add_flag("--insecure", route.security.insecure,
                     "allow plain tcp without CURVE (only on networks you trust; not with\nkeys)")
            ->group("Security"),
        app.add_option("--broker", route.broker,
                       "publishing side: register the stream with a zb-relay broker (with\n--publish-name)")
            ->type_name("ADDR")
            ->group("Broker registration"),
        app.add_option("--publish-name", route.publish_name, "the stream name registered with --broker")
            ->type_name("NAME")
            ->group("Broker registration"),
        app.add_option("--advertise", route.advertise,
                       "the address registered, tcp://HOST:PORT (default: the bound address,\nthe host name "
                       "for *)")
            ->type_name("ADDR")
            ->group("Broker registration"),
        app.add_option("--broker-key", route.broker_key_file,
                       "the broker's public key: talk CURVE to it (our key is --curve-secret);\nwithout it a "
                       "tcp broker needs --insecure")
            ->type_name("FILE")
            ->group("Broker registration"),
    };
    CLI::Option* config = app.add_option("--config", arguments.config_file,
                                         "routes from a JSON file instead of --from/--to (docs/relay.md)")
                              ->type_name("FILE")
                              ->group("Route");
    for (CLI::Option* option : route_options) {
        config->excludes(option); // The file gives each route its own.
    }
    CLI::Option* status = app.add_option("--status-interval", arguments.status_interval_s,
                                         "seconds between status lines on stderr (0 = off, at most 3600)")
                              ->type_name("SEC")
                              ->capture_default_str()
                              ->check(CLI::Range(0.0, 3600.0).description("")) // Bounds in the text.
                              ->group("Monitoring");
    status->each([&arguments](const std::string&) { arguments.status_interval_given = true; });
    app.add_option("--metrics", arguments.metrics_listen,
                   "serve each route's counters for Prometheus at http://ADDR:PORT/metrics\n(for example "
                   "127.0.0.1:9478; docs/monitoring.md)")
        ->type_name("ADDR:PORT")
        ->check(CLI::Validator(
            [](std::string& text) {
                return valid_metrics_listen(text) ? std::string() : "'" + text +
                                                                       "' must be ADDR:PORT, for example "
                                                                       "127.0.0.1:9478 or [::1]:9478";
            },
            ""))
        ->group("Monitoring");
    std::vector<CLI::Option*> all = route_options;
    all.insert(all.end(), {config, status, app.get_option("--metrics")});
    return all;
}

CLI::App* add_keygen(CLI::App& app, std::string& prefix)
{
    CLI::App* keygen = app.add_subcommand(
        "keygen", "write PREFIX.key (the CURVE secret key, mode 0600) and PREFIX.pub (the public key)");
    zerobuffer::cli::set_examples(*keygen, "zb-relay keygen server    # server.key and server.pub\n"
                                           "cat client.pub >> clients.txt    # on the publishing side");
    keygen->footer(keygen->get_footer() +
                   "\nExit codes: 0 written, 1 a key file exists already or cannot be written, 2 bad command line.");
    keygen->add_option("PREFIX", prefix, "where to write: PREFIX.key and PREFIX.pub")
        ->required()
        ->check(CLI::Validator(
            [](std::string& text) {
                return text.starts_with('-') ? "a PREFIX beginning with '-' is refused (it reads as an option)"
                                             : std::string();
            },
            ""));
    return keygen;
}

int run_keygen(const std::string& prefix)
{
    auto written = write_key_pair(prefix);
    if (!written) {
        std::fprintf(stderr, "zb-relay: error: %s\n", written.error().message.c_str());
        return kExitRuntime;
    }
    std::printf("wrote %s.key (secret, keep it private) and %s.pub (public, give it to the other side)\n",
                prefix.c_str(), prefix.c_str());
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
    CLI::App app{kDescription, "zb-relay"};
    app.formatter(std::make_shared<HelpFormatter>()); // Before configure, which sets its widths.
    zerobuffer::cli::configure(app, version_text(), kExamples);
    app.footer(kEndpoints + app.get_footer() + kExitCodes);
    RelayArguments arguments;
    const std::vector<CLI::Option*> relay_options = add_route_options(app, arguments);
    std::string prefix;
    CLI::App* keygen = add_keygen(app, prefix);
    zerobuffer::relay::detail::BrokerOptions broker_options;
    zerobuffer::relay::detail::BrokerQueryOptions query_options;
    const auto broker = zerobuffer::relay::detail::add_broker_commands(app, broker_options, query_options);
    for (CLI::Option* option : relay_options) { // A subcommand is not a route: refused rather than ignored.
        keygen->excludes(option);
        broker.broker->excludes(option);
    }
    if (auto code = zerobuffer::cli::parse(app, argc, argv))
        return *code;
    if (keygen->parsed())
        return run_keygen(prefix);
    if (broker.query->parsed())
        return zerobuffer::relay::broker_query_main(query_options);
    if (broker.broker->parsed())
        return zerobuffer::relay::broker_main(std::move(broker_options));
    if (argc == 1) {
        std::fputs(app.help().c_str(), stderr);
        return kExitUsage;
    }
    auto config = relay_config_from(std::move(arguments));
    if (!config) {
        std::fprintf(stderr, "zb-relay: error: %s\n", config.error().message.c_str());
        return kExitUsage;
    }
    return run_relay(*config);
}
