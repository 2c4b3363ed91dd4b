// SPDX-License-Identifier: MIT
// A request/response channel between two processes, built on two rings: requests one way, responses back.
//
// Channel NAME is two rings: "NAME.req", written by the client and read (lossless) by the server, and
// "NAME.resp", written by the server and read (lossless) by the client. Both directions are zero copy: a request
// or a response is reserved in its ring, filled in place and committed; the other side reads it in place.
// The full protocol (names, hand-shake, matching, liveness, errors) is in docs/duplex.md.
//
// Contract:
// - One server and one client per channel at a time. The server makes "NAME.resp" and waits for clients; a
//   client makes "NAME.req" (a second live client gets Errc::Busy), attaches to "NAME.resp" and waits until the
//   server has attached to its ring. When the client goes, the server serves the next one that connects.
// - Every request gets a sequence number (0, 1, 2, ... per client connection) carried in FrameInfo::offset; the
//   server answers request N with exactly one response, which carries N in its FrameInfo::offset. The server may
//   answer in any order; the client matches responses to requests by that number. FrameInfo::offset is therefore
//   the channel's: whatever the caller puts there is replaced.
// - Death of either side is detected through the rings' kernel-held locks within two liveness intervals of the
//   death (DuplexOptions::liveness_interval) while the other side waits, and at its next send or respond
//   otherwise; it is reported as Errc::WriterGone with a message saying which side went.
// - A full ring (the other side does not read or release within DuplexOptions::full_timeout) and a wait that
//   runs out (receive timeouts, a connect that finds no server) are Errc::Timeout, with a message saying which.
// - One thread at a time uses a DuplexClient or DuplexServer; frames it hands out may be released from any
//   thread, and must not outlive it. Both are move-only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <zerobuffer/error.h>
#include <zerobuffer/frame.h>
#include <zerobuffer/reader.h>
#include <zerobuffer/writer.h>

namespace zerobuffer {

/// Options of one side of a channel. Each side sizes the ring it writes (client: requests, server: responses).
struct DuplexOptions {
    std::size_t ring_size = std::size_t{16} << 20; ///< Bytes of frame memory of the ring this side writes.
    std::uint32_t max_frames = 0;                  ///< Descriptors of that ring (WriterOptions::max_frames).
    std::uint32_t max_outstanding = 16;            ///< Reservations open at once in that ring.
    std::size_t metadata_capacity = std::size_t{16} << 10; ///< Bytes of its stream-metadata document.
    std::uint32_t permissions = 0600;              ///< Mode of the ring this side creates.
    /// How long a reservation waits for room when the other side has not read or released enough frames: then
    /// Errc::Timeout "the ... ring of channel ... is full".
    std::chrono::nanoseconds full_timeout = std::chrono::seconds(5);
    /// How often a waiting side checks that the other lives; death is reported within about twice this.
    std::chrono::milliseconds liveness_interval = std::chrono::milliseconds(50);
    /// Frames this side may hold at once from the other ring (0: as many as that ring allows).
    std::uint32_t max_held = 0;
};

/// The ring names of channel `channel`: "CHANNEL.req" and "CHANNEL.resp".
[[nodiscard]] std::string duplex_request_ring(std::string_view channel);
[[nodiscard]] std::string duplex_response_ring(std::string_view channel);

/// A request (server side) or a response (client side): the frame, read in place, and the request's sequence.
struct DuplexMessage {
    Frame frame;
    std::uint64_t sequence = 0;
};

/// The requesting side of a channel.
class DuplexClient {
public:
    /// Creates "CHANNEL.req", attaches to "CHANNEL.resp" and waits until the server reads requests, for up to
    /// `timeout` in all (Errc::Timeout "no server ..."). Errc::Busy if another client of the channel is alive.
    /// `keep_waiting`, when given, is called at least every 5 ms while connect waits; when it returns false,
    /// connect gives up at once (Errc::Timeout "... was interrupted"), so a caller can honour its own signals.
    [[nodiscard]] static Result<DuplexClient> connect(std::string_view channel, const DuplexOptions& options = {},
                                                      std::chrono::nanoseconds timeout = std::chrono::seconds(5),
                                                      const std::function<bool()>& keep_waiting = {});

    DuplexClient(DuplexClient&&) noexcept;
    DuplexClient& operator=(DuplexClient&&) noexcept;
    DuplexClient(const DuplexClient&) = delete;
    DuplexClient& operator=(const DuplexClient&) = delete;
    ~DuplexClient();

    /// Reserves a request in place (waits up to full_timeout for room).
    [[nodiscard]] Result<FrameReservation> reserve(std::size_t payload_size, std::size_t metadata_capacity = 0);
    /// The same, waiting up to `timeout` instead (a caller that waits in slices; Errc::Timeout "... is full").
    [[nodiscard]] Result<FrameReservation> reserve(std::size_t payload_size, std::size_t metadata_capacity,
                                                   std::chrono::nanoseconds timeout);
    /// Sends a reserved request and returns its sequence. payload_size / metadata_size may shrink the reservation.
    [[nodiscard]] Result<std::uint64_t> send(FrameReservation& request, const FrameInfo& info = {});
    [[nodiscard]] Result<std::uint64_t> send(FrameReservation& request, const FrameInfo& info, std::size_t payload_size,
                                             std::size_t metadata_size);
    /// Copying convenience: reserve, copy in, send.
    [[nodiscard]] Result<std::uint64_t> send_copy(std::span<const std::byte> payload, const FrameInfo& info = {},
                                                  std::span<const std::byte> metadata = {});

    /// The next response, to whichever request it answers (responses kept by receive_for() come first).
    [[nodiscard]] Result<DuplexMessage> receive(std::chrono::nanoseconds timeout);
    /// The response to request `sequence`. Responses to other requests that arrive meanwhile are kept (held) for
    /// later receive() / receive_for() calls. Errc::InvalidArgument if that request is not awaiting a response.
    [[nodiscard]] Result<DuplexMessage> receive_for(std::uint64_t sequence, std::chrono::nanoseconds timeout);

    /// Publishes the stream format of the requests (a stream-format JSON document, see stream_format.h).
    [[nodiscard]] Result<std::uint32_t> set_format(std::string_view json);
    /// The stream format of the responses, as of the newest response received ("" if the server set none).
    [[nodiscard]] const std::string& response_format() const noexcept;

    /// Requests sent whose response has not been received yet (kept responses count as received).
    [[nodiscard]] std::uint64_t pending() const noexcept;
    /// True while the server process lives.
    [[nodiscard]] bool server_alive() const;
    [[nodiscard]] const std::string& channel() const noexcept;
    /// The two rings, for counters and tuning (the channel owns them).
    [[nodiscard]] Writer& request_writer() noexcept;
    [[nodiscard]] Reader& response_reader() noexcept;

private:
    struct State;
    explicit DuplexClient(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

/// The answering side of a channel.
class DuplexServer {
public:
    /// Creates "CHANNEL.resp". Clients are accepted by receive(). Errc::Busy if the channel has a live server.
    [[nodiscard]] static Result<DuplexServer> create(std::string_view channel, const DuplexOptions& options = {});

    DuplexServer(DuplexServer&&) noexcept;
    DuplexServer& operator=(DuplexServer&&) noexcept;
    DuplexServer(const DuplexServer&) = delete;
    DuplexServer& operator=(const DuplexServer&) = delete;
    ~DuplexServer();

    /// The next request. Without a client it first waits for one to connect. When the client has closed or died
    /// and every request it sent was received, returns Errc::WriterGone once (its unanswered requests are
    /// dropped, but requests still held stay readable until released); the next call waits for a new client.
    /// Errc::Timeout when nothing came within `timeout`.
    [[nodiscard]] Result<DuplexMessage> receive(std::chrono::nanoseconds timeout);

    /// Reserves a response in place (waits up to full_timeout for room: Errc::Timeout "the response ring ... is
    /// full" if the client does not read or release its responses).
    [[nodiscard]] Result<FrameReservation> reserve(std::size_t payload_size, std::size_t metadata_capacity = 0);
    /// The same, waiting up to `timeout` instead of full_timeout.
    [[nodiscard]] Result<FrameReservation> reserve(std::size_t payload_size, std::size_t metadata_capacity,
                                                   std::chrono::nanoseconds timeout);
    /// Sends a reserved response to request `sequence`. Errc::InvalidArgument if that request was not received
    /// or is answered already; Errc::WriterGone if its client is gone (the response is dropped).
    [[nodiscard]] Result<void> respond(std::uint64_t sequence, FrameReservation& response, const FrameInfo& info = {});
    [[nodiscard]] Result<void> respond(std::uint64_t sequence, FrameReservation& response, const FrameInfo& info,
                                       std::size_t payload_size, std::size_t metadata_size);
    /// Copying convenience: reserve, copy in, respond.
    [[nodiscard]] Result<void> respond_copy(std::uint64_t sequence, std::span<const std::byte> payload,
                                            const FrameInfo& info = {}, std::span<const std::byte> metadata = {});

    /// Publishes the stream format of the responses.
    [[nodiscard]] Result<std::uint32_t> set_format(std::string_view json);
    /// The stream format of the requests, as of the newest request received ("" if the client set none).
    [[nodiscard]] const std::string& request_format() const noexcept;

    /// True while a client is connected (it may have died since the last call that looked).
    [[nodiscard]] bool client_connected() const noexcept;
    /// Requests of the current client received and not answered yet.
    [[nodiscard]] std::uint64_t unanswered() const noexcept;
    /// Clients accepted so far.
    [[nodiscard]] std::uint64_t clients_accepted() const noexcept;
    [[nodiscard]] const std::string& channel() const noexcept;
    [[nodiscard]] Writer& response_writer() noexcept;

private:
    struct State;
    explicit DuplexServer(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

} // namespace zerobuffer
