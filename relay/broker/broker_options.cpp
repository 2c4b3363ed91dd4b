// SPDX-License-Identifier: MIT
// The command lines of `zb-relay broker` and `zb-relay broker query` on CLI11, and the broker's own checks.
#include "broker_options.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "cli.h"

namespace zerobuffer::relay::detail {

using std::chrono::milliseconds;

namespace {

constexpr const char* kBrokerExamples = R"(zb-relay broker --bind 'tcp://*:5550' --insecure
zb-relay keygen broker && zb-relay keygen cam-host
zb-relay broker --curve-secret broker.key --allowed-keys allowed.txt    # allowed.txt lists cam-host.pub
zb-relay broker query tcp://broker.example:5550)";

constexpr const char* kQueryExamples = R"(zb-relay broker query tcp://broker.example:5550
zb-relay broker query tcp://broker.example:5550 cam0 --broker-key broker.pub --curve-secret ops.key)";

milliseconds to_milliseconds(double seconds)
{
    return milliseconds(std::llround(seconds * 1000.0));
}

/// Appends an "Exit codes" line to the footer set by set_examples.
void add_exit_codes(CLI::App& app, const std::string& text)
{
    app.footer(app.get_footer() + "\nExit codes: " + text);
}

} // namespace

BrokerCommands add_broker_commands(CLI::App& parent, BrokerOptions& broker, BrokerQueryOptions& query)
{
    BrokerCommands commands;
    CLI::App* app = parent.add_subcommand(
        "broker", "run the stream registry, where receivers find a stream by name (docs/relay.md, Discovery)");
    commands.broker = app;
    // As before CLI11, an option given twice takes its last value (tests put a --bind after the default one).
    app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    zerobuffer::cli::set_examples(*app, kBrokerExamples);
    add_exit_codes(*app, "0 stopped by SIGINT/SIGTERM, 1 could not start (bind, key files), 2 bad command line.");

    std::vector<CLI::Option*> own;
    own.push_back(app->add_option("--bind", broker.bind, "where to serve requests (ipc://PATH also works)")
                      ->type_name("ENDPOINT")
                      ->capture_default_str());
    own.push_back(app->add_option_function<double>(
                         "--ttl", [&broker](double seconds) { broker.default_ttl = to_milliseconds(seconds); },
                         "time to live of a registration that names none (0.1 to 3600, decimals allowed)")
                      ->type_name("SECONDS")
                      ->default_str("10")
                      ->check(CLI::Range(0.1, 3600.0).description("")));
    own.push_back(app->add_option("--max-request-bytes", broker.max_request_bytes,
                                  "larger requests get {\"ok\":false,\"error\":\"too_large\"} (256 to 16M,\nK and M suffixes);\n"
                                  "frames beyond 4 times this drop the sender's connection")
                      ->type_name("BYTES")
                      ->capture_default_str()
                      ->transform(zerobuffer::cli::byte_size().description(""))
                      ->check(CLI::Range(std::size_t{256}, std::size_t{16} << 20).description("")));
    // 10000 keeps a LIST reply under the client's 16 MiB reply cap.
    own.push_back(app->add_option("--max-streams", broker.max_streams, "live registrations at most (1 to 10000)")
                      ->type_name("N")
                      ->capture_default_str()
                      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}).description("")));
    own.push_back(app->add_option("--max-clients", broker.max_clients,
                                  "client connections at once (1 to 100000); more are closed within 10 ms")
                      ->type_name("N")
                      ->capture_default_str()
                      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}).description("")));
    CLI::Option* secret = app->add_option("--curve-secret", broker.curve_secret_file,
                                          "serve with CURVE: the broker's secret key (from `zb-relay keygen`)")
                              ->type_name("FILE");
    CLI::Option* allowed = app->add_option("--allowed-keys", broker.allowed_keys_file,
                                           "with --curve-secret: the client public keys allowed in, one Z85 key\n"
                                           "per line")
                               ->type_name("FILE");
    secret->needs(allowed);
    allowed->needs(secret);
    CLI::Option* insecure = app->add_flag("--insecure", broker.insecure,
                                          "serve plain tcp (no encryption, no authentication): required for tcp\n"
                                          "without CURVE");
    insecure->excludes(secret);
    own.insert(own.end(), {secret, allowed, insecure});
    own.push_back(app->add_option_function<double>(
                         "--status-interval",
                         [&broker](double seconds) { broker.status_interval = to_milliseconds(seconds); },
                         "a status line on stderr every SECONDS (0 = never, at most 86400)")
                      ->type_name("SECONDS")
                      ->default_str("60")
                      ->check(CLI::Range(0.0, 86'400.0).description("")));

    CLI::App* ask = app->add_subcommand(
        "query", "ask the broker at ENDPOINT for every live registration (LIST), or where stream NAME is\n"
                 "(DISC), and print its JSON reply on stdout");
    commands.query = ask;
    zerobuffer::cli::set_examples(*ask, kQueryExamples);
    add_exit_codes(*ask, "0 answered, 1 no answer or refused (timeout, bad keys), 2 bad command line,\n"
                         "3 NAME not registered.");
    ask->add_option("ENDPOINT", query.endpoint, "the broker, e.g. tcp://broker.example:5550")->required();
    ask->add_option("NAME", query.name, "a stream name: ask where it is (DISC) instead of listing (LIST)");
    ask->add_option_function<long>(
           "--timeout", [&query](long ms) { query.timeout = milliseconds(ms); }, "longest wait for the reply")
        ->type_name("MS")
        ->default_str("2000")
        ->check(CLI::Range(1L, 600'000L).description(""));
    CLI::Option* broker_key =
        ask->add_option("--broker-key", query.broker_key_file, "the broker's public key: talk CURVE (with --curve-secret)")
            ->type_name("FILE");
    CLI::Option* our_secret =
        ask->add_option("--curve-secret", query.secret_file,
                        "our secret key; its public key must be in the broker's --allowed-keys")
            ->type_name("FILE");
    broker_key->needs(our_secret);
    our_secret->needs(broker_key);
    // The broker's own options mean nothing to a query: refused rather than ignored.
    for (CLI::Option* option : own) {
        ask->excludes(option);
    }
    return commands;
}

void print_broker_error(const std::string& what)
{
    std::fprintf(stderr, "zb-relay broker: error: %s\n", what.c_str());
}

std::optional<std::string> refusal(const BrokerOptions& options)
{
    if (options.curve_secret_file.empty() && !options.insecure && options.bind.starts_with("tcp://")) {
        return "refusing to serve plain tcp on " + options.bind +
               " - pass --insecure to allow it, or --curve-secret and --allowed-keys for CURVE";
    }
    return std::nullopt;
}

} // namespace zerobuffer::relay::detail
