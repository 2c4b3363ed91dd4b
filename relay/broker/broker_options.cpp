// SPDX-License-Identifier: MIT
// Parsing and checking the command line of `zb-relay broker`.
#include "broker_options.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace zerobuffer::relay::detail {

using std::chrono::milliseconds;

namespace {

constexpr std::string_view kUsage = R"(Usage: zb-relay broker [OPTIONS]
       zb-relay broker query ENDPOINT [NAME] [OPTIONS]      ask a running broker (see query --help)
Keeps a registry of published streams so that receivers find a stream by name (docs/relay.md, Discovery).

Options:
  --bind ENDPOINT           where to serve requests (default tcp://*:5550; ipc://PATH also works)
  --ttl SECONDS             time to live of a registration that names none (default 10)
  --max-request-bytes N     larger requests get {"ok":false,"error":"too_large"} (default 65536);
                            frames beyond 4 times this drop the sender's connection (ZMQ_MAXMSGSIZE)
  --max-streams N           live registrations at most (default 1024, at most 10000)
  --max-clients N           client connections at once (default 512); more are closed within 10 ms
  --curve-secret FILE       serve with CURVE: the broker's secret key (from `zb-relay keygen`)
  --allowed-keys FILE       with --curve-secret: the client public keys allowed in, one Z85 key per line
  --insecure                serve plain tcp (no encryption, no authentication): required for tcp without CURVE
  --status-interval SECONDS status line on stderr every SECONDS (default 60, 0 = never)
  --help                    this text

Examples:
  zb-relay broker --bind tcp://*:5550 --insecure
  zb-relay keygen broker && zb-relay keygen cam-host
  zb-relay broker --curve-secret broker.key --allowed-keys allowed.txt      # allowed.txt lists cam-host.pub

Exit codes: 0 stopped by SIGINT/SIGTERM, 1 could not start (bind, key files), 2 bad command line.
)";

} // namespace

void print_broker_error(const std::string& what)
{
    std::fprintf(stderr, "zb-relay broker: error: %s\n", what.c_str());
}

namespace {

template <typename Number>
std::optional<Number> parse_number(std::string_view text)
{
    Number value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

/// Seconds as a decimal ("10", "0.5") to milliseconds, or nullopt when not a number in [0, max].
std::optional<milliseconds> parse_seconds(std::string_view text, milliseconds max)
{
    const auto dot = text.find('.');
    const auto whole = parse_number<std::int64_t>(text.substr(0, dot));
    if (!whole || *whole < 0 || *whole > max.count() / 1000) {
        return std::nullopt;
    }
    std::int64_t millis = *whole * 1000;
    if (dot != std::string_view::npos) {
        const std::string_view fraction = text.substr(dot + 1);
        if (fraction.empty() || fraction.size() > 3 || !parse_number<std::int64_t>(fraction)) {
            return std::nullopt;
        }
        std::int64_t scale = 100;
        for (const char digit : fraction) {
            millis += (digit - '0') * scale;
            scale /= 10;
        }
    }
    if (millis > max.count()) {
        return std::nullopt;
    }
    return milliseconds(millis);
}

} // namespace

std::optional<BrokerOptions> parse_broker_options(int argc, char** argv, bool& help_shown)
{
    BrokerOptions options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> std::optional<std::string_view> {
            if (i + 1 >= argc) {
                print_broker_error(std::string(arg) + " needs a value - see zb-relay broker --help");
                return std::nullopt;
            }
            return std::string_view(argv[++i]);
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage.data(), stdout);
            help_shown = true;
            return std::nullopt;
        }
        if (arg == "--insecure") {
            options.insecure = true;
            continue;
        }
        static constexpr std::array<std::string_view, 8> kValueOptions{
            "--bind",        "--ttl",          "--max-request-bytes", "--max-streams",
            "--max-clients", "--curve-secret", "--allowed-keys",      "--status-interval"};
        if (std::find(kValueOptions.begin(), kValueOptions.end(), arg) == kValueOptions.end()) {
            print_broker_error("unknown option '" + std::string(arg) + "' - see zb-relay broker --help");
            return std::nullopt;
        }
        const auto text = value();
        if (!text) {
            return std::nullopt;
        }
        const auto bad_value = [&](std::string_view expected) {
            print_broker_error(std::string(arg) + " '" + std::string(*text) + "' is not " + std::string(expected));
            return std::nullopt;
        };
        if (arg == "--bind") {
            options.bind = std::string(*text);
        } else if (arg == "--ttl") {
            const auto ttl = parse_seconds(*text, protocol::kMaxTtl);
            if (!ttl || protocol::check_ttl(*ttl)) {
                return bad_value("a number of seconds between 0.1 and 3600");
            }
            options.default_ttl = *ttl;
        } else if (arg == "--max-request-bytes") {
            const auto bytes = parse_number<std::size_t>(*text);
            constexpr std::size_t kMin = 256;
            constexpr std::size_t kMax = 16 * 1024 * 1024;
            if (!bytes || *bytes < kMin || *bytes > kMax) {
                return bad_value("a byte count between 256 and 16777216");
            }
            options.max_request_bytes = *bytes;
        } else if (arg == "--max-streams") {
            const auto count = parse_number<std::size_t>(*text);
            if (!count || *count < 1 || *count > 10'000) {
                // 10000 keeps a LIST reply under the client's 16 MiB reply cap.
                return bad_value("a count between 1 and 10000");
            }
            options.max_streams = *count;
        } else if (arg == "--max-clients") {
            const auto count = parse_number<std::size_t>(*text);
            if (!count || *count < 1 || *count > 100'000) {
                return bad_value("a count between 1 and 100000");
            }
            options.max_clients = *count;
        } else if (arg == "--curve-secret") {
            options.curve_secret_file = std::string(*text);
        } else if (arg == "--allowed-keys") {
            options.allowed_keys_file = std::string(*text);
        } else { // --status-interval
            const auto interval = parse_seconds(*text, milliseconds(86'400'000));
            if (!interval) {
                return bad_value("a number of seconds (0 = never)");
            }
            options.status_interval = *interval;
        }
    }
    const bool curve = !options.curve_secret_file.empty();
    if (curve != !options.allowed_keys_file.empty()) {
        print_broker_error("--curve-secret and --allowed-keys go together - give both (CURVE) or neither");
        return std::nullopt;
    }
    if (curve && options.insecure) {
        print_broker_error("--insecure contradicts --curve-secret - choose one");
        return std::nullopt;
    }
    if (!curve && !options.insecure && options.bind.starts_with("tcp://")) {
        print_broker_error("refusing to serve plain tcp on " + options.bind +
                           " - pass --insecure to allow it, or --curve-secret and --allowed-keys for CURVE");
        return std::nullopt;
    }
    return options;
}

} // namespace zerobuffer::relay::detail
