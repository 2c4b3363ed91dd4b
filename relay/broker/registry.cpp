// SPDX-License-Identifier: MIT
// The broker's table of published streams: request checks, REG/DISC/DEREG/LIST, expiry.
#include "registry.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <utility>

#include "bounded_json.h"
#include "broker_protocol.h"

namespace zerobuffer::relay::detail {

namespace {

namespace errors = protocol::errors;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::int64_t ms_between(Clock::time_point earlier, Clock::time_point later)
{
    return duration_cast<milliseconds>(later - earlier).count();
}

/// The JSON type name of a value, for "wrong type" messages.
std::string type_name(const nlohmann::json& value)
{
    return value.type_name();
}

/// A required string field: the value, or the reply that refuses the request (in `refusal`).
const std::string* required_string(const nlohmann::json& request, std::string_view field, Reply& refusal)
{
    const auto it = request.find(field);
    if (it == request.end()) {
        refusal = error_reply(errors::kMissingField, "field \"" + std::string(field) + "\" is required");
        return nullptr;
    }
    if (!it->is_string()) {
        refusal = error_reply(errors::kInvalidField,
                              "field \"" + std::string(field) + "\" must be a string, got " + type_name(*it));
        return nullptr;
    }
    return it->get_ptr<const std::string*>();
}

/// Checked "name" of a request, or nullptr with `refusal` set.
const std::string* checked_name(const nlohmann::json& request, Reply& refusal)
{
    const std::string* name = required_string(request, "name", refusal);
    if (name == nullptr) {
        return nullptr;
    }
    if (auto problem = protocol::check_name(*name)) {
        refusal = error_reply(errors::kInvalidField, "field \"name\": " + *problem);
        return nullptr;
    }
    return name;
}

/// tcp://*:PORT and tcp://0.0.0.0:PORT name no host a receiver could connect to: use the publisher's IP instead.
std::string resolve_wildcard_host(const std::string& address, std::string_view peer_address)
{
    constexpr std::string_view kTcp = "tcp://";
    if (peer_address.empty() || !address.starts_with(kTcp)) {
        return address;
    }
    const std::string_view rest = std::string_view(address).substr(kTcp.size());
    const auto colon = rest.rfind(':');
    const std::string_view host = rest.substr(0, colon);
    if (host != "*" && host != "0.0.0.0" && host != "[::]") {
        return address;
    }
    constexpr std::string_view kMappedIpv4 = "::ffff:"; // an IPv4 client of a dual-stack socket
    if (peer_address.starts_with(kMappedIpv4) && peer_address.find('.') != std::string_view::npos) {
        peer_address.remove_prefix(kMappedIpv4.size());
    }
    const bool ipv6 = peer_address.find(':') != std::string_view::npos;
    return std::string(kTcp) + (ipv6 ? "[" : "") + std::string(peer_address) + (ipv6 ? "]" : "") +
           std::string(rest.substr(colon));
}

/// The reply to a request the bounded parser refused.
Reply refusal_of(const JsonProblem& problem)
{
    if (problem.refusal == JsonRefusal::NotJson) {
        return error_reply(errors::kBadJson, "request is not valid JSON (UTF-8 text, one object expected)");
    }
    if (!problem.top_level_object) {
        return error_reply(errors::kNotObject, "request must be a JSON object, got an array that " + problem.message);
    }
    return error_reply(errors::kInvalidField,
                       "field \"" + problem.field + "\" " + problem.message + " (a request nests at most " +
                           std::to_string(protocol::kMaxJsonDepth) + " levels and holds at most " +
                           std::to_string(protocol::kMaxRequestValues) + " values)");
}

} // namespace

Reply error_reply(std::string_view code, std::string message)
{
    Reply reply;
    reply.body = {{"ok", false}, {"error", code}, {"message", message}};
    reply.error_code = std::string(code);
    reply.log_line = std::move(message);
    return reply;
}

Reply Registry::handle(std::string_view body, const Requester& requester, Clock::time_point now)
{
    // Exceptions of nlohmann_json stop here: a hostile request must never take the broker down.
    try {
        // Depth and size are checked while streaming, before a tree exists: dump() and copies of "info" below are
        // recursive and must never meet a deeply nested document.
        auto parsed = parse_json_with_limits(body, {protocol::kMaxJsonDepth, protocol::kMaxRequestValues});
        if (!parsed) {
            return refusal_of(parsed.error());
        }
        const nlohmann::json& request = *parsed;
        if (!request.is_object()) {
            return error_reply(errors::kNotObject, "request must be a JSON object, got " + type_name(request));
        }
        std::vector<std::string> expired = expire(now); // so that LIST, DISC and --max-streams see live entries only
        Reply reply = handle_object(request, requester, now);
        reply.expired = std::move(expired);
        return reply;
    } catch (const std::exception& e) {
        return error_reply(errors::kInternal, std::string("request dropped after an internal error: ") + e.what());
    }
}

Reply Registry::handle_object(const nlohmann::json& request, const Requester& requester, Clock::time_point now)
{
    Reply refusal;
    const std::string* type = required_string(request, "type", refusal);
    if (type == nullptr) {
        return refusal;
    }
    if (*type == protocol::kReg) {
        return handle_reg(request, requester, now);
    }
    if (*type == protocol::kDisc) {
        return handle_disc(request, now);
    }
    if (*type == protocol::kDereg) {
        return handle_dereg(request, requester, now);
    }
    if (*type == protocol::kList) {
        return handle_list(now);
    }
    std::string shown = type->substr(0, protocol::kMaxNameBytes);
    for (char& c : shown) {
        c = (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    }
    return error_reply(errors::kUnknownType, "unknown request type \"" + shown + "\" (REG, DISC, DEREG or LIST)");
}

Reply Registry::handle_reg(const nlohmann::json& request, const Requester& requester, Clock::time_point now)
{
    Reply refusal;
    const std::string* name = checked_name(request, refusal);
    if (name == nullptr) {
        return refusal;
    }
    const std::string* address = required_string(request, "address", refusal);
    if (address == nullptr) {
        return refusal;
    }
    if (auto problem = protocol::check_address(*address)) {
        return error_reply(errors::kInvalidField, "field \"address\": " + *problem);
    }
    milliseconds ttl = limits_.default_ttl;
    if (const auto it = request.find("ttl"); it != request.end()) {
        if (!it->is_number()) {
            return error_reply(errors::kInvalidField,
                               "field \"ttl\" must be a number of seconds, got " + type_name(*it));
        }
        const double seconds = it->get<double>();
        constexpr double kMaxSeconds = static_cast<double>(protocol::kMaxTtl.count()) / 1000.0;
        if (!(seconds >= 0.0 && seconds <= kMaxSeconds)) {
            return error_reply(errors::kInvalidField, "field \"ttl\": " + it->dump() + " s is outside [" +
                                                          std::to_string(protocol::kMinTtl.count()) + " ms, " +
                                                          std::to_string(protocol::kMaxTtl.count() / 1000) + " s]");
        }
        ttl = milliseconds(std::llround(seconds * 1000.0));
        if (auto problem = protocol::check_ttl(ttl)) {
            return error_reply(errors::kInvalidField, "field \"ttl\": " + *problem);
        }
    }
    nlohmann::json info = nlohmann::json::object();
    if (const auto it = request.find("info"); it != request.end()) {
        if (!it->is_object()) {
            return error_reply(errors::kInvalidField, "field \"info\" must be an object, got " + type_name(*it));
        }
        const std::size_t info_bytes = it->dump().size();
        if (info_bytes > protocol::kMaxInfoBytes) {
            return error_reply(errors::kInvalidField, "field \"info\" is " + std::to_string(info_bytes) +
                                                          " bytes serialized, the limit is " +
                                                          std::to_string(protocol::kMaxInfoBytes));
        }
        info = *it;
    }

    Entry* existing = find_live(*name, now);
    if (existing != nullptr) {
        if (auto taken = refuse_other_owner(*name, *existing, requester, now)) {
            return std::move(*taken);
        }
    }
    if (existing == nullptr && entries_.size() >= limits_.max_streams) {
        return error_reply(errors::kRegistryFull, "the registry holds its limit of " +
                                                      std::to_string(limits_.max_streams) +
                                                      " streams; deregister one or start the broker with a larger "
                                                      "--max-streams");
    }
    Reply reply;
    note_deadline(now + ttl);
    const std::string resolved = resolve_wildcard_host(*address, requester.address);
    std::string owner(requester.key);
    if (existing == nullptr) {
        reply.log_line = "registered '" + *name + "' at " + resolved + " (ttl " + std::to_string(ttl.count()) + " ms" +
                         (owner.empty() ? "" : ", key " + owner) + ")";
        entries_.insert_or_assign(*name, Entry{resolved, *address, std::move(owner), std::move(info), ttl, now, now});
    } else {
        if (existing->address != resolved) {
            reply.log_line = "'" + *name + "' moved from " + existing->address + " to " + resolved;
        }
        *existing = Entry{resolved, *address, std::move(owner), std::move(info), ttl, now, existing->created};
    }
    reply.body = {{"ok", true},          {"type", protocol::kReg}, {"name", *name},
                  {"address", resolved}, {"ttl_ms", ttl.count()},  {"created", existing == nullptr}};
    return reply;
}

Reply Registry::handle_disc(const nlohmann::json& request, Clock::time_point now)
{
    Reply refusal;
    const std::string* name = checked_name(request, refusal);
    if (name == nullptr) {
        return refusal;
    }
    const Entry* entry = find_live(*name, now);
    if (entry == nullptr) {
        Reply reply = error_reply(errors::kNotFound, "no live publisher registered '" + *name + "'");
        reply.log_line.clear(); // a receiver polling for a stream that is not up yet is routine
        return reply;
    }
    Reply reply;
    reply.body = {{"ok", true},
                  {"type", protocol::kDisc},
                  {"name", *name},
                  {"address", entry->address},
                  {"info", entry->info},
                  {"age_ms", ms_between(entry->refreshed, now)},
                  {"ttl_ms", entry->ttl.count()},
                  {"registered_ms", ms_between(entry->created, now)}};
    if (!entry->owner.empty()) {
        reply.body["owner"] = entry->owner;
    }
    return reply;
}

Reply Registry::handle_dereg(const nlohmann::json& request, const Requester& requester, Clock::time_point now)
{
    Reply refusal;
    const std::string* name = checked_name(request, refusal);
    if (name == nullptr) {
        return refusal;
    }
    const auto address_it = request.find("address");
    if (address_it != request.end() && !address_it->is_string()) {
        return error_reply(errors::kInvalidField, "field \"address\" must be a string, got " + type_name(*address_it));
    }
    const Entry* entry = find_live(*name, now);
    if (entry == nullptr) {
        Reply reply = error_reply(errors::kNotFound, "no live publisher registered '" + *name + "'");
        reply.log_line.clear(); // deregistering after expiry is routine
        return reply;
    }
    if (auto taken = refuse_other_owner(*name, *entry, requester, now)) {
        return std::move(*taken);
    }
    if (address_it != request.end() && address_it->get_ref<const std::string&>() != entry->requested_address) {
        return error_reply(errors::kNotOwner, "'" + *name + "' is registered by another publisher (" + entry->address +
                                                  "); left in place");
    }
    Reply reply;
    reply.log_line = "deregistered '" + *name + "' (" + entry->address + ")";
    entries_.erase(*name);
    reply.body = {{"ok", true}, {"type", protocol::kDereg}, {"name", *name}};
    return reply;
}

Reply Registry::handle_list(Clock::time_point now)
{
    nlohmann::json streams = nlohmann::json::array();
    for (const auto& [name, entry] : entries_) {
        nlohmann::json stream = {{"name", name},
                                 {"address", entry.address},
                                 {"age_ms", ms_between(entry.refreshed, now)},
                                 {"ttl_ms", entry.ttl.count()}};
        if (!entry.owner.empty()) {
            stream["owner"] = entry.owner; // operators see which key holds each name
        }
        streams.push_back(std::move(stream));
    }
    Reply reply;
    reply.body = {{"ok", true}, {"type", protocol::kList}, {"streams", std::move(streams)}};
    return reply;
}

Registry::Entry* Registry::find_live(const std::string& name, Clock::time_point now)
{
    const auto it = entries_.find(name);
    if (it == entries_.end()) {
        return nullptr;
    }
    if (now - it->second.refreshed > it->second.ttl) {
        return nullptr; // expired: the next expire() removes and logs it
    }
    return &it->second;
}

std::optional<Reply> Registry::refuse_other_owner(const std::string& name, const Entry& entry,
                                                  const Requester& requester, Clock::time_point now) const
{
    if (entry.owner.empty() || entry.owner == requester.key) {
        return std::nullopt;
    }
    const auto left = std::max<std::int64_t>(0, entry.ttl.count() - ms_between(entry.refreshed, now));
    return error_reply(errors::kNotOwner, "'" + name + "' belongs to the key " + entry.owner +
                                              " that registered it; another key may take it once that registration "
                                              "expires (in " +
                                              std::to_string(left) + " ms unless refreshed): use another name");
}

std::vector<std::string> Registry::expire(Clock::time_point now)
{
    std::vector<std::string> lines;
    if (!earliest_deadline_ || now <= *earliest_deadline_) {
        return lines; // the common case: nothing can have expired, no scan
    }
    earliest_deadline_.reset();
    for (auto it = entries_.begin(); it != entries_.end();) {
        const Entry& entry = it->second;
        const Clock::time_point deadline = entry.refreshed + entry.ttl;
        if (now > deadline) {
            lines.push_back("expired '" + it->first + "' (" + entry.address + "): not refreshed within " +
                            std::to_string(entry.ttl.count()) + " ms");
            it = entries_.erase(it);
        } else {
            note_deadline(deadline);
            ++it;
        }
    }
    return lines;
}

void Registry::note_deadline(Clock::time_point deadline)
{
    if (!earliest_deadline_ || deadline < *earliest_deadline_) {
        earliest_deadline_ = deadline;
    }
}

} // namespace zerobuffer::relay::detail
