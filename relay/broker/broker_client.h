// SPDX-License-Identifier: MIT
// Client of `zb-relay broker`: register a published stream, find one by name, keep a registration alive.
//
// Contract:
// - BrokerClient is a value that owns its own ZeroMQ context and one REQ socket. It is NOT thread-safe: use one
//   BrokerClient from one thread at a time (moving it to another thread between calls is fine). Each call sends
//   one request and waits at most options.timeout for the reply; it never hangs on a dead broker. After a
//   timeout the socket is thrown away and the next call connects a fresh one, so a lost reply cannot wedge it.
// - Registration owns a background thread with its own BrokerClient. It registers at once, refreshes every ttl/3,
//   re-registers by itself after the broker restarts, and deregisters when destroyed (destruction waits at most
//   two request timeouts: a refresh in flight, then the DEREG). status() and wait_registered() may be called from
//   any thread; the log function is called from the registration thread, never with a lock held.
// - Nothing here throws; every failure is a BrokerError value (broker_error.h).
// Protocol and error codes: relay/broker/broker_protocol.h and docs/relay.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker_error.h"
#include "broker_protocol.h"

namespace zerobuffer::relay {

/// CURVE keys of a client, all Z85 text (40 characters).
struct CurveClientKeys {
    std::string server_public_key; ///< The broker's public key (its PREFIX.pub from `zb-relay keygen`).
    std::string client_public_key; ///< Ours; the broker must list it in its --allowed-keys file.
    std::string client_secret_key;
};

/// Loads CURVE client keys: the broker's public-key file and our own secret-key file (public key derived).
[[nodiscard]] BrokerResult<CurveClientKeys> load_curve_client_keys(const std::string& server_public_key_file,
                                                                   const std::string& client_secret_key_file);

struct BrokerClientOptions {
    std::string endpoint;                    ///< The broker, e.g. "tcp://10.0.0.2:5550" or "ipc:///run/zb-broker".
    std::chrono::milliseconds timeout{2000}; ///< Longest wait for one request's reply.
    std::optional<CurveClientKeys> curve;    ///< nullopt: plain (the broker must run with --insecure).
};

/// Where a stream is published, as the broker knows it.
struct StreamLocation {
    std::string name;
    std::string address;             ///< Connect the receiving side here.
    nlohmann::json info;             ///< What the publisher registered (an object, possibly empty).
    std::chrono::milliseconds age{}; ///< Time since the publisher last refreshed the registration.
    std::chrono::milliseconds ttl{}; ///< The registration expires when age exceeds this.
    std::string owner;               ///< The Z85 CURVE key that holds the name ("" on a plain broker).
};

/// The broker's answer to REG.
struct RegisterReply {
    std::string address;  ///< The stored address (a wildcard host like tcp://*:5555 replaced by our IP).
    bool created = false; ///< True when no live registration existed (first REG, or after a broker restart/expiry).
};

class BrokerClient {
public:
    /// Checks the options and prepares a client; connecting happens on the first request (ZeroMQ connects lazily),
    /// so this does not fail when the broker is down. Fails with InvalidArgument for a bad endpoint or timeout.
    [[nodiscard]] static BrokerResult<BrokerClient> connect(BrokerClientOptions options);

    BrokerClient(BrokerClient&&) noexcept;
    BrokerClient& operator=(BrokerClient&&) noexcept;
    BrokerClient(const BrokerClient&) = delete;
    BrokerClient& operator=(const BrokerClient&) = delete;
    ~BrokerClient();

    /// REG: publishes `name` at `address` (tcp://HOST:PORT or ipc://PATH) for `ttl`; call again within ttl to keep it.
    [[nodiscard]] BrokerResult<RegisterReply> register_stream(std::string_view name, std::string_view address,
                                                              const nlohmann::json& info = nlohmann::json::object(),
                                                              std::chrono::milliseconds ttl = protocol::kDefaultTtl);

    /// DEREG: removes `name`. With `address` (as given to REG), refuses (Refused, "not_owner") to remove another
    /// publisher's registration of the same name. NotFound when nothing live is registered under `name`.
    [[nodiscard]] BrokerResult<void> deregister_stream(std::string_view name, std::string_view address = {});

    /// DISC: where `name` is published. NotFound when no live publisher registered it.
    [[nodiscard]] BrokerResult<StreamLocation> discover(std::string_view name);

    /// LIST: every live registration (info left empty).
    [[nodiscard]] BrokerResult<std::vector<StreamLocation>> list();

    /// Sends any JSON request and returns the broker's reply object as is ({"ok":false,...} included).
    /// For tools and tests; fails only on timeouts and unparseable replies.
    [[nodiscard]] BrokerResult<nlohmann::json> request(const nlohmann::json& body);

    [[nodiscard]] const BrokerClientOptions& options() const noexcept;

private:
    struct Impl;
    explicit BrokerClient(std::unique_ptr<Impl> impl);
    /// request() plus the mapping of {"ok":false} replies to NotFound/Refused errors.
    [[nodiscard]] BrokerResult<nlohmann::json> checked_request(const nlohmann::json& body);

    std::unique_ptr<Impl> impl_;
};

/// A snapshot of a Registration's state.
struct RegistrationStatus {
    bool registered = false;            ///< The last REG succeeded (the stream is discoverable).
    std::string address;                ///< The address the broker stored (after the last successful REG).
    std::uint64_t refreshes = 0;        ///< Successful REG requests.
    std::uint64_t re_registrations = 0; ///< Successful REGs that found the entry gone (broker restart, expiry).
    std::uint64_t failures = 0;         ///< Failed REG requests (timeouts, refusals).
    std::optional<BrokerError> last_error;
};

/// Keeps one stream registered while it lives (see the contract at the top of this file).
class Registration {
public:
    /// Receives one human-readable line per state change ("registered ...", "broker unreachable ...").
    /// Called from the registration thread. Default: prints "zb-relay: broker: LINE" to stderr.
    using LogFunction = std::function<void(std::string_view line)>;

    /// Starts keeping `name` registered at `address`. Fails only for invalid arguments or options (nothing is
    /// sent then); a broker that is down is retried in the background (see status()).
    [[nodiscard]] static BrokerResult<Registration> start(BrokerClientOptions options, std::string name,
                                                          std::string address,
                                                          nlohmann::json info = nlohmann::json::object(),
                                                          std::chrono::milliseconds ttl = protocol::kDefaultTtl,
                                                          LogFunction log = {});

    Registration(Registration&&) noexcept;
    Registration& operator=(Registration&&) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    /// Stops the thread and sends DEREG (waits at most two request timeouts).
    ~Registration();

    [[nodiscard]] RegistrationStatus status() const;

    /// Waits until the registration is live at the broker; false after `timeout`.
    [[nodiscard]] bool wait_registered(std::chrono::milliseconds timeout) const;

private:
    struct State;
    explicit Registration(std::unique_ptr<State> state);
    void stop() noexcept;

    std::unique_ptr<State> state_;
};

} // namespace zerobuffer::relay
