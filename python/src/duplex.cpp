// SPDX-License-Identifier: MIT
// zerobuffer.DuplexClient / DuplexServer: the core's request/response channel (zerobuffer/duplex.h) from Python.
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include <zerobuffer/duplex.h>

#include "bindings.h"
#include "errors.h"
#include "frame.h"
#include "reservation.h"
#include "wait.h"

namespace zbpy {
namespace {

zerobuffer::DuplexOptions duplex_options(std::size_t ring_size, std::uint32_t max_frames, std::uint32_t max_outstanding,
                                         std::size_t metadata_capacity, std::uint32_t permissions, double full_timeout,
                                         double liveness_interval, std::uint32_t max_held)
{
    zerobuffer::DuplexOptions options;
    options.ring_size = ring_size;
    options.max_frames = max_frames;
    options.max_outstanding = max_outstanding;
    options.metadata_capacity = metadata_capacity;
    options.permissions = permissions;
    if (!(full_timeout >= 0) || full_timeout > 1e6)
        raise_error(zerobuffer::Errc::InvalidArgument, "full_timeout must be a number of seconds >= 0");
    options.full_timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(full_timeout));
    if (!(liveness_interval > 0) || liveness_interval > 3600)
        raise_error(zerobuffer::Errc::InvalidArgument, "liveness_interval must be a positive number of seconds");
    options.liveness_interval = std::chrono::milliseconds(std::max<long long>(1, std::llround(liveness_interval * 1000)));
    options.max_held = max_held;
    return options;
}

/// A request given as a Frame from receive() or as its sequence number.
std::uint64_t request_sequence_of(const py::object& request)
{
    if (py::isinstance<PyFrame>(request)) {
        const auto sequence = request.cast<PyFrame&>().request_sequence();
        if (!sequence)
            raise_error(zerobuffer::Errc::InvalidArgument, "that frame is not a request of a duplex channel");
        return *sequence;
    }
    return request.cast<std::uint64_t>();
}

/// How long a reservation may wait for room: `timeout` seconds, or the side's full_timeout when None.
Deadline room_deadline(std::optional<double> timeout, std::chrono::nanoseconds full_timeout)
{
    return Deadline(timeout ? timeout : std::optional<double>(std::chrono::duration<double>(full_timeout).count()));
}

/// Copies `payload` and `metadata` into a reservation (with the GIL released: the buffers stay exported).
void copy_into(zerobuffer::FrameReservation& reservation, const ContiguousBytes& payload, const ContiguousBytes& metadata)
{
    py::gil_scoped_release unlocked;
    if (!payload.bytes().empty())
        std::memcpy(reservation.payload().data(), payload.bytes().data(), payload.bytes().size());
    if (!metadata.bytes().empty())
        std::memcpy(reservation.metadata().data(), metadata.bytes().data(), metadata.bytes().size());
    reservation.mark_copied();
}

std::size_t size_or_frame_size(std::optional<std::size_t> size, const Layout& layout, const std::string& channel)
{
    if (size)
        return *size;
    if (layout.frame_size == 0)
        raise_error(zerobuffer::Errc::InvalidArgument,
                    "reserve() needs a size: the stream format of channel '" + channel + "' gives no frame_size");
    return layout.frame_size;
}

// --- Client --------------------------------------------------------------------------------------------------

class ClientState final : public ReservationOwner {
public:
    ClientState(zerobuffer::DuplexClient c, std::chrono::nanoseconds full) : client(std::move(c)), full_timeout(full) {}
    zerobuffer::DuplexClient client;
    std::chrono::nanoseconds full_timeout;
    std::shared_ptr<const Layout> request_layout = std::make_shared<const Layout>();
    LayoutCache response_layouts; ///< Guarded by mutex.

    py::object commit(zerobuffer::FrameReservation& reservation, const zerobuffer::FrameInfo& info,
                      std::size_t payload_size, std::size_t metadata_size, std::optional<std::uint64_t>) override
    {
        return py::int_(unwrap(client.send(reservation, info, payload_size, metadata_size)));
    }
};

class PyDuplexClient {
public:
    PyDuplexClient(const std::string& channel, double connect_timeout, const zerobuffer::DuplexOptions& options)
        : channel_(channel)
    {
        const Deadline checked(connect_timeout); // Validates the number.
        const auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(
            std::isinf(connect_timeout) ? 1e9 : connect_timeout));
        // The core calls this every few ms while it waits: the Python signal handlers run, and a handler that
        // raised (Ctrl-C) stops the wait; its exception is then the one raised.
        bool interrupted = false;
        const auto keep_waiting = [&interrupted] {
            const py::gil_scoped_acquire locked;
            interrupted = PyErr_CheckSignals() != 0;
            return !interrupted;
        };
        auto connected = [&] {
            py::gil_scoped_release unlocked;
            return zerobuffer::DuplexClient::connect(channel, options, timeout, keep_waiting);
        }();
        if (interrupted)
            throw py::error_already_set();
        state_ = std::make_shared<ClientState>(unwrap(std::move(connected)), options.full_timeout);
    }

    std::uint32_t set_format_json(const std::string& json)
    {
        ClientState& s = state();
        std::string canonical;
        Layout layout = checked_writer_layout(json, canonical);
        const std::lock_guard lock(s.mutex);
        layout.generation = unwrap(s.client.set_format(canonical));
        s.request_layout = std::make_shared<const Layout>(std::move(layout));
        return s.request_layout->generation;
    }

    py::object reserve(std::optional<std::size_t> size, std::size_t metadata_capacity, std::optional<double> timeout)
    {
        std::shared_ptr<ClientState> s = shared_state();
        const std::size_t payload_size = size_or_frame_size(size, *s->request_layout, channel_);
        zerobuffer::FrameReservation reserved = reserve_room(*s, payload_size, metadata_capacity, timeout);
        std::shared_ptr<const Layout> layout = s->request_layout;
        return wrap_reservation(s, std::move(reserved), std::move(layout));
    }

    std::uint64_t send(const py::object& data, const zerobuffer::FrameInfo& info, const py::object& metadata)
    {
        std::shared_ptr<ClientState> s = shared_state();
        const ContiguousBytes payload(data);
        const ContiguousBytes meta(metadata);
        zerobuffer::FrameReservation request = reserve_room(*s, payload.bytes().size(), meta.bytes().size(), std::nullopt);
        copy_into(request, payload, meta);
        const std::lock_guard lock(s->mutex);
        return unwrap(s->client.send(request, info));
    }

    py::object receive(std::optional<double> timeout, std::optional<std::uint64_t> sequence)
    {
        std::shared_ptr<ClientState> s = shared_state();
        struct Received {
            zerobuffer::DuplexMessage message;
            std::shared_ptr<const Layout> layout;
        };
        auto received = wait_in_slices(Deadline(timeout), [&](std::chrono::nanoseconds slice) -> zerobuffer::Result<Received> {
            const std::lock_guard lock(s->mutex);
            auto message = sequence ? s->client.receive_for(*sequence, slice) : s->client.receive(slice);
            if (!message)
                return tl::unexpected(std::move(message.error()));
            auto layout = s->response_layouts.get(message->frame.format_generation(), s->client.response_format());
            return Received{std::move(*message), std::move(layout)};
        });
        Received got = unwrap(std::move(received));
        return wrap_frame(std::move(got.message.frame), s, std::move(got.layout), got.message.sequence);
    }

    void close() noexcept { state_.reset(); }
    std::uint64_t pending() { return state().client.pending(); }
    bool server_alive() { return state().client.server_alive(); }
    const std::string& channel() const noexcept { return channel_; }
    bool closed() const noexcept { return !state_; }

private:
    /// Waits for room in the request ring (up to `timeout`, default full_timeout) in signal-checked slices.
    static zerobuffer::FrameReservation reserve_room(ClientState& s, std::size_t size, std::size_t metadata,
                                                     std::optional<double> timeout)
    {
        auto reserved = wait_in_slices(room_deadline(timeout, s.full_timeout), [&](std::chrono::nanoseconds slice) {
            const std::lock_guard lock(s.mutex);
            return s.client.reserve(size, metadata, slice);
        });
        return unwrap(std::move(reserved));
    }

    ClientState& state() { return *shared_state(); }
    const std::shared_ptr<ClientState>& shared_state()
    {
        if (!state_)
            raise_error(zerobuffer::Errc::InvalidState, "the client of channel '" + channel_ + "' is closed");
        return state_;
    }
    std::string channel_;
    std::shared_ptr<ClientState> state_;
};

// --- Server --------------------------------------------------------------------------------------------------

class ServerState final : public ReservationOwner {
public:
    ServerState(zerobuffer::DuplexServer s, std::chrono::nanoseconds full) : server(std::move(s)), full_timeout(full) {}
    zerobuffer::DuplexServer server;
    std::chrono::nanoseconds full_timeout;
    std::shared_ptr<const Layout> response_layout = std::make_shared<const Layout>();
    LayoutCache request_layouts;      ///< Guarded by mutex; generations restart with each client.
    std::uint64_t layouts_client = 0; ///< clients_accepted() the cache belongs to.

    py::object commit(zerobuffer::FrameReservation& reservation, const zerobuffer::FrameInfo& info,
                      std::size_t payload_size, std::size_t metadata_size, std::optional<std::uint64_t> request) override
    {
        unwrap(server.respond(request.value_or(0), reservation, info, payload_size, metadata_size));
        return py::none();
    }
};

class PyDuplexServer {
public:
    PyDuplexServer(const std::string& channel, const zerobuffer::DuplexOptions& options) : channel_(channel)
    {
        auto created = [&] {
            py::gil_scoped_release unlocked;
            return zerobuffer::DuplexServer::create(channel, options);
        }();
        state_ = std::make_shared<ServerState>(unwrap(std::move(created)), options.full_timeout);
    }

    std::uint32_t set_format_json(const std::string& json)
    {
        ServerState& s = state();
        std::string canonical;
        Layout layout = checked_writer_layout(json, canonical);
        const std::lock_guard lock(s.mutex);
        layout.generation = unwrap(s.server.set_format(canonical));
        s.response_layout = std::make_shared<const Layout>(std::move(layout));
        return s.response_layout->generation;
    }

    py::object receive(std::optional<double> timeout)
    {
        std::shared_ptr<ServerState> s = shared_state();
        struct Received {
            zerobuffer::DuplexMessage message;
            std::shared_ptr<const Layout> layout;
        };
        auto received = wait_in_slices(Deadline(timeout), [&](std::chrono::nanoseconds slice) -> zerobuffer::Result<Received> {
            const std::lock_guard lock(s->mutex);
            auto message = s->server.receive(slice);
            if (!message)
                return tl::unexpected(std::move(message.error()));
            if (s->layouts_client != s->server.clients_accepted()) {
                s->request_layouts = LayoutCache();
                s->layouts_client = s->server.clients_accepted();
            }
            auto layout = s->request_layouts.get(message->frame.format_generation(), s->server.request_format());
            return Received{std::move(*message), std::move(layout)};
        });
        Received got = unwrap(std::move(received));
        return wrap_frame(std::move(got.message.frame), s, std::move(got.layout), got.message.sequence);
    }

    py::object next()
    {
        try {
            return receive(std::nullopt);
        } catch (py::error_already_set& error) {
            if (error.matches(error_class(zerobuffer::Errc::WriterGone)))
                throw py::stop_iteration();
            throw;
        }
    }

    py::object reserve(const py::object& request, std::optional<std::size_t> size, std::size_t metadata_capacity,
                       std::optional<double> timeout)
    {
        std::shared_ptr<ServerState> s = shared_state();
        const std::uint64_t sequence = request_sequence_of(request);
        const std::size_t payload_size = size_or_frame_size(size, *s->response_layout, channel_);
        zerobuffer::FrameReservation reserved = reserve_room(*s, payload_size, metadata_capacity, timeout);
        std::shared_ptr<const Layout> layout = s->response_layout;
        return wrap_reservation(s, std::move(reserved), std::move(layout), sequence);
    }

    void respond(const py::object& request, const py::object& data, const zerobuffer::FrameInfo& info,
                 const py::object& metadata)
    {
        std::shared_ptr<ServerState> s = shared_state();
        const std::uint64_t sequence = request_sequence_of(request);
        const ContiguousBytes payload(data);
        const ContiguousBytes meta(metadata);
        zerobuffer::FrameReservation response = reserve_room(*s, payload.bytes().size(), meta.bytes().size(), std::nullopt);
        copy_into(response, payload, meta);
        const std::lock_guard lock(s->mutex);
        unwrap(s->server.respond(sequence, response, info));
    }

    void close() noexcept { state_.reset(); }
    bool client_connected() { return state().server.client_connected(); }
    std::uint64_t unanswered() { return state().server.unanswered(); }
    std::uint64_t clients_accepted() { return state().server.clients_accepted(); }
    const std::string& channel() const noexcept { return channel_; }
    bool closed() const noexcept { return !state_; }

private:
    /// Waits for room in the response ring (up to `timeout`, default full_timeout) in signal-checked slices.
    static zerobuffer::FrameReservation reserve_room(ServerState& s, std::size_t size, std::size_t metadata,
                                                     std::optional<double> timeout)
    {
        auto reserved = wait_in_slices(room_deadline(timeout, s.full_timeout), [&](std::chrono::nanoseconds slice) {
            const std::lock_guard lock(s.mutex);
            return s.server.reserve(size, metadata, slice);
        });
        return unwrap(std::move(reserved));
    }

    ServerState& state() { return *shared_state(); }
    const std::shared_ptr<ServerState>& shared_state()
    {
        if (!state_)
            raise_error(zerobuffer::Errc::InvalidState, "the server of channel '" + channel_ + "' is closed");
        return state_;
    }
    std::string channel_;
    std::shared_ptr<ServerState> state_;
};

} // namespace

void bind_duplex(py::module_& m)
{
    py::class_<PyDuplexClient>(m, "DuplexClient", R"doc(
The requesting side of a request/response channel (docs/duplex.md): send requests, receive one response
to each, matched by the request's sequence number. Zero copy both ways: reserve() a request and fill it in
place; responses are Frames read in place. Raises Busy if the channel has another live client, Timeout if
no server accepts within connect_timeout. When the server dies or closes, waits and sends raise WriterGone.
)doc")
        .def(py::init([](const std::string& channel, std::size_t ring_size, std::uint32_t max_frames,
                         std::uint32_t max_outstanding, std::size_t metadata_capacity, std::uint32_t permissions,
                         double full_timeout, double liveness_interval, std::uint32_t max_held, double connect_timeout) {
                 return std::make_unique<PyDuplexClient>(
                     channel, connect_timeout,
                     duplex_options(ring_size, max_frames, max_outstanding, metadata_capacity, permissions,
                                    full_timeout, liveness_interval, max_held));
             }),
             py::arg("channel"), py::kw_only(), py::arg("ring_size") = std::size_t{16} << 20, py::arg("max_frames") = 0,
             py::arg("max_outstanding") = 16, py::arg("metadata_capacity") = std::size_t{16} << 10,
             py::arg("permissions") = 0600, py::arg("full_timeout") = 5.0, py::arg("liveness_interval") = 0.05,
             py::arg("max_held") = 0, py::arg("connect_timeout") = 5.0,
             "Connects to channel CHANNEL. ring_size sizes the request ring; full_timeout: seconds a request waits\n"
             "for room when the server does not keep up (then Timeout); liveness_interval: seconds between checks\n"
             "that the server lives.")
        .def("_set_format_json", &PyDuplexClient::set_format_json, py::arg("json"))
        .def("reserve", &PyDuplexClient::reserve, py::arg("size") = py::none(), py::kw_only(),
             py::arg("metadata_capacity") = 0, py::arg("timeout") = py::none(),
             "Reserves a request to fill in place; its commit() sends it and returns its sequence number. Waits\n"
             "up to `timeout` s (None: full_timeout) for room; Timeout \"... is full\" when none came.")
        .def(
            "send",
            [](PyDuplexClient& c, const py::object& data, const py::object& pts, const py::object& dts,
               const py::object& duration, std::uint32_t flags, const py::object& metadata) {
                return c.send(data, frame_info(pts, dts, duration, flags), metadata);
            },
            py::arg("data"), py::kw_only(), py::arg("pts") = py::none(), py::arg("dts") = py::none(),
            py::arg("duration") = py::none(), py::arg("flags") = 0, py::arg("metadata") = py::bytes(),
            "Copies `data` (any buffer) into a request and sends it. Returns the request's sequence number.")
        .def(
            "receive", [](PyDuplexClient& c, std::optional<double> timeout) { return c.receive(timeout, std::nullopt); },
            py::arg("timeout") = py::none(),
            "The next response (a Frame whose request_sequence says which request it answers). Waits up to\n"
            "`timeout` s with the GIL released; raises Timeout, or WriterGone when the server is gone.")
        .def(
            "receive_for",
            [](PyDuplexClient& c, std::uint64_t sequence, std::optional<double> timeout) {
                return c.receive(timeout, sequence);
            },
            py::arg("sequence"), py::kw_only(), py::arg("timeout") = py::none(),
            "The response to request `sequence`; responses to others arriving first are kept for later.")
        .def("close", &PyDuplexClient::close, "Closes the request ring (the server sees the client go).")
        .def_property_readonly("pending", &PyDuplexClient::pending, "Requests sent and not answered yet.")
        .def_property_readonly("server_alive", &PyDuplexClient::server_alive, "True while the server process lives.")
        .def_property_readonly("channel", &PyDuplexClient::channel, "The channel's name.")
        .def_property_readonly("closed", &PyDuplexClient::closed, "True after close().");

    py::class_<PyDuplexServer>(m, "DuplexServer", R"doc(
The answering side of a request/response channel (docs/duplex.md): receive requests (Frames read in place)
and answer each exactly once, with reserve(request) filled in place or respond(request, data). Serves one
client at a time: receive() waits for a client to connect, raises WriterGone once when it goes (closed or
died; its unanswered requests are dropped), then waits for the next. Iterating yields the requests of one
client until it goes. Raises Busy if the channel has another live server.
)doc")
        .def(py::init([](const std::string& channel, std::size_t ring_size, std::uint32_t max_frames,
                         std::uint32_t max_outstanding, std::size_t metadata_capacity, std::uint32_t permissions,
                         double full_timeout, double liveness_interval, std::uint32_t max_held) {
                 return std::make_unique<PyDuplexServer>(
                     channel, duplex_options(ring_size, max_frames, max_outstanding, metadata_capacity, permissions,
                                             full_timeout, liveness_interval, max_held));
             }),
             py::arg("channel"), py::kw_only(), py::arg("ring_size") = std::size_t{16} << 20, py::arg("max_frames") = 0,
             py::arg("max_outstanding") = 16, py::arg("metadata_capacity") = std::size_t{16} << 10,
             py::arg("permissions") = 0600, py::arg("full_timeout") = 5.0, py::arg("liveness_interval") = 0.05,
             py::arg("max_held") = 0,
             "Creates channel CHANNEL's response ring (ring_size bytes). full_timeout: seconds a response waits for\n"
             "room when the client does not release responses (then Timeout).")
        .def("_set_format_json", &PyDuplexServer::set_format_json, py::arg("json"))
        .def("receive", &PyDuplexServer::receive, py::arg("timeout") = py::none(),
             "The next request (a Frame; request_sequence is its number). Raises Timeout, or WriterGone once when\n"
             "the client has gone.")
        .def("__iter__", [](py::object self) { return self; })
        .def("__next__", &PyDuplexServer::next)
        .def("reserve", &PyDuplexServer::reserve, py::arg("request"), py::arg("size") = py::none(), py::kw_only(),
             py::arg("metadata_capacity") = 0, py::arg("timeout") = py::none(),
             "Reserves the response to `request` (a request Frame or its sequence) to fill in place; its commit()\n"
             "sends it. Waits up to `timeout` s (None: full_timeout) for room; Timeout \"... is full\" when none came.")
        .def(
            "respond",
            [](PyDuplexServer& s, const py::object& request, const py::object& data, const py::object& pts,
               const py::object& dts, const py::object& duration, std::uint32_t flags, const py::object& metadata) {
                s.respond(request, data, frame_info(pts, dts, duration, flags), metadata);
            },
            py::arg("request"), py::arg("data"), py::kw_only(), py::arg("pts") = py::none(),
            py::arg("dts") = py::none(), py::arg("duration") = py::none(), py::arg("flags") = 0,
            py::arg("metadata") = py::bytes(), "Copies `data` into the response to `request` and sends it.")
        .def("close", &PyDuplexServer::close, "Closes the response ring (the client sees the server go).")
        .def_property_readonly("client_connected", &PyDuplexServer::client_connected,
                               "True while a client is connected (as of the last receive or respond).")
        .def_property_readonly("unanswered", &PyDuplexServer::unanswered,
                               "Requests of the current client received and not answered yet.")
        .def_property_readonly("clients_accepted", &PyDuplexServer::clients_accepted, "Clients served so far.")
        .def_property_readonly("channel", &PyDuplexServer::channel, "The channel's name.")
        .def_property_readonly("closed", &PyDuplexServer::closed, "True after close().");
}

} // namespace zbpy
