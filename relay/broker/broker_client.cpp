// SPDX-License-Identifier: MIT
// Client of `zb-relay broker`: one REQ socket with a deadline per request, and the Registration keeper thread.
#include "broker_client.h"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <utility>

#include "bounded_json.h"
#include "key_files.h"
#include "zmq_handles.h"

namespace zerobuffer::relay {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Bounds what a (possibly hostile) broker can make us buffer.
constexpr std::int64_t kMaxReplyBytes = 16 * 1024 * 1024;

BrokerResult<void> set_string_option(void* socket, int option, const std::string& value, std::string_view what)
{
    if (zmq_setsockopt(socket, option, value.data(), value.size()) != 0) {
        return make_broker_error(BrokerErrc::SystemError, "cannot set " + std::string(what) +
                                                              " on the broker socket: " + detail::zmq_error_text());
    }
    return {};
}

/// Milliseconds left until `deadline`, as zmq_poll wants them (0 when past).
long remaining_ms(Clock::time_point deadline)
{
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<long>(left) : 0L;
}

/// Waits for `events` on `socket` until `deadline`; false on timeout. Retries when a signal interrupts.
BrokerResult<bool> wait_for(void* socket, short events, Clock::time_point deadline)
{
    for (;;) {
        zmq_pollitem_t item{socket, 0, events, 0};
        const int ready = zmq_poll(&item, 1, remaining_ms(deadline));
        if (ready > 0) {
            return true;
        }
        if (ready == 0) {
            return false;
        }
        if (zmq_errno() != EINTR) {
            return make_broker_error(BrokerErrc::SystemError,
                                     "zmq_poll on the broker socket failed: " + detail::zmq_error_text());
        }
        if (Clock::now() >= deadline) {
            return false;
        }
    }
}

template <typename Number>
bool read_ms(const nlohmann::json& reply, std::string_view field, Number& out)
{
    const auto it = reply.find(field);
    if (it == reply.end() || !it->is_number_integer()) {
        return false;
    }
    out = Number(it->get<std::int64_t>());
    return true;
}

/// The "owner" key of a DISC reply or LIST entry, when it is one (never trusted to be anything else).
std::string owner_of(const nlohmann::json& stream)
{
    const auto it = stream.find("owner");
    if (it == stream.end() || !it->is_string() || !is_z85_key(it->get<std::string>())) {
        return {};
    }
    return it->get<std::string>();
}

std::string name_text(std::string_view name)
{
    return "'" + std::string(name.substr(0, protocol::kMaxNameBytes)) + "'";
}

/// What the broker would refuse in a registration, found before anything is sent (or a thread is started).
BrokerResult<void> check_registration(std::string_view name, std::string_view address, milliseconds ttl,
                                      const nlohmann::json& info)
{
    if (auto problem = protocol::check_name(name)) {
        return make_broker_error(BrokerErrc::InvalidArgument, "stream name: " + *problem);
    }
    if (auto problem = protocol::check_address(address)) {
        return make_broker_error(BrokerErrc::InvalidArgument, "stream address: " + *problem);
    }
    if (auto problem = protocol::check_ttl(ttl)) {
        return make_broker_error(BrokerErrc::InvalidArgument, "registration " + *problem);
    }
    if (!info.is_object()) {
        return make_broker_error(BrokerErrc::InvalidArgument, "stream info must be a JSON object");
    }
    return {};
}

} // namespace

BrokerResult<CurveClientKeys> load_curve_client_keys(const std::string& server_public_key_file,
                                                     const std::string& client_secret_key_file)
{
    auto server = read_public_key_file(server_public_key_file);
    if (!server) {
        return tl::unexpected(server.error());
    }
    auto ours = read_secret_key_file(client_secret_key_file);
    if (!ours) {
        return tl::unexpected(ours.error());
    }
    return CurveClientKeys{std::move(*server), std::move(ours->public_key), std::move(ours->secret_key)};
}

// ---------------------------------------------------------------------------------------------------------------
// BrokerClient

struct BrokerClient::Impl {
    BrokerClientOptions options;
    detail::ContextHandle context; // declared before socket: the socket must close before the context terminates
    detail::SocketHandle socket;   // null until the first request and after a timeout

    BrokerResult<void> open_socket();
    BrokerResult<nlohmann::json> round_trip(const std::string& body);
    tl::unexpected<BrokerError> fail_and_reset(BrokerError error)
    {
        socket.reset(); // a REQ socket that lost a reply is never reused; the next request connects a fresh one
        return tl::unexpected<BrokerError>(std::move(error));
    }
};

BrokerResult<void> BrokerClient::Impl::open_socket()
{
    detail::SocketHandle fresh(zmq_socket(context.get(), ZMQ_REQ));
    if (!fresh) {
        return make_broker_error(BrokerErrc::SystemError, "cannot create a ZeroMQ socket: " + detail::zmq_error_text());
    }
    const std::int64_t max_reply = kMaxReplyBytes;
    // RELAXED + CORRELATE: a late reply to an abandoned request is recognised and dropped, never taken as ours.
    if (!detail::set_int_option(fresh.get(), ZMQ_REQ_RELAXED, 1) ||
        !detail::set_int_option(fresh.get(), ZMQ_REQ_CORRELATE, 1) ||
        !detail::set_int_option(fresh.get(), ZMQ_LINGER, 0) ||
        !detail::set_int_option(fresh.get(), ZMQ_IPV6, options.endpoint.find('[') != std::string::npos ? 1 : 0) ||
        zmq_setsockopt(fresh.get(), ZMQ_MAXMSGSIZE, &max_reply, sizeof max_reply) != 0) {
        return make_broker_error(BrokerErrc::SystemError,
                                 "cannot configure the broker socket: " + detail::zmq_error_text());
    }
    if (options.curve) {
        for (auto result : {set_string_option(fresh.get(), ZMQ_CURVE_SERVERKEY, options.curve->server_public_key,
                                              "the broker's CURVE public key"),
                            set_string_option(fresh.get(), ZMQ_CURVE_PUBLICKEY, options.curve->client_public_key,
                                              "our CURVE public key"),
                            set_string_option(fresh.get(), ZMQ_CURVE_SECRETKEY, options.curve->client_secret_key,
                                              "our CURVE secret key")}) {
            if (!result) {
                return result;
            }
        }
    }
    if (zmq_connect(fresh.get(), options.endpoint.c_str()) != 0) {
        return make_broker_error(BrokerErrc::InvalidArgument, "cannot connect to broker endpoint '" + options.endpoint +
                                                                  "': " + detail::zmq_error_text());
    }
    socket = std::move(fresh);
    return {};
}

BrokerResult<nlohmann::json> BrokerClient::Impl::round_trip(const std::string& body)
{
    if (!socket) {
        if (auto opened = open_socket(); !opened) {
            return tl::unexpected(opened.error());
        }
    }
    const Clock::time_point deadline = Clock::now() + options.timeout;
    const auto timeout_error = [&](std::string_view stage) {
        return BrokerError{BrokerErrc::Timeout,
                           "no " + std::string(stage) + " from the broker at " + options.endpoint + " within " +
                               std::to_string(options.timeout.count()) + " ms - is `zb-relay broker` running there" +
                               (options.curve ? " and does its --allowed-keys file list our public key?"
                                              : " (and started with --insecure, as we do not use CURVE)?"),
                           {}};
    };

    auto writable = wait_for(socket.get(), ZMQ_POLLOUT, deadline);
    if (!writable) {
        return fail_and_reset(writable.error());
    }
    if (!*writable || zmq_send(socket.get(), body.data(), body.size(), ZMQ_DONTWAIT) < 0) {
        if (*writable && zmq_errno() != EAGAIN) {
            return fail_and_reset(
                {BrokerErrc::SystemError, "cannot send to the broker: " + detail::zmq_error_text(), {}});
        }
        return fail_and_reset(timeout_error("connection"));
    }
    auto readable = wait_for(socket.get(), ZMQ_POLLIN, deadline);
    if (!readable) {
        return fail_and_reset(readable.error());
    }
    if (!*readable) {
        return fail_and_reset(timeout_error("reply"));
    }
    detail::Message reply;
    if (zmq_msg_recv(reply.get(), socket.get(), ZMQ_DONTWAIT) < 0) {
        return fail_and_reset(
            {BrokerErrc::SystemError, "cannot receive from the broker: " + detail::zmq_error_text(), {}});
    }
    if (reply.more()) {
        return fail_and_reset(
            {BrokerErrc::ProtocolError,
             "the broker at " + options.endpoint + " sent a multipart reply; is it a zb-relay broker?",
             {}});
    }
    // A hostile broker must not crash us either: replies are parsed with the limits the broker applies to requests.
    auto parsed = parse_json_with_limits(reply.view(), {protocol::kMaxJsonDepth, protocol::kMaxReplyValues});
    if (!parsed) {
        return tl::unexpected(BrokerError{BrokerErrc::ProtocolError,
                                          "the reply of " + options.endpoint + " is refused: it " +
                                              parsed.error().message + "; is it a zb-relay broker?",
                                          {}});
    }
    if (!parsed->is_object() || !parsed->contains("ok") || !(*parsed)["ok"].is_boolean()) {
        return tl::unexpected(BrokerError{BrokerErrc::ProtocolError,
                                          "the reply of " + options.endpoint +
                                              " is not a JSON object with \"ok\"; is it a zb-relay broker?",
                                          {}});
    }
    return std::move(*parsed);
}

BrokerResult<BrokerClient> BrokerClient::connect(BrokerClientOptions options)
{
    if (auto problem = protocol::check_address(options.endpoint)) {
        return make_broker_error(BrokerErrc::InvalidArgument, "broker endpoint: " + *problem);
    }
    if (options.timeout <= milliseconds::zero()) {
        return make_broker_error(BrokerErrc::InvalidArgument, "broker timeout must be positive");
    }
    if (options.curve) {
        for (const std::string* key : {&options.curve->server_public_key, &options.curve->client_public_key,
                                       &options.curve->client_secret_key}) {
            if (!is_z85_key(*key)) {
                return make_broker_error(BrokerErrc::KeyFile, "a CURVE key for the broker is not 40-character Z85");
            }
        }
    }
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    impl->context.reset(zmq_ctx_new());
    if (!impl->context) {
        return make_broker_error(BrokerErrc::SystemError,
                                 "cannot create a ZeroMQ context: " + detail::zmq_error_text());
    }
    return BrokerClient(std::move(impl));
}

BrokerClient::BrokerClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BrokerClient::BrokerClient(BrokerClient&&) noexcept = default;
BrokerClient& BrokerClient::operator=(BrokerClient&&) noexcept = default;
BrokerClient::~BrokerClient() = default;

const BrokerClientOptions& BrokerClient::options() const noexcept
{
    return impl_->options;
}

BrokerResult<nlohmann::json> BrokerClient::request(const nlohmann::json& body)
{
    return impl_->round_trip(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

BrokerResult<nlohmann::json> BrokerClient::checked_request(const nlohmann::json& body)
{
    auto reply = request(body);
    if (!reply || (*reply)["ok"].get<bool>()) {
        return reply;
    }
    const auto code_it = reply->find("error");
    const auto message_it = reply->find("message");
    const std::string code = code_it != reply->end() && code_it->is_string() ? code_it->get<std::string>() : "";
    const std::string message =
        message_it != reply->end() && message_it->is_string() ? message_it->get<std::string>() : "(no message)";
    const std::string type = body.value("type", std::string("request"));
    return make_broker_error(code == protocol::errors::kNotFound ? BrokerErrc::NotFound : BrokerErrc::Refused,
                             "broker refused " + type + ": " + message + " (" + code + ")", code);
}

BrokerResult<RegisterReply> BrokerClient::register_stream(std::string_view name, std::string_view address,
                                                          const nlohmann::json& info, milliseconds ttl)
{
    if (auto valid = check_registration(name, address, ttl, info); !valid) {
        return tl::unexpected(valid.error());
    }
    const nlohmann::json body = {{"type", protocol::kReg},
                                 {"name", name},
                                 {"address", address},
                                 {"ttl", static_cast<double>(ttl.count()) / 1000.0},
                                 {"info", info}};
    auto reply = checked_request(body);
    if (!reply) {
        return tl::unexpected(reply.error());
    }
    const auto address_it = reply->find("address");
    const auto created_it = reply->find("created");
    if (address_it == reply->end() || !address_it->is_string() || created_it == reply->end() ||
        !created_it->is_boolean()) {
        return make_broker_error(BrokerErrc::ProtocolError, "the broker's REG reply lacks \"address\" or \"created\"");
    }
    return RegisterReply{address_it->get<std::string>(), created_it->get<bool>()};
}

BrokerResult<void> BrokerClient::deregister_stream(std::string_view name, std::string_view address)
{
    if (auto problem = protocol::check_name(name)) {
        return make_broker_error(BrokerErrc::InvalidArgument, "stream name: " + *problem);
    }
    nlohmann::json body = {{"type", protocol::kDereg}, {"name", name}};
    if (!address.empty()) {
        body["address"] = address;
    }
    auto reply = checked_request(body);
    if (!reply) {
        return tl::unexpected(reply.error());
    }
    return {};
}

BrokerResult<StreamLocation> BrokerClient::discover(std::string_view name)
{
    if (auto problem = protocol::check_name(name)) {
        return make_broker_error(BrokerErrc::InvalidArgument, "stream name: " + *problem);
    }
    auto reply = checked_request({{"type", protocol::kDisc}, {"name", name}});
    if (!reply) {
        return tl::unexpected(reply.error());
    }
    StreamLocation location;
    location.name = std::string(name);
    const auto address_it = reply->find("address");
    if (address_it == reply->end() || !address_it->is_string() ||
        protocol::check_address(address_it->get_ref<const std::string&>())) {
        return make_broker_error(BrokerErrc::ProtocolError,
                                 "the broker's DISC reply for " + name_text(name) + " has no valid \"address\"");
    }
    location.address = address_it->get<std::string>();
    const auto info_it = reply->find("info");
    location.info = info_it != reply->end() && info_it->is_object() ? *info_it : nlohmann::json::object();
    location.owner = owner_of(*reply);
    if (!read_ms(*reply, "age_ms", location.age) || !read_ms(*reply, "ttl_ms", location.ttl)) {
        return make_broker_error(BrokerErrc::ProtocolError, "the broker's DISC reply lacks \"age_ms\" or \"ttl_ms\"");
    }
    return location;
}

BrokerResult<std::vector<StreamLocation>> BrokerClient::list()
{
    auto reply = checked_request({{"type", protocol::kList}});
    if (!reply) {
        return tl::unexpected(reply.error());
    }
    const auto streams_it = reply->find("streams");
    if (streams_it == reply->end() || !streams_it->is_array()) {
        return make_broker_error(BrokerErrc::ProtocolError, "the broker's LIST reply lacks \"streams\"");
    }
    std::vector<StreamLocation> locations;
    for (const nlohmann::json& stream : *streams_it) {
        StreamLocation location;
        if (!stream.is_object() || !stream.contains("name") || !stream["name"].is_string() ||
            !stream.contains("address") || !stream["address"].is_string() || !read_ms(stream, "age_ms", location.age) ||
            !read_ms(stream, "ttl_ms", location.ttl)) {
            return make_broker_error(BrokerErrc::ProtocolError, "the broker's LIST reply holds a malformed entry");
        }
        location.name = stream["name"].get<std::string>();
        location.address = stream["address"].get<std::string>();
        location.owner = owner_of(stream);
        location.info = nlohmann::json::object();
        locations.push_back(std::move(location));
    }
    return locations;
}

// ---------------------------------------------------------------------------------------------------------------
// Registration

struct Registration::State {
    BrokerClientOptions options;
    std::string name;
    std::string address;
    nlohmann::json info;
    milliseconds ttl{};
    LogFunction log;

    mutable std::mutex mutex; // guards everything below
    mutable std::condition_variable changed;
    bool stop_requested = false;
    RegistrationStatus status;

    std::thread thread; // started last, joined by Registration::stop()

    void run();
    void log_line(const std::string& line) const { log(line); }
};

void Registration::State::run()
{
    const milliseconds refresh_interval = ttl / 3;
    const milliseconds retry_interval = std::min(refresh_interval, milliseconds(1000));
    const std::string who = name_text(name) + " (" + address + ") with broker " + options.endpoint;
    auto client = BrokerClient::connect(options); // checked in start(): cannot fail here but for resources
    bool registered = false;
    std::unique_lock lock(mutex);
    while (!stop_requested) {
        lock.unlock();
        BrokerResult<RegisterReply> result =
            client ? client->register_stream(name, address, info, ttl) : tl::unexpected(client.error());
        lock.lock();
        std::string line; // logged after unlocking: the callback may call status()
        if (result) {
            if (!registered) {
                line = (status.refreshes == 0 ? "registered " : "registered again ") + who;
            } else if (result->created) {
                line = "re-registered " + who + ": the broker had lost it (restart or expiry)";
            }
            if (result->created && status.refreshes > 0) {
                ++status.re_registrations;
            }
            registered = true;
            ++status.refreshes;
            status.registered = true;
            status.address = result->address;
        } else {
            if (registered || status.failures == 0) {
                line = "cannot register " + who + ": " + result.error().message + "; retrying every " +
                       std::to_string(retry_interval.count()) + " ms";
            }
            registered = false;
            ++status.failures;
            status.registered = false;
            status.last_error = result.error();
        }
        changed.notify_all();
        if (!line.empty()) {
            lock.unlock();
            log_line(line);
            lock.lock();
        }
        changed.wait_for(lock, registered ? refresh_interval : retry_interval, [this] { return stop_requested; });
    }
    lock.unlock();
    if (registered && client) {
        if (auto done = client->deregister_stream(name, address); done) {
            log_line("deregistered " + who);
        } else {
            log_line("cannot deregister " + who + ": " + done.error().message + " (it expires by itself)");
        }
    }
    lock.lock();
    status.registered = false;
    changed.notify_all();
}

BrokerResult<Registration> Registration::start(BrokerClientOptions options, std::string name, std::string address,
                                               nlohmann::json info, milliseconds ttl, LogFunction log)
{
    if (auto valid = check_registration(name, address, ttl, info); !valid) {
        return tl::unexpected(valid.error());
    }
    if (auto probe = BrokerClient::connect(options); !probe) {
        return tl::unexpected(probe.error());
    }
    auto state = std::make_unique<State>();
    state->options = std::move(options);
    state->name = std::move(name);
    state->address = std::move(address);
    state->info = std::move(info);
    state->ttl = ttl;
    state->log = log ? std::move(log) : [](std::string_view line) {
        std::fprintf(stderr, "zb-relay: broker: %.*s\n", static_cast<int>(line.size()), line.data());
    };
    State* raw = state.get();
    state->thread = std::thread([raw] { raw->run(); });
    return Registration(std::move(state));
}

Registration::Registration(std::unique_ptr<State> state) : state_(std::move(state)) {}
Registration::Registration(Registration&&) noexcept = default;

Registration& Registration::operator=(Registration&& other) noexcept
{
    if (this != &other) {
        stop();
        state_ = std::move(other.state_);
    }
    return *this;
}

Registration::~Registration()
{
    stop();
}

void Registration::stop() noexcept
{
    if (!state_ || !state_->thread.joinable()) {
        return;
    }
    {
        const std::lock_guard lock(state_->mutex);
        state_->stop_requested = true;
    }
    state_->changed.notify_all();
    state_->thread.join();
}

RegistrationStatus Registration::status() const
{
    const std::lock_guard lock(state_->mutex);
    return state_->status;
}

bool Registration::wait_registered(milliseconds timeout) const
{
    std::unique_lock lock(state_->mutex);
    return state_->changed.wait_for(lock, timeout, [this] { return state_->status.registered; });
}

} // namespace zerobuffer::relay
