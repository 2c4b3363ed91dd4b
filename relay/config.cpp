// SPDX-License-Identifier: MIT
// Parsing and validation of zb-relay endpoints, flags and JSON config files.
#include "config.h"

#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "listen.h"
#include "route_security.h"

namespace zerobuffer::relay {

namespace {

RelayResult<std::uint32_t> parse_count(std::string_view text, std::string_view what, std::uint32_t min,
                                       std::uint32_t max)
{
    std::uint32_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
        return relay_error(RelayErrc::InvalidConfig, std::string(what) + " '" + std::string(text) +
                                                         "' is not a number from " + std::to_string(min) + " to " +
                                                         std::to_string(max));
    return value;
}

bool valid_ring_name(std::string_view name)
{
    if (name.empty() || name.size() > 200)
        return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/// Applies one `key=value` option of an endpoint, refusing keys that do not apply to it.
RelayResult<void> apply_option(Endpoint& endpoint, bool sending, std::string_view key, std::string_view value)
{
    const std::string where = "endpoint '" + endpoint.text + "': ";
    const bool ring = endpoint.kind == EndpointKind::Ring;
    if (key == "policy") {
        if (value == "lossless")
            endpoint.policy = FlowPolicy::Lossless;
        else if (value == "latest")
            endpoint.policy = FlowPolicy::Latest;
        else
            return relay_error(RelayErrc::InvalidConfig,
                               where + "policy '" + std::string(value) + "' is unknown: use lossless or latest");
        endpoint.policy_given = true;
        return {};
    }
    if (ring && sending && key == "size") {
        auto size = parse_size(value, where + "size");
        if (!size)
            return tl::unexpected(size.error());
        endpoint.ring_size = *size;
        return {};
    }
    if (ring && sending && key == "readers") {
        auto count = parse_count(value, where + "readers", 1, 64);
        if (!count)
            return tl::unexpected(count.error());
        endpoint.max_readers = *count;
        return {};
    }
    if (ring && sending && key == "metadata-size") {
        auto size = parse_size(value, where + "metadata-size");
        if (!size)
            return tl::unexpected(size.error());
        endpoint.metadata_capacity = *size;
        return {};
    }
    if (ring && sending && key == "wait-readers") {
        auto count = parse_count(value, where + "wait-readers", 0, 64);
        if (!count)
            return tl::unexpected(count.error());
        endpoint.wait_readers = *count;
        return {};
    }
    if (!ring && !sending && key == "window") {
        auto count = parse_count(value, where + "window", 1, 64);
        if (!count)
            return tl::unexpected(count.error());
        endpoint.window = *count;
        return {};
    }
    if (!ring && !sending && key == "max-frame") {
        auto size = parse_size(value, where + "max-frame");
        if (!size)
            return tl::unexpected(size.error());
        endpoint.max_frame = *size;
        return {};
    }
    if (!ring && sending && key == "wait-peers") {
        auto count = parse_count(value, where + "wait-peers", 0, 1000);
        if (!count)
            return tl::unexpected(count.error());
        endpoint.wait_peers = *count;
        return {};
    }
    if (!ring && sending && key == "max-peers") {
        auto count = parse_count(value, where + "max-peers", 1, 10000);
        if (!count)
            return tl::unexpected(count.error());
        endpoint.max_peers = *count;
        return {};
    }
    std::string allowed;
    if (ring)
        allowed = sending ? "policy, size, readers, metadata-size, wait-readers"
                          : "none (the source's options come from its writer)";
    else
        allowed = sending ? "policy, wait-peers, max-peers" : "policy, window, max-frame";
    return relay_error(RelayErrc::InvalidConfig,
                       where + "option '" + std::string(key) + "' does not apply here; options: " + allowed);
}

} // namespace

RelayResult<std::size_t> parse_size(std::string_view text, std::string_view what)
{
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    std::string_view suffix(end, static_cast<std::size_t>(text.data() + text.size() - end));
    unsigned shift = 0;
    if (suffix == "K" || suffix == "k")
        shift = 10;
    else if (suffix == "M" || suffix == "m")
        shift = 20;
    else if (suffix == "G" || suffix == "g")
        shift = 30;
    else if (!suffix.empty())
        shift = 64;
    if (ec != std::errc{} || shift == 64 || value == 0 || value > (std::uint64_t{1} << 40 >> shift))
        return relay_error(RelayErrc::InvalidConfig, std::string(what) + " '" + std::string(text) +
                                                         "' is not a size: use bytes or a number with K, M or G "
                                                         "(at most 1T)");
    return static_cast<std::size_t>(value << shift);
}

RelayResult<Endpoint> parse_endpoint(std::string_view text, bool sending)
{
    Endpoint endpoint;
    endpoint.text = std::string(text);
    const std::size_t query_at = text.find('?');
    std::string_view base = text.substr(0, query_at);
    const std::string_view query = query_at == std::string_view::npos ? std::string_view{} : text.substr(query_at + 1);

    if (base.starts_with("ring:")) {
        endpoint.kind = EndpointKind::Ring;
        endpoint.address = std::string(base.substr(5));
        if (!valid_ring_name(endpoint.address))
            return relay_error(RelayErrc::InvalidConfig,
                               "endpoint '" + endpoint.text +
                                   "': a ring name is 1 to 200 characters of letters, digits, '-', '_' or '.'");
    } else if (base.starts_with("tcp://") || base.starts_with("ipc://")) {
        endpoint.kind = EndpointKind::Zmq;
        endpoint.address = std::string(base);
        if (base.size() <= 6)
            return relay_error(RelayErrc::InvalidConfig, "endpoint '" + endpoint.text + "' has no address");
        if (base.starts_with("tcp://") && base.find(':', 6) == std::string_view::npos)
            return relay_error(RelayErrc::InvalidConfig,
                               "endpoint '" + endpoint.text + "' has no port: write tcp://HOST:PORT");
        if (!sending && base.starts_with("tcp://*"))
            return relay_error(RelayErrc::InvalidConfig,
                               "endpoint '" + endpoint.text +
                                   "': a --from address is connected to, so it names the sending host, not '*'");
    } else if (base.starts_with("broker://")) {
        if (sending)
            return relay_error(RelayErrc::InvalidConfig,
                               "endpoint '" + endpoint.text +
                                   "': broker:// is for --from; to publish, use --to tcp://*:PORT with --broker "
                                   "and --publish-name");
        endpoint.kind = EndpointKind::Broker;
        const std::string_view rest = base.substr(9);
        const std::size_t slash = rest.find('/');
        if (slash == std::string_view::npos || slash == 0 || slash + 1 >= rest.size())
            return relay_error(RelayErrc::InvalidConfig,
                               "endpoint '" + endpoint.text + "': write broker://HOST:PORT/STREAM-NAME");
        endpoint.address = "tcp://" + std::string(rest.substr(0, slash));
        endpoint.stream_name = std::string(rest.substr(slash + 1));
    } else {
        return relay_error(RelayErrc::InvalidConfig,
                           "endpoint '" + endpoint.text +
                               "' is not understood: use ring:NAME, tcp://HOST:PORT, ipc://PATH or "
                               "broker://HOST:PORT/NAME");
    }

    std::string_view rest = query;
    while (!rest.empty()) {
        const std::size_t amp = rest.find('&');
        const std::string_view item = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0)
            return relay_error(RelayErrc::InvalidConfig,
                               "endpoint '" + endpoint.text + "': option '" + std::string(item) + "' is not key=value");
        auto applied = apply_option(endpoint, sending, item.substr(0, eq), item.substr(eq + 1));
        if (!applied)
            return tl::unexpected(applied.error());
    }
    return endpoint;
}

RelayResult<void> validate_route(const RouteConfig& route)
{
    const std::string where = "route '" + route.name + "': ";
    if (route.to.empty())
        return relay_error(RelayErrc::InvalidConfig, where + "no output: give at least one --to");
    const bool from_network = route.from.kind != EndpointKind::Ring;
    std::size_t network_outputs = 0;
    for (const Endpoint& output : route.to) {
        if (output.kind == EndpointKind::Zmq)
            ++network_outputs;
        if (output.kind == EndpointKind::Ring && route.from.kind == EndpointKind::Ring &&
            output.address == route.from.address)
            return relay_error(RelayErrc::InvalidConfig,
                               where + "ring '" + output.address + "' is both source and output");
    }
    if (from_network && network_outputs > 0)
        return relay_error(RelayErrc::InvalidConfig,
                           where + "network to network is not supported: receive into a ring, and run a second "
                                   "route from that ring to the network");
    if (network_outputs > 1)
        return relay_error(RelayErrc::InvalidConfig,
                           where + "at most one network output per route (every subscriber connects to it)");
    for (const Endpoint& output : route.to)
        if (output.kind == EndpointKind::Zmq && output.wait_peers > output.max_peers)
            return relay_error(RelayErrc::InvalidConfig,
                               where + "endpoint '" + output.text +
                                   "': wait-peers=" + std::to_string(output.wait_peers) +
                                   " can never be reached with max-peers=" + std::to_string(output.max_peers));
    for (std::size_t i = 0; i < route.to.size(); ++i)
        for (std::size_t j = i + 1; j < route.to.size(); ++j)
            if (route.to[i].kind == route.to[j].kind && route.to[i].address == route.to[j].address)
                return relay_error(RelayErrc::InvalidConfig,
                                   where + "output '" + route.to[i].address + "' is given twice");

    return validate_route_security(route);
}

namespace {

std::string default_route_name(const RouteConfig& route)
{
    if (route.from.kind == EndpointKind::Ring)
        return route.from.address;
    if (route.from.kind == EndpointKind::Broker)
        return route.from.stream_name;
    for (const Endpoint& output : route.to)
        if (output.kind == EndpointKind::Ring)
            return output.address;
    return "route";
}

RelayResult<std::string> get_string(const nlohmann::json& object, const std::string& key, const std::string& where)
{
    const nlohmann::json& value = object.at(key);
    if (!value.is_string())
        return relay_error(RelayErrc::InvalidConfig, where + "." + key + " must be a string");
    return value.get<std::string>();
}

RelayResult<RouteConfig> route_from_json(const nlohmann::json& object, const std::string& where)
{
    if (!object.is_object())
        return relay_error(RelayErrc::InvalidConfig, where + " must be an object");
    RouteConfig route;
    bool have_from = false;
    for (const auto& [key, value] : object.items()) {
        if (key == "name") {
            auto text = get_string(object, key, where);
            if (!text)
                return tl::unexpected(text.error());
            route.name = *text;
        } else if (key == "from") {
            auto text = get_string(object, key, where);
            if (!text)
                return tl::unexpected(text.error());
            auto endpoint = parse_endpoint(*text, false);
            if (!endpoint)
                return relay_error(RelayErrc::InvalidConfig, where + ".from: " + endpoint.error().message);
            route.from = *endpoint;
            have_from = true;
        } else if (key == "to") {
            const nlohmann::json list = value.is_string() ? nlohmann::json::array({value}) : value;
            if (!list.is_array() || list.empty())
                return relay_error(RelayErrc::InvalidConfig, where + ".to must be an endpoint or a list of endpoints");
            for (std::size_t i = 0; i < list.size(); ++i) {
                if (!list[i].is_string())
                    return relay_error(RelayErrc::InvalidConfig,
                                       where + ".to[" + std::to_string(i) + "] must be a string");
                auto endpoint = parse_endpoint(list[i].get<std::string>(), true);
                if (!endpoint)
                    return relay_error(RelayErrc::InvalidConfig,
                                       where + ".to[" + std::to_string(i) + "]: " + endpoint.error().message);
                route.to.push_back(*endpoint);
            }
        } else if (key == "insecure") {
            if (!value.is_boolean())
                return relay_error(RelayErrc::InvalidConfig, where + ".insecure must be true or false");
            route.security.insecure = value.get<bool>();
        } else if (key == "curve") {
            if (!value.is_object())
                return relay_error(RelayErrc::InvalidConfig, where + ".curve must be an object");
            for (const auto& [curve_key, curve_value] : value.items()) {
                std::string* target = nullptr;
                if (curve_key == "secret_key")
                    target = &route.security.secret_key_file;
                else if (curve_key == "allowed_keys")
                    target = &route.security.allowed_keys_file;
                else if (curve_key == "server_key")
                    target = &route.security.server_key_file;
                else
                    return relay_error(RelayErrc::InvalidConfig,
                                       where + ".curve." + curve_key +
                                           " is not a known key (secret_key, allowed_keys, server_key)");
                if (!curve_value.is_string())
                    return relay_error(RelayErrc::InvalidConfig, where + ".curve." + curve_key + " must be a string");
                *target = curve_value.get<std::string>();
            }
        } else if (key == "broker" || key == "publish_name" || key == "advertise" || key == "broker_key") {
            auto text = get_string(object, key, where);
            if (!text)
                return tl::unexpected(text.error());
            (key == "broker"         ? route.broker
             : key == "publish_name" ? route.publish_name
             : key == "advertise"    ? route.advertise
                                     : route.broker_key_file) = *text;
        } else {
            return relay_error(RelayErrc::InvalidConfig,
                               where + "." + key +
                                   " is not a known key (name, from, to, insecure, curve, broker, broker_key, "
                                   "publish_name, advertise)");
        }
    }
    if (!have_from)
        return relay_error(RelayErrc::InvalidConfig, where + ".from is missing");
    if (route.name.empty())
        route.name = default_route_name(route);
    return route;
}

} // namespace

// The server binds it when the relay starts; a port in use is reported then.
bool valid_metrics_listen(const std::string& text)
{
    return http::parse_listen(text).has_value();
}

RelayResult<RelayConfig> load_config_file(const std::string& path)
{
    std::ifstream file(path);
    if (!file)
        return relay_error(RelayErrc::Io, "cannot read config file '" + path + "': check the path and permissions");
    std::stringstream text;
    text << file.rdbuf();
    nlohmann::json document;
    try {
        document = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& error) {
        return relay_error(RelayErrc::InvalidConfig, "config file '" + path + "' is not valid JSON: " + error.what());
    }
    if (!document.is_object())
        return relay_error(RelayErrc::InvalidConfig, "config file '" + path + "': the top level must be an object");
    RelayConfig config;
    bool have_routes = false;
    for (const auto& [key, value] : document.items()) {
        if (key == "metrics") {
            if (!value.is_string() || !valid_metrics_listen(value.get<std::string>()))
                return relay_error(RelayErrc::InvalidConfig, "config file '" + path +
                                                                 "': metrics must be \"ADDR:PORT\", for example "
                                                                 "\"127.0.0.1:9478\"");
            config.metrics_listen = value.get<std::string>();
        } else if (key == "status_interval") {
            if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 3600)
                return relay_error(RelayErrc::InvalidConfig,
                                   "config file '" + path + "': status_interval must be seconds from 0 to 3600");
            config.status_interval_s = value.get<double>();
        } else if (key == "routes") {
            if (!value.is_array() || value.empty())
                return relay_error(RelayErrc::InvalidConfig,
                                   "config file '" + path + "': routes must be a non-empty list");
            for (std::size_t i = 0; i < value.size(); ++i) {
                auto route = route_from_json(value[i], "routes[" + std::to_string(i) + "]");
                if (!route)
                    return relay_error(route.error().code, "config file '" + path + "': " + route.error().message);
                config.routes.push_back(std::move(*route));
            }
            have_routes = true;
        } else {
            return relay_error(RelayErrc::InvalidConfig,
                               "config file '" + path + "': " + key + " is not a known key (routes, status_interval, metrics)");
        }
    }
    if (!have_routes)
        return relay_error(RelayErrc::InvalidConfig, "config file '" + path + "': routes is missing");
    for (const RouteConfig& route : config.routes) {
        auto valid = validate_route(route);
        if (!valid)
            return relay_error(valid.error().code, "config file '" + path + "': " + valid.error().message);
    }
    return config;
}

RelayResult<RelayConfig> relay_config_from(RelayArguments arguments)
{
    if (!arguments.config_file.empty()) {
        auto config = load_config_file(arguments.config_file);
        if (!config)
            return tl::unexpected(config.error());
        if (arguments.status_interval_given)
            config->status_interval_s = arguments.status_interval_s;
        if (!arguments.metrics_listen.empty())
            config->metrics_listen = arguments.metrics_listen;
        return config;
    }
    if (arguments.from.empty())
        return relay_error(RelayErrc::InvalidConfig, "no --from given: see zb-relay --help");
    if (arguments.from.size() > 1)
        return relay_error(RelayErrc::InvalidConfig,
                           "--from given twice: one route per command line (use --config for several)");
    RouteConfig& route = arguments.route;
    auto from = parse_endpoint(arguments.from.front(), false);
    if (!from)
        return tl::unexpected(from.error());
    route.from = *from;
    for (const std::string& text : arguments.to) {
        auto output = parse_endpoint(text, true);
        if (!output)
            return tl::unexpected(output.error());
        route.to.push_back(*output);
    }
    if (route.name.empty())
        route.name = default_route_name(route);
    auto valid = validate_route(route);
    if (!valid)
        return tl::unexpected(valid.error());
    RelayConfig config;
    config.routes.push_back(std::move(route));
    config.status_interval_s = arguments.status_interval_s;
    config.metrics_listen = std::move(arguments.metrics_listen);
    return config;
}

} // namespace zerobuffer::relay
