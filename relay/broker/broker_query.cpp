// SPDX-License-Identifier: MIT
// `zb-relay broker query`: asks a running broker what it knows (LIST, or DISC of one name), for operators and scripts.
#include "broker_query.h"

#include <cstdio>
#include <optional>
#include <string>

#include "broker_client.h"

namespace zerobuffer::relay {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotFound = 3;

void print_error(const std::string& what)
{
    std::fprintf(stderr, "zb-relay broker query: error: %s\n", what.c_str());
}

} // namespace

int broker_query_main(const detail::BrokerQueryOptions& query)
{
    BrokerClientOptions options{query.endpoint, query.timeout, std::nullopt};
    if (!query.broker_key_file.empty()) {
        auto keys = load_curve_client_keys(query.broker_key_file, query.secret_file);
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
    if (!query.name.empty()) {
        if (auto problem = protocol::check_name(query.name)) {
            print_error("stream name: " + *problem);
            return kExitUsage;
        }
    }
    const nlohmann::json request = query.name.empty() ? nlohmann::json{{"type", protocol::kList}}
                                                : nlohmann::json{{"type", protocol::kDisc}, {"name", query.name}};
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
