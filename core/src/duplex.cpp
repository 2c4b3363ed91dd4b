// SPDX-License-Identifier: MIT
// The request/response channel (duplex.h): two rings, written and read through the public Writer/Reader API only.
//
// Why this is correct (docs/duplex.md has the whole protocol):
// - No request is lost at connect: the client waits until the server's lossless reader is attached to
//   "NAME.req" before it returns from connect(), and a lossless reader sees every frame committed after it
//   attached. The client attaches to "NAME.resp" before that, so it sees every response to its requests.
// - Matching: the client numbers its requests 0, 1, 2, ... in FrameInfo::offset; the server reads them losslessly,
//   so it sees them in that order (checked), and echoes the number in each response's offset. Each side keeps the
//   set of numbers awaiting an answer, so a duplicate or unknown number is refused, never delivered.
// - Liveness comes from the rings: a side waiting in a reader gets WriterGone within two liveness intervals of the
//   other's death (the core's bound); a side that only writes looks at the other's ring lock at most once per
//   liveness interval before it sends.
// - A dead client leaves "NAME.req" behind (a dead writer cannot unlink); the server removes it once it has
//   detached, unless a new client has taken the name over (remove_stale_ring refuses live rings). It detaches only
//   when no request of that client is held any more, since a Frame must not outlive its Reader: requests received
//   before the client went stay readable until released.
#include <zerobuffer/duplex.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <zerobuffer/inspect.h>

namespace zerobuffer {
namespace {

using Clock = std::chrono::steady_clock;

/// Polling step while the other side's ring does not exist yet (no futex to sleep on before it does).
constexpr std::chrono::milliseconds kAttachPoll{5};
/// Channel names leave room for the longest suffix within the core's 200-character ring names.
constexpr std::size_t kMaxChannelName = 195;

std::chrono::nanoseconds left_until(Clock::time_point deadline) noexcept
{
    return std::max<std::chrono::nanoseconds>(deadline - Clock::now(), std::chrono::nanoseconds(0));
}

Clock::time_point deadline_after(std::chrono::nanoseconds timeout) noexcept
{
    const auto now = Clock::now();
    // Saturate: "wait forever" callers pass nanoseconds::max().
    if (timeout >= Clock::time_point::max() - now)
        return Clock::time_point::max();
    return now + std::chrono::duration_cast<Clock::duration>(timeout);
}

Result<void> check_channel_name(std::string_view channel)
{
    if (channel.empty() || channel.size() > kMaxChannelName)
        return make_error(Errc::InvalidArgument, "channel name '" + std::string(channel) + "' must be 1 to " +
                                                     std::to_string(kMaxChannelName) + " characters of [A-Za-z0-9._-]");
    return {};
}

WriterOptions writer_options(const DuplexOptions& options)
{
    WriterOptions writer;
    writer.ring_size = options.ring_size;
    writer.max_frames = options.max_frames;
    writer.max_outstanding = options.max_outstanding;
    writer.metadata_capacity = options.metadata_capacity;
    writer.permissions = options.permissions;
    writer.reader_timeout = options.full_timeout;
    // The peer, plus room for a peer that reconnects before its dead predecessor's slot is reclaimed.
    writer.max_readers = 4;
    return writer;
}

ReaderOptions reader_options(const DuplexOptions& options)
{
    ReaderOptions reader;
    reader.policy = ReaderPolicy::Lossless;
    reader.start_at = StartAt::NextFrame;
    reader.max_held = options.max_held;
    reader.liveness_interval = options.liveness_interval;
    // A request or response is due when the other side has worked, not on a clock; and the cadence wait sleeps
    // until the predicted frame even past a shorter timeout, which receive(timeout) must keep.
    reader.wait_mode = WaitMode::Sleep;
    return reader;
}

/// The caller's keep_waiting said no: connect gives up (DuplexClient::connect).
Error interrupted(const std::string& channel)
{
    return Error{Errc::Timeout, "connecting to channel '" + channel + "' was interrupted", 0};
}

/// Attaches to `ring` once its writer lives, polling until `deadline`. A ring whose writer is dead (left by a
/// crashed peer) is removed and waited past. NotFound when the deadline passes; InvalidState when `keep_waiting`
/// (called at every poll, if given) returns false.
Result<Reader> attach_live(const std::string& ring, const ReaderOptions& options, Clock::time_point deadline,
                           const std::function<bool()>& keep_waiting = {})
{
    while (true) {
        auto reader = Reader::attach(ring, options);
        if (reader && reader->writer_alive())
            return reader;
        if (reader) {
            reader = make_error(Errc::NotFound, "stale ring"); // Detaches from the dead writer's ring first.
            (void)remove_stale_ring(ring); // Busy if someone else still holds it: then it is not ours to remove.
        } else if (reader.error().code != Errc::NotFound) {
            return reader;
        }
        if (Clock::now() >= deadline)
            return make_error(Errc::NotFound, "ring '" + ring + "' has no live writer");
        if (keep_waiting && !keep_waiting())
            return make_error(Errc::InvalidState, "waiting for ring '" + ring + "' was interrupted");
        std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(kAttachPoll, left_until(deadline)));
    }
}

/// Throttles looks at the other side's lock to one per liveness interval.
class LivenessGate {
public:
    explicit LivenessGate(std::chrono::milliseconds interval) : interval_(interval) {}
    /// True when it is time to look again.
    bool due() noexcept
    {
        const auto now = Clock::now();
        if (now - last_ < interval_)
            return false;
        last_ = now;
        return true;
    }

private:
    std::chrono::milliseconds interval_;
    Clock::time_point last_{};
};

} // namespace

std::string duplex_request_ring(std::string_view channel)
{
    return std::string(channel) + ".req";
}

std::string duplex_response_ring(std::string_view channel)
{
    return std::string(channel) + ".resp";
}

// ---------------------------------------------------------------------------------------------------------------
// Client

struct DuplexClient::State {
    State(std::string name, DuplexOptions opts, Writer writer, Reader reader)
        : channel(std::move(name)), options(opts), requests(std::move(writer)), responses(std::move(reader)),
          server_check(opts.liveness_interval)
    {
    }
    std::string channel;
    DuplexOptions options;
    Writer requests;
    Reader responses;
    LivenessGate server_check;
    std::uint64_t next_sequence = 0;
    std::set<std::uint64_t> pending;          ///< Sent, no response received yet.
    std::map<std::uint64_t, Frame> kept;      ///< Responses received by receive_for() for other requests.
    std::optional<Error> server_gone;         ///< Set once the server is known to be gone.

    Error gone_error() const
    {
        return *server_gone;
    }

    Result<void> check_server()
    {
        if (server_gone)
            return tl::unexpected(gone_error());
        if (server_check.due() && !responses.writer_alive())
            server_gone = Error{Errc::WriterGone,
                                "the server of channel '" + channel + "' is gone (it died or closed): " +
                                    std::to_string(pending.size()) + " request(s) unanswered; connect again once a "
                                                                     "server runs",
                                0};
        if (server_gone)
            return tl::unexpected(gone_error());
        return {};
    }

    /// One response from the ring, validated against the pending set.
    Result<DuplexMessage> next_response(Clock::time_point deadline)
    {
        if (server_gone)
            return tl::unexpected(gone_error());
        auto frame = responses.acquire(left_until(deadline));
        if (!frame) {
            if (frame.error().code == Errc::WriterGone) {
                server_gone = Error{Errc::WriterGone,
                                    "the server of channel '" + channel + "' is gone (" + frame.error().message + "): " +
                                        std::to_string(pending.size()) + " request(s) unanswered",
                                    0};
                return tl::unexpected(gone_error());
            }
            if (frame.error().code == Errc::Timeout)
                return make_error(Errc::Timeout, "no response on channel '" + channel + "' within the timeout (" +
                                                     std::to_string(pending.size()) + " request(s) pending)");
            return tl::unexpected(std::move(frame.error()));
        }
        const std::uint64_t sequence = frame->info().offset;
        if (pending.erase(sequence) == 0)
            return make_error(Errc::CorruptSegment, "the server of channel '" + channel +
                                                        "' answered request " + std::to_string(sequence) +
                                                        ", which is not awaiting a response: the server is broken");
        return DuplexMessage{std::move(*frame), sequence};
    }
};

DuplexClient::DuplexClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
DuplexClient::DuplexClient(DuplexClient&&) noexcept = default;
DuplexClient& DuplexClient::operator=(DuplexClient&&) noexcept = default;
DuplexClient::~DuplexClient() = default;

Result<DuplexClient> DuplexClient::connect(std::string_view channel, const DuplexOptions& options,
                                           std::chrono::nanoseconds timeout, const std::function<bool()>& keep_waiting)
{
    if (auto valid = check_channel_name(channel); !valid)
        return tl::unexpected(std::move(valid.error()));
    const auto deadline = deadline_after(timeout);
    const std::string name(channel);
    auto writer = Writer::create(duplex_request_ring(name), writer_options(options));
    if (!writer) {
        if (writer.error().code == Errc::Busy)
            return make_error(Errc::Busy, "channel '" + name + "' already has a live client (" + writer.error().message +
                                              "): one client per channel");
        return tl::unexpected(std::move(writer.error()));
    }
    auto reader = attach_live(duplex_response_ring(name), reader_options(options), deadline, keep_waiting);
    if (!reader) {
        if (reader.error().code == Errc::InvalidState)
            return tl::unexpected(interrupted(name));
        if (reader.error().code == Errc::NotFound)
            return make_error(Errc::Timeout, "no server for channel '" + name +
                                                 "' within the timeout: start the server first (it creates '" +
                                                 duplex_response_ring(name) + "')");
        return tl::unexpected(std::move(reader.error()));
    }
    // The server attaches to our ring in its receive(); wait for it, watching that it stays alive.
    while (true) {
        if (keep_waiting && !keep_waiting())
            return tl::unexpected(interrupted(name));
        // With keep_waiting, short slices, so that the caller hears of its signals soon.
        const std::chrono::nanoseconds step = keep_waiting ? std::chrono::nanoseconds(kAttachPoll)
                                                           : std::chrono::nanoseconds(options.liveness_interval);
        const auto slice = std::min(left_until(deadline), step);
        auto joined = writer->wait_for_readers(1, slice);
        if (joined)
            break;
        if (joined.error().code != Errc::Timeout)
            return tl::unexpected(std::move(joined.error()));
        if (!reader->writer_alive())
            return make_error(Errc::WriterGone, "the server of channel '" + name + "' died while connecting");
        if (Clock::now() >= deadline)
            return make_error(Errc::Timeout, "the server of channel '" + name +
                                                 "' is alive but did not accept within the timeout (is it calling "
                                                 "receive()?)");
    }
    return DuplexClient(std::make_unique<State>(name, options, std::move(*writer), std::move(*reader)));
}

Result<FrameReservation> DuplexClient::reserve(std::size_t payload_size, std::size_t metadata_capacity)
{
    return reserve(payload_size, metadata_capacity, state_->options.full_timeout);
}

Result<FrameReservation> DuplexClient::reserve(std::size_t payload_size, std::size_t metadata_capacity,
                                               std::chrono::nanoseconds timeout)
{
    if (auto alive = state_->check_server(); !alive)
        return tl::unexpected(std::move(alive.error()));
    auto reservation = state_->requests.reserve(payload_size, metadata_capacity, timeout);
    if (!reservation && reservation.error().code == Errc::Timeout)
        return make_error(Errc::Timeout, "the request ring of channel '" + state_->channel +
                                             "' is full: the server did not read or release requests within "
                                             "the timeout (" +
                                             reservation.error().message + ")");
    return reservation;
}

Result<std::uint64_t> DuplexClient::send(FrameReservation& request, const FrameInfo& info)
{
    return send(request, info, request.payload().size(), request.metadata().size());
}

Result<std::uint64_t> DuplexClient::send(FrameReservation& request, const FrameInfo& info, std::size_t payload_size,
                                         std::size_t metadata_size)
{
    if (auto alive = state_->check_server(); !alive) {
        request.abort();
        return tl::unexpected(std::move(alive.error()));
    }
    FrameInfo numbered = info;
    numbered.offset = state_->next_sequence;
    if (auto committed = state_->requests.commit(request, numbered, payload_size, metadata_size); !committed)
        return tl::unexpected(std::move(committed.error()));
    state_->pending.insert(numbered.offset);
    return state_->next_sequence++;
}

Result<std::uint64_t> DuplexClient::send_copy(std::span<const std::byte> payload, const FrameInfo& info,
                                              std::span<const std::byte> metadata)
{
    auto request = reserve(payload.size(), metadata.size());
    if (!request)
        return tl::unexpected(std::move(request.error()));
    if (!payload.empty())
        std::memcpy(request->payload().data(), payload.data(), payload.size());
    if (!metadata.empty())
        std::memcpy(request->metadata().data(), metadata.data(), metadata.size());
    request->mark_copied();
    return send(*request, info);
}

Result<DuplexMessage> DuplexClient::receive(std::chrono::nanoseconds timeout)
{
    if (!state_->kept.empty()) {
        auto first = state_->kept.begin();
        DuplexMessage message{std::move(first->second), first->first};
        state_->kept.erase(first);
        return message;
    }
    return state_->next_response(deadline_after(timeout));
}

Result<DuplexMessage> DuplexClient::receive_for(std::uint64_t sequence, std::chrono::nanoseconds timeout)
{
    if (auto kept = state_->kept.find(sequence); kept != state_->kept.end()) {
        DuplexMessage message{std::move(kept->second), sequence};
        state_->kept.erase(kept);
        return message;
    }
    if (!state_->pending.contains(sequence))
        return make_error(Errc::InvalidArgument, "request " + std::to_string(sequence) + " on channel '" +
                                                     state_->channel +
                                                     "' is not awaiting a response (never sent, or answered already)");
    const auto deadline = deadline_after(timeout);
    while (true) {
        auto message = state_->next_response(deadline);
        if (!message) {
            if (message.error().code == Errc::Timeout)
                return make_error(Errc::Timeout, "no response to request " + std::to_string(sequence) +
                                                     " on channel '" + state_->channel + "' within the timeout");
            return message;
        }
        if (message->sequence == sequence)
            return message;
        const std::uint64_t other = message->sequence;
        state_->kept.emplace(other, std::move(message->frame));
    }
}

Result<std::uint32_t> DuplexClient::set_format(std::string_view json)
{
    return state_->requests.set_stream_metadata(json);
}

const std::string& DuplexClient::response_format() const noexcept
{
    return state_->responses.stream_metadata();
}

std::uint64_t DuplexClient::pending() const noexcept
{
    return state_->pending.size();
}

bool DuplexClient::server_alive() const
{
    return !state_->server_gone && state_->responses.writer_alive();
}

const std::string& DuplexClient::channel() const noexcept
{
    return state_->channel;
}

Writer& DuplexClient::request_writer() noexcept
{
    return state_->requests;
}

Reader& DuplexClient::response_reader() noexcept
{
    return state_->responses;
}

// ---------------------------------------------------------------------------------------------------------------
// Server

struct DuplexServer::State {
    State(std::string name, DuplexOptions opts, Writer writer)
        : channel(std::move(name)), options(opts), responses(std::move(writer)), client_check(opts.liveness_interval)
    {
    }
    std::string channel;
    DuplexOptions options;
    Writer responses;
    std::optional<Reader> requests;      ///< The current client's ring, while one is connected.
    /// Readers of clients that went while the server still held some of their requests: a Frame must not outlive
    /// its Reader, so each is kept until its last request is released (swept at the next receive or respond).
    std::vector<Reader> retired;
    LivenessGate client_check;
    std::uint64_t expected_sequence = 0; ///< The next request number of the current client.
    std::set<std::uint64_t> unanswered;
    std::uint64_t clients = 0;
    std::string no_format;

    Result<void> accept(Clock::time_point deadline)
    {
        auto reader = attach_live(duplex_request_ring(channel), reader_options(options), deadline);
        if (!reader) {
            if (reader.error().code == Errc::NotFound)
                return make_error(Errc::Timeout, "no client connected to channel '" + channel + "' within the timeout");
            return tl::unexpected(std::move(reader.error()));
        }
        requests.emplace(std::move(*reader));
        expected_sequence = 0;
        unanswered.clear();
        ++clients;
        return {};
    }

    /// Forgets the current client. Its reader is retired (kept while requests of it are held).
    void end_client()
    {
        retired.push_back(std::move(*requests));
        requests.reset();
        unanswered.clear();
        sweep_retired();
    }

    /// Detaches from rings of gone clients once no request of theirs is held, and removes such a ring if its client
    /// died (a clean close has unlinked it already; a new client's live ring is refused by remove_stale_ring).
    void sweep_retired()
    {
        if (retired.empty())
            return;
        std::erase_if(retired, [](const Reader& reader) { return reader.held() == 0; });
        if (retired.empty())
            (void)remove_stale_ring(duplex_request_ring(channel)); // NotFound / Busy are fine.
    }
};

DuplexServer::DuplexServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
DuplexServer::DuplexServer(DuplexServer&&) noexcept = default;
DuplexServer& DuplexServer::operator=(DuplexServer&&) noexcept = default;
DuplexServer::~DuplexServer() = default;

Result<DuplexServer> DuplexServer::create(std::string_view channel, const DuplexOptions& options)
{
    if (auto valid = check_channel_name(channel); !valid)
        return tl::unexpected(std::move(valid.error()));
    if (options.liveness_interval.count() <= 0)
        return make_error(Errc::InvalidArgument, "liveness_interval must be positive");
    const std::string name(channel);
    auto writer = Writer::create(duplex_response_ring(name), writer_options(options));
    if (!writer) {
        if (writer.error().code == Errc::Busy)
            return make_error(Errc::Busy, "channel '" + name + "' already has a live server (" + writer.error().message +
                                              ")");
        return tl::unexpected(std::move(writer.error()));
    }
    return DuplexServer(std::make_unique<State>(name, options, std::move(*writer)));
}

Result<DuplexMessage> DuplexServer::receive(std::chrono::nanoseconds timeout)
{
    const auto deadline = deadline_after(timeout);
    State& state = *state_;
    state.sweep_retired();
    if (!state.requests)
        if (auto accepted = state.accept(deadline); !accepted)
            return tl::unexpected(std::move(accepted.error()));
    auto frame = state.requests->acquire(left_until(deadline));
    if (!frame) {
        if (frame.error().code == Errc::WriterGone) {
            const std::size_t dropped = state.unanswered.size();
            state.end_client();
            return make_error(Errc::WriterGone, "the client of channel '" + state.channel + "' is gone (" +
                                                    frame.error().message + "); " + std::to_string(dropped) +
                                                    " request(s) were left unanswered");
        }
        if (frame.error().code == Errc::Timeout)
            return make_error(Errc::Timeout, "no request on channel '" + state.channel + "' within the timeout");
        return tl::unexpected(std::move(frame.error()));
    }
    const std::uint64_t sequence = frame->info().offset;
    if (sequence != state.expected_sequence)
        return make_error(Errc::CorruptSegment, "request " + std::to_string(sequence) + " on channel '" +
                                                    state.channel + "' came out of order (expected " +
                                                    std::to_string(state.expected_sequence) +
                                                    "): the client is broken");
    ++state.expected_sequence;
    state.unanswered.insert(sequence);
    return DuplexMessage{std::move(*frame), sequence};
}

Result<FrameReservation> DuplexServer::reserve(std::size_t payload_size, std::size_t metadata_capacity)
{
    return reserve(payload_size, metadata_capacity, state_->options.full_timeout);
}

Result<FrameReservation> DuplexServer::reserve(std::size_t payload_size, std::size_t metadata_capacity,
                                               std::chrono::nanoseconds timeout)
{
    auto reservation = state_->responses.reserve(payload_size, metadata_capacity, timeout);
    if (!reservation && reservation.error().code == Errc::Timeout)
        return make_error(Errc::Timeout, "the response ring of channel '" + state_->channel +
                                             "' is full: the client did not read or release its responses within "
                                             "the timeout (" +
                                             reservation.error().message +
                                             "); release responses sooner or give the server a larger ring_size");
    return reservation;
}

Result<void> DuplexServer::respond(std::uint64_t sequence, FrameReservation& response, const FrameInfo& info)
{
    return respond(sequence, response, info, response.payload().size(), response.metadata().size());
}

Result<void> DuplexServer::respond(std::uint64_t sequence, FrameReservation& response, const FrameInfo& info,
                                   std::size_t payload_size, std::size_t metadata_size)
{
    State& state = *state_;
    state.sweep_retired();
    if (!state.requests || (state.client_check.due() && !state.requests->writer_alive())) {
        response.abort();
        return make_error(Errc::WriterGone, "the client of channel '" + state.channel +
                                                "' is gone: the response to request " + std::to_string(sequence) +
                                                " was dropped");
    }
    if (state.unanswered.erase(sequence) == 0) {
        response.abort();
        return make_error(Errc::InvalidArgument, "request " + std::to_string(sequence) + " on channel '" +
                                                     state.channel +
                                                     "' is not awaiting a response (never received, or answered already)");
    }
    FrameInfo numbered = info;
    numbered.offset = sequence;
    return state.responses.commit(response, numbered, payload_size, metadata_size);
}

Result<void> DuplexServer::respond_copy(std::uint64_t sequence, std::span<const std::byte> payload,
                                        const FrameInfo& info, std::span<const std::byte> metadata)
{
    auto response = reserve(payload.size(), metadata.size());
    if (!response)
        return tl::unexpected(std::move(response.error()));
    if (!payload.empty())
        std::memcpy(response->payload().data(), payload.data(), payload.size());
    if (!metadata.empty())
        std::memcpy(response->metadata().data(), metadata.data(), metadata.size());
    response->mark_copied();
    return respond(sequence, *response, info);
}

Result<std::uint32_t> DuplexServer::set_format(std::string_view json)
{
    return state_->responses.set_stream_metadata(json);
}

const std::string& DuplexServer::request_format() const noexcept
{
    return state_->requests ? state_->requests->stream_metadata() : state_->no_format;
}

bool DuplexServer::client_connected() const noexcept
{
    return state_->requests.has_value();
}

std::uint64_t DuplexServer::unanswered() const noexcept
{
    return state_->unanswered.size();
}

std::uint64_t DuplexServer::clients_accepted() const noexcept
{
    return state_->clients;
}

const std::string& DuplexServer::channel() const noexcept
{
    return state_->channel;
}

Writer& DuplexServer::response_writer() noexcept
{
    return state_->responses;
}

} // namespace zerobuffer
