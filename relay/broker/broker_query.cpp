// SPDX-License-Identifier: MIT
// `zb-relay broker query`: asks a running broker what it knows (LIST, or DISC of one name), for operators and scripts.
#include "broker_query.h"

#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "broker_client.h"

namespace zerobuffer::relay {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotFound = 3;

constexpr std::string_view kQueryUsage = R"(Usage: zb-relay broker query ENDPOINT [NAME] [OPTIONS]
Asks the broker at ENDPOINT for every live registration (LIST), or where stream NAME is (DISC), and prints the
broker's JSON reply on stdout.

Options:
  --timeout MS          longest wait for the reply (default 2000)
  --broker-key FILE     the broker's public key: talk CURVE (with --curve-secret)
  --curve-secret FILE   our secret key; its public key must be in the broker's --allowed-keys
  --help                this text

Examples:
  zb-relay broker query tcp://broker.example:5550
  zb-relay broker query tcp://broker.example:5550 cam0 --broker-key broker.pub --curve-secret ops.key

Exit codes: 0 answered, 1 no answer or refused (timeout, bad keys), 2 bad command line, 3 NAME not registered.
)";

void print_error(const std::string& what)
{
    std::fprintf(stderr, "zb-relay broker query: error: %s\n", what.c_str());
}

} // namespace

int broker_query_main(int argc, char** argv)
{
    std::string endpoint;
    std::string name;
    std::string broker_key_file;
    std::string secret_file;
    long timeout_ms = 2000;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(kQueryUsage.data(), stdout);
            return kExitOk;
        }
        if (arg.starts_with("-")) {
            if (arg != "--timeout" && arg != "--broker-key" && arg != "--curve-secret") {
                print_error("unknown option '" + std::string(arg) + "' - see zb-relay broker query --help");
                return kExitUsage;
            }
            if (i + 1 >= argc) {
                print_error(std::string(arg) + " needs a value - see zb-relay broker query --help");
                return kExitUsage;
            }
            const std::string_view value = argv[++i];
            if (arg == "--timeout") {
                const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), timeout_ms);
                if (ec != std::errc{} || end != value.data() + value.size() || timeout_ms < 1 || timeout_ms > 600'000) {
                    print_error("--timeout '" + std::string(value) + "' is not a number of milliseconds (1-600000)");
                    return kExitUsage;
                }
            } else if (arg == "--broker-key") {
                broker_key_file = std::string(value);
            } else {
                secret_file = std::string(value);
            }
        } else if (endpoint.empty()) {
            endpoint = std::string(arg);
        } else if (name.empty()) {
            name = std::string(arg);
        } else {
            print_error("unexpected argument '" + std::string(arg) + "' - give ENDPOINT and at most one NAME");
            return kExitUsage;
        }
    }
    if (endpoint.empty()) {
        print_error("no broker ENDPOINT - e.g. zb-relay broker query tcp://broker.example:5550");
        return kExitUsage;
    }
    if (broker_key_file.empty() != secret_file.empty()) {
        print_error("--broker-key and --curve-secret go together - give both (CURVE) or neither");
        return kExitUsage;
    }
    BrokerClientOptions options{endpoint, std::chrono::milliseconds(timeout_ms), std::nullopt};
    if (!broker_key_file.empty()) {
        auto keys = load_curve_client_keys(broker_key_file, secret_file);
        if (!keys) {
            print_error(keys.error().message);
            return kExitFailed;
        }
        options.curve = std::move(*keys);
    }
    auto client = BrokerClient::connect(std::move(options));
    if (!client) {
        print_error(client.error().message);
        return client.error().code == BrokerErrc::InvalidArgument ? kExitUsage : kExitFailed;
    }
    if (!name.empty()) {
        if (auto problem = protocol::check_name(name)) {
            print_error("stream name: " + *problem);
            return kExitUsage;
        }
    }
    const nlohmann::json request = name.empty() ? nlohmann::json{{"type", protocol::kList}}
                                                : nlohmann::json{{"type", protocol::kDisc}, {"name", name}};
    auto reply = client->request(request);
    if (!reply) {
        print_error(reply.error().message);
        return kExitFailed;
    }
    std::printf("%s\n", reply->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    if ((*reply)["ok"].get<bool>()) {
        return kExitOk;
    }
    return reply->value("error", std::string()) == protocol::errors::kNotFound ? kExitNotFound : kExitFailed;
}

} // namespace zerobuffer::relay
