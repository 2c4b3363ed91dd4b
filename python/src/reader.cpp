// SPDX-License-Identifier: MIT
// zerobuffer.Reader: attaches to a ring and hands out frames read in place.
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <zerobuffer/reader.h>

#include "bindings.h"
#include "errors.h"
#include "frame.h"
#include "wait.h"

namespace zbpy {
namespace {

/// The core reader, shared by the Python Reader and its frames (which must not outlive it).
struct ReaderState {
    explicit ReaderState(zerobuffer::Reader r) : reader(std::move(r)) {}
    zerobuffer::Reader reader;
    std::mutex acquire_mutex; ///< acquire() from one thread at a time; taken without the GIL.
    LayoutCache layouts;      ///< Guarded by acquire_mutex.
};

struct Acquired {
    zerobuffer::Frame frame;
    std::shared_ptr<const Layout> layout;
};

zerobuffer::ReaderPolicy policy_from(const std::string& name)
{
    if (name == "lossless")
        return zerobuffer::ReaderPolicy::Lossless;
    if (name == "latest")
        return zerobuffer::ReaderPolicy::Latest;
    raise_error(zerobuffer::Errc::InvalidArgument, "policy must be 'lossless' or 'latest', not '" + name + "'");
}

zerobuffer::StartAt start_from(const std::string& name)
{
    if (name == "next")
        return zerobuffer::StartAt::NextFrame;
    if (name == "newest")
        return zerobuffer::StartAt::NewestFrame;
    raise_error(zerobuffer::Errc::InvalidArgument, "start_at must be 'next' or 'newest', not '" + name + "'");
}

constexpr std::chrono::milliseconds kAttachPoll{10};

class PyReader {
public:
    PyReader(const std::string& name, const std::string& policy, const std::string& start_at, std::uint32_t max_held,
             std::uint64_t max_lag_frames, bool verify, const std::string& secret, double liveness_interval, double spin,
             double wait)
        : name_(name)
    {
        zerobuffer::ReaderOptions options;
        options.policy = policy_from(policy);
        options.start_at = start_from(start_at);
        options.max_held = max_held;
        options.max_lag_frames = max_lag_frames;
        options.verify = verify;
        options.secret = secret;
        if (!(liveness_interval > 0) || liveness_interval > 3600)
            raise_error(zerobuffer::Errc::InvalidArgument, "liveness_interval must be a positive number of seconds");
        options.liveness_interval = std::chrono::milliseconds(std::max<long long>(1, std::llround(liveness_interval * 1000)));
        if (!(spin >= 0) || spin > 60)
            raise_error(zerobuffer::Errc::InvalidArgument, "spin must be a number of seconds >= 0");
        options.spin = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(spin));
        // Waits run in short slices that check for signals (wait.h). The core's cadence wait sleeps until the next
        // frame is due even past a shorter timeout, which would hold off Ctrl-C and timeouts for up to a frame
        // interval of a slow stream; and with slices shorter than the interval it would never get its window.
        options.wait_mode = zerobuffer::WaitMode::Sleep;
        // NotFound is retried while `wait` lasts (the writer may start after us), in signal-checked slices.
        const Deadline deadline(wait);
        zerobuffer::Result<zerobuffer::Reader> attached = make_error_result(name);
        bool waited = false;
        while (true) {
            attached = [&] {
                py::gil_scoped_release unlocked;
                return zerobuffer::Reader::attach(name, options);
            }();
            if (attached || attached.error().code != zerobuffer::Errc::NotFound || deadline.passed())
                break;
            waited = true;
            {
                py::gil_scoped_release unlocked;
                std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(deadline.slice(), kAttachPoll));
            }
            if (PyErr_CheckSignals() != 0)
                throw py::error_already_set();
        }
        if (!attached && waited)
            attached.error().message += " (waited " + std::to_string(wait) + " s)";
        state_ = std::make_shared<ReaderState>(unwrap(std::move(attached)));
    }

    py::object acquire(std::optional<double> timeout)
    {
        std::shared_ptr<ReaderState> s = shared_state();
        auto acquired = wait_in_slices(Deadline(timeout), [&](std::chrono::nanoseconds slice) {
            return acquire_slice(*s, slice);
        });
        Acquired got = unwrap(std::move(acquired));
        return wrap_frame(std::move(got.frame), s, std::move(got.layout));
    }

    /// Like acquire(), but None instead of Timeout.
    py::object try_acquire(std::optional<double> timeout)
    {
        std::shared_ptr<ReaderState> s = shared_state();
        auto acquired = wait_in_slices(Deadline(timeout), [&](std::chrono::nanoseconds slice) {
            return acquire_slice(*s, slice);
        });
        if (!acquired && acquired.error().code == zerobuffer::Errc::Timeout)
            return py::none();
        Acquired got = unwrap(std::move(acquired));
        return wrap_frame(std::move(got.frame), s, std::move(got.layout));
    }

    /// Iteration: frames until the end of the stream or until the writer is gone.
    py::object next()
    {
        std::shared_ptr<ReaderState> s = shared_state();
        auto acquired = wait_in_slices(Deadline(std::nullopt), [&](std::chrono::nanoseconds slice) {
            return acquire_slice(*s, slice);
        });
        if (!acquired && acquired.error().code == zerobuffer::Errc::WriterGone)
            throw py::stop_iteration();
        Acquired got = unwrap(std::move(acquired));
        if ((got.frame.info().flags & zerobuffer::kFrameEndOfStream) != 0)
            throw py::stop_iteration();
        return wrap_frame(std::move(got.frame), s, std::move(got.layout));
    }

    void close() noexcept { state_.reset(); } // Frames still alive keep the slot until they go.

    std::string format_json()
    {
        std::shared_ptr<ReaderState> s = shared_state();
        py::gil_scoped_release unlocked;
        const std::lock_guard lock(s->acquire_mutex);
        return s->reader.stream_metadata();
    }

    bool writer_alive() { return state().reader.writer_alive(); }
    void request_keyframe() { state().reader.request_keyframe(); }
    std::uint32_t held() { return state().reader.held(); }
    std::uint32_t max_held() { return state().reader.max_held(); }
    std::size_t ring_size() { return state().reader.ring_size(); }
    std::uint32_t slot() { return state().reader.slot_index(); }
    py::dict counters() { return reader_counters(state().reader.counters()); }
    const std::string& name() const noexcept { return name_; }
    bool closed() const noexcept { return !state_; }

private:
    static zerobuffer::Result<zerobuffer::Reader> make_error_result(const std::string& name)
    {
        return zerobuffer::make_error(zerobuffer::Errc::NotFound, "no ring '" + name + "'");
    }

    static zerobuffer::Result<Acquired> acquire_slice(ReaderState& s, std::chrono::nanoseconds slice)
    {
        const std::lock_guard lock(s.acquire_mutex);
        auto frame = s.reader.acquire(slice);
        if (!frame)
            return tl::unexpected(std::move(frame.error()));
        std::shared_ptr<const Layout> layout = s.layouts.get(frame->format_generation(), s.reader.stream_metadata());
        return Acquired{std::move(*frame), std::move(layout)};
    }

    ReaderState& state() { return *shared_state(); }
    const std::shared_ptr<ReaderState>& shared_state()
    {
        if (!state_)
            raise_error(zerobuffer::Errc::InvalidState, "the reader of ring '" + name_ + "' is closed");
        return state_;
    }

    std::string name_;
    std::shared_ptr<ReaderState> state_;
};

} // namespace

void bind_reader(py::module_& m)
{
    py::class_<PyReader>(m, "Reader", R"doc(
One reader of a ring: attaches to /dev/shm/zb-NAME and hands out Frames read in place (zero copy).

policy='lossless' sees every frame in order (the writer waits for it); policy='latest' gets the newest frame
at each acquire and never slows the writer. Iterating (``for frame in reader``) waits for each frame with the
GIL released and ends at the end of the stream or when the writer is gone; Ctrl-C interrupts any wait with
KeyboardInterrupt within about 20 ms. frames() gives the same as an async iterator. One thread at a time
acquires; frames may be released from any thread. close() (or the end of a ``with`` block) detaches once no
frame of it is alive. Raises NotFound when the ring does not exist (pass wait=SECONDS to wait for it), Busy
when all reader slots are taken.
)doc")
        .def(py::init<const std::string&, const std::string&, const std::string&, std::uint32_t, std::uint64_t, bool,
                      const std::string&, double, double, double>(),
             py::arg("name"), py::kw_only(), py::arg("policy") = "lossless", py::arg("start_at") = "next",
             py::arg("max_held") = 0, py::arg("max_lag_frames") = 0, py::arg("verify") = true, py::arg("secret") = "",
             py::arg("liveness_interval") = 0.05, py::arg("spin") = 0.0, py::arg("wait") = 0.0,
             "Attaches to ring NAME. start_at: 'next' (the first frame committed after attaching) or 'newest'.\n"
             "max_held: frames held at once (0: the ring's limit). max_lag_frames: latest policy, read in order\n"
             "while at most that many frames behind. liveness_interval: seconds between checks that the writer\n"
             "lives (WriterGone within about twice that). wait: seconds to wait for the ring to appear.")
        .def("acquire", &PyReader::acquire, py::arg("timeout") = py::none(),
             "The next frame, waiting up to `timeout` seconds (None: forever, 0: poll) with the GIL released.\n"
             "Raises Timeout, WriterGone (writer closed or died and every frame was read), KeyboardInterrupt.")
        .def("try_acquire", &PyReader::try_acquire, py::arg("timeout") = 0.0,
             "Like acquire(), but returns None when no frame came within `timeout` (default: poll).")
        .def("__iter__", [](py::object self) { return self; })
        .def("__next__", &PyReader::next)
        .def("close", &PyReader::close, "Detaches (once every frame of this reader is released). Idempotent.")
        .def("_format_json", &PyReader::format_json)
        .def_property_readonly("writer_alive", &PyReader::writer_alive, "True while the writer process holds the ring.")
        .def("request_keyframe", &PyReader::request_keyframe, "Asks the writer for a keyframe (encoded streams).")
        .def_property_readonly("held", &PyReader::held, "Frames this reader holds now.")
        .def_property_readonly("max_held", &PyReader::max_held, "Frames this reader may hold at once.")
        .def_property_readonly("ring_size", &PyReader::ring_size, "Bytes of frame memory in the ring.")
        .def_property_readonly("slot", &PyReader::slot, "This reader's slot index in the ring.")
        .def_property_readonly("counters", &PyReader::counters, "This reader's counters, as a dict.")
        .def_property_readonly("name", &PyReader::name, "The ring's name.")
        .def_property_readonly("closed", &PyReader::closed, "True after close().");
}

} // namespace zbpy
