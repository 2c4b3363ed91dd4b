// SPDX-License-Identifier: MIT
// `zb-relay broker`: the stream registry served over a ZeroMQ ROUTER socket, hardened against hostile requests.
#include "broker.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>
#include <sys/signalfd.h>
#include <unistd.h>

#include "broker_options.h"
#include "broker_protocol.h"
#include "connection_guard.h"
#include "key_files.h"
#include "log_budget.h"
#include "registry.h"
#include "zap.h"
#include "zmq_handles.h"

namespace zerobuffer::relay {

namespace {

namespace errors = protocol::errors;
using detail::Clock;
using detail::print_broker_error;
using std::chrono::milliseconds;

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

/// Frames kept of one multipart request; the rest of a longer one is read and thrown away.
constexpr std::size_t kMaxFrames = 8;
/// Messages handled per wake-up before expiry and signals are looked at again.
constexpr int kBatch = 256;
/// Replies queued per client that does not read them; beyond this its replies are dropped (and counted).
constexpr int kSendHighWater = 16;
/// Requests queued per client (complete ones; what a client can make libzmq hold is bounded by the guard).
constexpr int kReceiveHighWater = 64;
/// What one client connection may make libzmq hold beyond the requests the broker read (an unfinished multipart
/// message, or requests not read yet), in units of --max-request-bytes: two frames of the largest size libzmq
/// accepts (ZMQ_MAXMSGSIZE is 4 units, so that a too_large request is read and answered).
constexpr std::size_t kHeldRequestBytesFactor = 8;
/// A connection that has not completed its ZMTP (or CURVE) handshake after this long is dropped.
constexpr int kHandshakeMillis = 5000;
/// Log lines per second before the rest is counted and summarised (a hostile flood must not flood stderr).
constexpr int kLogLinesPerSecond = 20;

void print_line(const std::string& line)
{
    std::fprintf(stderr, "zb-relay broker: %s\n", line.c_str());
}

/// Counters for the status line.
struct BrokerCounters {
    std::uint64_t requests = 0;
    std::uint64_t refused = 0;
    std::uint64_t replies_dropped = 0;
    std::uint64_t clients_refused = 0; ///< CURVE handshakes with a key not in --allowed-keys.
    std::map<std::string, std::uint64_t, std::less<>> refused_by_code;
};

/// Blocks SIGINT and SIGTERM (before libzmq starts its threads, so they inherit the mask) and reads them from an
/// fd that zmq_poll watches: no signal handler, no global flag.
class SignalFd {
public:
    SignalFd()
    {
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &signals, &previous_);
        fd_ = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    }
    SignalFd(const SignalFd&) = delete;
    SignalFd& operator=(const SignalFd&) = delete;
    ~SignalFd()
    {
        if (fd_ >= 0) {
            close(fd_);
        }
        pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    /// The signal that arrived, 0 if none.
    [[nodiscard]] int take() const noexcept
    {
        signalfd_siginfo info{};
        return read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info) ? static_cast<int>(info.ssi_signo)
                                                                                  : 0;
    }

private:
    int fd_ = -1;
    sigset_t previous_{};
};

class Broker {
public:
    explicit Broker(detail::BrokerOptions options)
        : options_(std::move(options)), registry_({options_.default_ttl, options_.max_streams})
    {
    }

    /// Binds and serves until a signal arrives. Returns the exit code.
    int run();

private:
    bool set_up(std::string& failure);
    void serve_requests(Clock::time_point now);
    void serve_one(Clock::time_point now);
    void answer_zap(Clock::time_point now);
    void send_reply(std::vector<detail::Message>& envelope, const nlohmann::json& body, Clock::time_point now);
    void count_refusal(const std::string& code);
    void print_status() const;

    detail::BrokerOptions options_;
    detail::Registry registry_;
    BrokerCounters counters_;
    LogBudget log_{kLogLinesPerSecond, std::chrono::seconds(1), "log lines", print_line};
    AllowedCurveKeys allowed_keys_; // raw 32-byte CURVE public keys
    SignalFd signals_;              // created before the context: libzmq threads inherit the mask
    detail::ContextHandle context_;
    detail::SocketHandle router_;
    std::unique_ptr<ConnectionGuard> guard_; // bounds connections and what each may make libzmq hold
    detail::SocketHandle zap_;               // the ZAP handler that vets CURVE clients, when CURVE is on
};

bool Broker::set_up(std::string& failure)
{
    if (signals_.fd() < 0) {
        failure = std::string("cannot watch SIGINT/SIGTERM: ") + std::strerror(errno);
        return false;
    }
    CurveKeyPair server_keys;
    if (!options_.curve_secret_file.empty()) {
        auto keys = read_secret_key_file(options_.curve_secret_file);
        if (!keys) {
            failure = keys.error().message;
            return false;
        }
        server_keys = std::move(*keys);
        auto allowed = read_allowed_keys_file(options_.allowed_keys_file);
        if (!allowed) {
            failure = allowed.error().message;
            return false;
        }
        allowed_keys_.insert(allowed->begin(), allowed->end());
    }
    context_.reset(zmq_ctx_new());
    if (!context_) {
        failure = "cannot create a ZeroMQ context: " + detail::zmq_error_text();
        return false;
    }
    if (!server_keys.secret_key.empty()) {
        // The ZAP handler must be bound before any client connects, or libzmq lets CURVE clients in unvetted.
        zap_.reset(zmq_socket(context_.get(), ZMQ_REP));
        if (!zap_ || zmq_bind(zap_.get(), kZapEndpoint) != 0) {
            failure = "cannot start the CURVE authentication handler: " + detail::zmq_error_text();
            return false;
        }
    }
    router_.reset(zmq_socket(context_.get(), ZMQ_ROUTER));
    if (!router_) {
        failure = "cannot create the ROUTER socket: " + detail::zmq_error_text();
        return false;
    }
    // First line of defence: libzmq drops the connection of a peer that sends a frame above this, before the
    // broker sees it. Between --max-request-bytes and this cap the request is answered with "too_large".
    const auto hard_cap = static_cast<std::int64_t>(options_.max_request_bytes * 4);
    const bool configured =
        zmq_setsockopt(router_.get(), ZMQ_MAXMSGSIZE, &hard_cap, sizeof hard_cap) == 0 &&
        detail::set_int_option(router_.get(), ZMQ_ROUTER_MANDATORY, 1) && // full or gone peer: EAGAIN, counted
        detail::set_int_option(router_.get(), ZMQ_SNDHWM, kSendHighWater) &&
        detail::set_int_option(router_.get(), ZMQ_RCVHWM, kReceiveHighWater) &&
        detail::set_int_option(router_.get(), ZMQ_LINGER, 0) &&
        detail::set_int_option(router_.get(), ZMQ_HANDSHAKE_IVL, kHandshakeMillis) && // a slow handshake holds a slot
        // An IPv6 bind (tcp://[::]:5550) needs ZMQ_IPV6; it then also accepts IPv4 clients.
        detail::set_int_option(router_.get(), ZMQ_IPV6, options_.bind.find('[') != std::string::npos ? 1 : 0);
    if (!configured) {
        failure = "cannot configure the ROUTER socket: " + detail::zmq_error_text();
        return false;
    }
    if (!server_keys.secret_key.empty()) {
        if (!detail::set_int_option(router_.get(), ZMQ_CURVE_SERVER, 1) ||
            zmq_setsockopt(router_.get(), ZMQ_CURVE_SECRETKEY, server_keys.secret_key.data(),
                           server_keys.secret_key.size()) != 0) {
            failure = "cannot enable CURVE: " + detail::zmq_error_text() + " (libzmq needs libsodium support)";
            return false;
        }
    }
    // Before bind, so that it sees every connection.
    ConnectionGuard::Limits limits{options_.max_clients, kHeldRequestBytesFactor * options_.max_request_bytes,
                                   !server_keys.secret_key.empty(),
                                   "--max-clients " + std::to_string(options_.max_clients)};
    auto guard = ConnectionGuard::start(context_.get(), router_.get(), std::move(limits), 0, "broker", print_line);
    if (!guard) {
        failure = guard.error().message;
        return false;
    }
    guard_ = std::move(*guard);
    if (zmq_bind(router_.get(), options_.bind.c_str()) != 0) {
        failure = "cannot bind " + options_.bind + ": " + detail::zmq_error_text() +
                  " - is another broker running there, or is the address wrong?";
        return false;
    }
    std::array<char, 512> endpoint{};
    std::size_t endpoint_size = endpoint.size();
    zmq_getsockopt(router_.get(), ZMQ_LAST_ENDPOINT, endpoint.data(), &endpoint_size);
    std::string security = "plain, no authentication (--insecure)";
    if (!server_keys.secret_key.empty()) {
        security = "CURVE, server public key " + server_keys.public_key + ", " + std::to_string(allowed_keys_.size()) +
                   " allowed client keys";
    } else if (!options_.bind.starts_with("tcp://")) {
        security = "plain (local endpoint)";
    }
    print_line("listening on " + std::string(endpoint.data()) + " (" + security + "); default ttl " +
               std::to_string(options_.default_ttl.count()) + " ms, max request " +
               std::to_string(options_.max_request_bytes) + " bytes, max streams " +
               std::to_string(options_.max_streams) + ", max clients " + std::to_string(options_.max_clients) +
               " holding at most " + std::to_string(kHeldRequestBytesFactor * options_.max_request_bytes) +
               " bytes each");
    return true;
}

int Broker::run()
{
    std::string failure;
    if (!set_up(failure)) {
        print_broker_error(failure);
        return kExitRuntime;
    }
    Clock::time_point next_status = Clock::now() + options_.status_interval;
    for (;;) {
        const Clock::time_point now = Clock::now();
        log_.flush(now);
        for (const std::string& line : registry_.expire(now)) {
            log_.line(line, now);
        }
        if (options_.status_interval.count() > 0 && now >= next_status) {
            print_status();
            next_status = now + options_.status_interval;
        }
        // Sleep until a request, a signal, the next expiry or the next status line, at most a second.
        Clock::time_point wake = now + std::chrono::seconds(1);
        if (const auto expiry = registry_.next_expiry(); expiry && *expiry < wake) {
            wake = *expiry + milliseconds(1);
        }
        const auto timeout = std::max<std::int64_t>(0, std::chrono::duration_cast<milliseconds>(wake - now).count());
        std::array<zmq_pollitem_t, 3> items{{{router_.get(), 0, ZMQ_POLLIN, 0},
                                             {nullptr, signals_.fd(), ZMQ_POLLIN, 0},
                                             {zap_.get(), 0, ZMQ_POLLIN, 0}}};
        const int item_count = zap_ ? 3 : 2;
        if (zmq_poll(items.data(), item_count, static_cast<long>(timeout)) < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            print_broker_error("zmq_poll failed: " + detail::zmq_error_text());
            return kExitRuntime;
        }
        if ((items[1].revents & ZMQ_POLLIN) != 0) {
            const int signal = signals_.take();
            print_line(std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
            print_status();
            return kExitOk;
        }
        const Clock::time_point served_at = Clock::now();
        if (zap_ && (items[2].revents & ZMQ_POLLIN) != 0) {
            answer_zap(served_at);
        }
        if ((items[0].revents & ZMQ_POLLIN) != 0) {
            serve_requests(served_at);
        }
    }
}

void Broker::serve_requests(Clock::time_point now)
{
    for (int i = 0; i < kBatch; ++i) {
        int events = 0;
        std::size_t size = sizeof events;
        if (zmq_getsockopt(router_.get(), ZMQ_EVENTS, &events, &size) != 0 || (events & ZMQ_POLLIN) == 0) {
            return;
        }
        serve_one(now);
    }
}

void Broker::serve_one(Clock::time_point now)
{
    // Read the whole multipart message, keeping at most kMaxFrames frames.
    std::vector<detail::Message> frames;
    std::size_t total_frames = 0;
    std::uint64_t wire_bytes = 0; // of every frame but the routing id, for the connection guard
    for (;;) {
        detail::Message frame;
        if (zmq_msg_recv(frame.get(), router_.get(), ZMQ_DONTWAIT) < 0) {
            if (total_frames == 0) {
                return; // nothing there after all
            }
            break; // cannot happen mid-message (libzmq delivers multipart messages whole); keep what we have
        }
        ++total_frames;
        if (total_frames > 1) {
            wire_bytes += guard_->wire_size(frame.size());
        }
        const bool more = frame.more();
        if (frames.size() < kMaxFrames) {
            frames.push_back(std::move(frame));
        }
        if (!more) {
            break;
        }
    }
    if (frames.size() >= 2 && !guard_->received(frames[1].get(), wire_bytes)) {
        return; // from a connection past --max-clients that the guard is refusing: it gets no answer
    }
    ++counters_.requests;

    // frames[0] is the routing id ROUTER added. A REQ client puts an empty delimiter frame before the body
    // (REQ_CORRELATE adds a request id before it); a DEALER may send the body right after the id.
    std::size_t body_start = 1;
    for (std::size_t i = 1; i < frames.size(); ++i) {
        if (frames[i].size() == 0) {
            body_start = i + 1;
            break;
        }
    }
    std::vector<detail::Message> envelope;
    for (std::size_t i = 0; i < body_start && i < frames.size(); ++i) {
        envelope.push_back(std::move(frames[i]));
    }
    const std::size_t body_frames = total_frames - std::min(body_start, total_frames);
    detail::Reply reply;
    if (body_frames != 1 || body_start >= frames.size()) { // the body may lie beyond the frames kept
        reply = detail::error_reply(errors::kBadEnvelope, "request must be exactly one frame after the envelope, got " +
                                                              std::to_string(body_frames) +
                                                              " (send one JSON object per request)");
    } else if (frames[body_start].size() > options_.max_request_bytes) {
        reply = detail::error_reply(errors::kTooLarge, "request is " + std::to_string(frames[body_start].size()) +
                                                           " bytes, the broker's limit is " +
                                                           std::to_string(options_.max_request_bytes) +
                                                           " (--max-request-bytes)");
    } else {
        detail::Message& body = frames[body_start];
        // Under CURVE the ZAP handler made the client's key its user id: the registry ties names to it.
        const char* peer = zmq_msg_gets(body.get(), "Peer-Address");
        const char* key = zmq_msg_gets(body.get(), "User-Id");
        reply = registry_.handle(body.view(),
                                 {peer != nullptr ? std::string_view(peer) : std::string_view{},
                                  key != nullptr ? std::string_view(key) : std::string_view{}},
                                 now);
    }
    for (const std::string& line : reply.expired) {
        log_.line(line, now);
    }
    if (!reply.error_code.empty()) {
        count_refusal(reply.error_code);
        if (!reply.log_line.empty()) {
            log_.line("refused a request (" + reply.error_code + "): " + reply.log_line, now);
        }
    } else if (!reply.log_line.empty()) {
        log_.line(reply.log_line, now);
    }
    send_reply(envelope, reply.body, now);
}

void Broker::send_reply(std::vector<detail::Message>& envelope, const nlohmann::json& body, Clock::time_point now)
{
    const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (detail::Message& frame : envelope) {
        // Never block: a client that does not read its replies gets them dropped, the others are served.
        if (zmq_msg_send(frame.get(), router_.get(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            ++counters_.replies_dropped;
            log_.line("dropped a reply: the client " +
                          std::string(zmq_errno() == EAGAIN ? "does not read its replies" : "is gone") + " (" +
                          detail::zmq_error_text() + ")",
                      now);
            return;
        }
    }
    detail::Message reply(text);
    if (zmq_msg_send(reply.get(), router_.get(), ZMQ_DONTWAIT) < 0) {
        ++counters_.replies_dropped;
    }
}

void Broker::answer_zap(Clock::time_point now)
{
    const auto decision = answer_zap_request(zap_.get(), allowed_keys_);
    if (!decision || decision->allowed) {
        return;
    }
    ++counters_.clients_refused;
    log_.line("refused a client from " + decision->address + ": its CURVE key " +
                  (decision->client_key.empty() ? std::string("(none)") : decision->client_key) +
                  " is not in --allowed-keys",
              now);
}

void Broker::count_refusal(const std::string& code)
{
    ++counters_.refused;
    ++counters_.refused_by_code[code];
}

void Broker::print_status() const
{
    std::string by_code;
    for (const auto& [code, count] : counters_.refused_by_code) {
        by_code += (by_code.empty() ? "" : ", ") + code + " " + std::to_string(count);
    }
    print_line("status: " + std::to_string(registry_.size()) + " streams, " + std::to_string(counters_.requests) +
               " requests, " + std::to_string(counters_.refused) + " refused" +
               (by_code.empty() ? "" : " (" + by_code + ")") + ", " + std::to_string(counters_.replies_dropped) +
               " replies dropped, " + std::to_string(counters_.clients_refused) + " clients refused by CURVE, " +
               std::to_string(guard_ ? guard_->refused() : 0) + " connections refused (--max-clients), " +
               std::to_string(guard_ ? guard_->dropped() : 0) + " dropped for holding too much");
}

} // namespace

int broker_main(detail::BrokerOptions options)
{
    if (auto why = detail::refusal(options)) {
        print_broker_error(*why);
        return kExitUsage;
    }
    Broker broker(std::move(options));
    return broker.run();
}

} // namespace zerobuffer::relay
