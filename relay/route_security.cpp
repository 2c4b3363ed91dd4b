// SPDX-License-Identifier: MIT
// A route's security rules: CURVE from its keys, key options that go together, broker and --advertise checks.
#include "route_security.h"

#include "broker_protocol.h"

namespace zerobuffer::relay {

namespace {

bool is_tcp(std::string_view address)
{
    return address.starts_with("tcp://");
}

std::string_view scheme_of(std::string_view address)
{
    return address.substr(0, address.find("://") + 3);
}

/// The route's one network endpoint: its source when receiving, its network output when publishing, or none.
const Endpoint* network_endpoint(const RouteConfig& route)
{
    if (route.from.kind != EndpointKind::Ring)
        return &route.from;
    for (const Endpoint& output : route.to)
        if (output.kind == EndpointKind::Zmq)
            return &output;
    return nullptr;
}

/// The CURVE options of the side the route is on: a publisher needs its secret and the allowed receivers, a
/// receiver its secret and the publisher's public key; an option of the other side is a mistake, not a no-op.
RelayResult<void> check_curve_keys(const std::string& where, const Endpoint& endpoint, bool receiving,
                                   const SecurityConfig& security)
{
    const char* how = receiving ? "make keys with `zb-relay keygen client`, then pass --curve-secret client.key "
                                  "--server-key server.pub, or pass --insecure for plain tcp"
                                : "make keys with `zb-relay keygen server` and `zb-relay keygen client`, then "
                                  "pass --curve-secret server.key --allowed-keys FILE-WITH-client.pub-LINES, "
                                  "or pass --insecure for plain tcp";
    const std::string named = (is_tcp(endpoint.address) ? "tcp endpoint '" : "endpoint '") + endpoint.text + "'";
    const std::string why = is_tcp(endpoint.address) ? "" : " (a key option makes ipc:// use CURVE too)";
    if (security.secret_key_file.empty())
        return relay_error(RelayErrc::Security,
                           where + named + " needs CURVE keys (no --curve-secret)" + why + ": " + how);
    if (!receiving && security.allowed_keys_file.empty())
        return relay_error(RelayErrc::Security, where + named + " needs --allowed-keys FILE" + why + ": " + how);
    if (receiving && security.server_key_file.empty())
        return relay_error(RelayErrc::Security, where + named + " needs --server-key FILE" + why + ": " + how);
    if (!receiving && !security.server_key_file.empty())
        return relay_error(RelayErrc::InvalidConfig,
                           where + "--server-key is the publisher's key for a receiving route (--from tcp://...); a "
                                   "publishing route admits receivers with --allowed-keys");
    if (receiving && !security.allowed_keys_file.empty())
        return relay_error(RelayErrc::InvalidConfig,
                           where + "--allowed-keys lists the receivers of a publishing route (--to tcp://...); a "
                                   "receiving route pins its publisher with --server-key");
    return {};
}

/// --publish-name, --broker and --advertise of a publishing route.
RelayResult<void> check_publishing(const std::string& where, const RouteConfig& route, const Endpoint* network)
{
    const bool publishes = network != nullptr && network != &route.from;
    if (!route.publish_name.empty() && (route.broker.empty() || !publishes))
        return relay_error(RelayErrc::InvalidConfig,
                           where + "--publish-name needs --broker ADDR and a --to tcp://*:PORT output");
    if (!route.broker.empty() && route.publish_name.empty())
        return relay_error(RelayErrc::InvalidConfig, where + "--broker needs --publish-name NAME");
    if (!route.advertise.empty()) {
        if (route.publish_name.empty())
            return relay_error(RelayErrc::InvalidConfig,
                               where + "--advertise is what a broker hands out: it needs --broker and --publish-name");
        if (auto problem = protocol::check_address(route.advertise))
            return relay_error(RelayErrc::InvalidConfig, where + "--advertise: " + *problem);
        if (scheme_of(route.advertise) != scheme_of(network->address))
            return relay_error(RelayErrc::InvalidConfig, where + "--advertise '" + route.advertise + "' is not a " +
                                                             std::string(scheme_of(network->address)) +
                                                             " address like the output '" + network->text +
                                                             "' that receivers must reach");
    }
    if (!route.publish_name.empty() && uses_curve(route.security) && !is_tcp(network->address))
        return relay_error(RelayErrc::InvalidConfig,
                           where + "a CURVE route registers only a tcp:// output with a broker: receivers that pin "
                                   "its key accept no other address from a broker");
    return {};
}

} // namespace

bool uses_curve(const SecurityConfig& security) noexcept
{
    return !security.insecure && !security.secret_key_file.empty();
}

RelayResult<void> validate_route_security(const RouteConfig& route)
{
    const std::string where = "route '" + route.name + "': ";
    const SecurityConfig& security = route.security;
    const bool any_key =
        !security.secret_key_file.empty() || !security.allowed_keys_file.empty() || !security.server_key_file.empty();
    // --insecure serves (or trusts) everyone; a key list that it would silently ignore is a contradiction.
    if (security.insecure && any_key)
        return relay_error(RelayErrc::InvalidConfig,
                           where + "--insecure and CURVE keys (--curve-secret, --allowed-keys, --server-key) together: "
                                   "choose one (--insecure lets anyone in, the keys only the peers they name)");
    const Endpoint* network = network_endpoint(route);
    if (network == nullptr && any_key)
        return relay_error(RelayErrc::InvalidConfig,
                           where + "CURVE keys are given but the route has no network endpoint: remove them");
    // tcp needs CURVE unless plain tcp was asked for; any key option makes the endpoint CURVE, ipc:// included.
    if (network != nullptr && !security.insecure && (is_tcp(network->address) || any_key)) {
        if (auto ok = check_curve_keys(where, *network, network == &route.from, security); !ok)
            return ok;
    }
    if (auto ok = check_publishing(where, route, network); !ok)
        return ok;
    // The broker connection: CURVE with --broker-key, plain tcp only with --insecure.
    const std::string broker_address = route.from.kind == EndpointKind::Broker ? route.from.address : route.broker;
    if (is_tcp(broker_address) && route.broker_key_file.empty() && !security.insecure)
        return relay_error(RelayErrc::Security,
                           where + "the broker at '" + broker_address +
                               "' needs CURVE: pass --broker-key BROKER.pub (and --curve-secret, a key the broker "
                               "allows), or --insecure for plain tcp");
    if (!route.broker_key_file.empty() && security.secret_key_file.empty())
        return relay_error(RelayErrc::Security, where + "--broker-key needs --curve-secret (our key for the broker)");
    return {};
}

std::optional<std::string> refuse_discovered_address(const RouteConfig& route, std::string_view address)
{
    if (auto problem = protocol::check_address(address))
        return "it is not an address: " + *problem;
    if (uses_curve(route.security) && !is_tcp(address))
        return "this route pins the publisher's CURVE key (--server-key) and connects only with CURVE over tcp://; "
               "a registration of another transport is not that publisher";
    return std::nullopt;
}

} // namespace zerobuffer::relay
