// SPDX-License-Identifier: MIT
// The chaos writer: creates the ring, writes stamped frames at a pace, changes the stream format now and then,
// and on the driver's command stops at a kill point (reservations open, frames retained, a format just published).
#include <optional>
#include <thread>
#include <vector>

#include "chaos.h"
#include "support.h"

namespace zbchaos {

namespace {

using namespace std::chrono_literals;
using zerobuffer::Errc;

[[noreturn]] void fail(const std::string& what, const zerobuffer::Error& error)
{
    worker_failed("writer", what, error);
}

class ChaosWriter {
public:
    ChaosWriter(zerobuffer::Writer writer, zbtest::SharedCounters& shared, const zbtest::ChildArgs& args)
        : writer_(std::move(writer)), shared_(shared), seed_(args.get_u64("seed")),
          max_payload_(args.get_u64("max_payload")), pace_(std::chrono::microseconds(args.get_u64("pace_us", 1000))),
          format_every_(args.get_u64("format_every", 0))
    {
    }

    int run()
    {
        new_format();
        say("ready");
        while (true) {
            const std::uint64_t command = shared_.load(kCommand);
            if (command == kQuit) {
                return 0; // ~Writer closes the ring: readers drain and get WriterGone
            }
            if (command == kPause) {
                pause_until_resumed();
                continue;
            }
            if (command == kParkReserved) {
                park_reserved();
            }
            if (command == kParkRetained) {
                park_retained();
            }
            if (command == kParkFormat) {
                new_format();
                park("format");
            }
            if (format_every_ != 0 && index_ >= format_index_ + format_every_) {
                new_format();
                format_index_ = index_;
            }
            write_some(command == kFullSpeed);
        }
    }

private:
    std::size_t next_size() const { return zbtest::spec_for(seed_, index_, max_payload_, 0).payload_size; }

    void new_format()
    {
        auto generation = writer_.set_stream_metadata(format_text(seed_, generation_ + 1));
        if (!generation) {
            fail("set_stream_metadata", generation.error());
        }
        generation_ = *generation;
    }

    /// Writes one frame, or 2..3 reserved at once and committed in a random order (sequences go by commit).
    void write_some(bool full_speed)
    {
        const std::size_t open = zbtest::mix(seed_ ^ index_) % 8 == 0 ? 2 + index_ % 2 : 1;
        std::vector<zerobuffer::FrameReservation> reservations;
        for (std::size_t i = 0; i < open; ++i) {
            auto reservation = writer_.reserve(zbtest::spec_for(seed_, index_ + i, max_payload_, 0).payload_size,
                                               kStampSize, 1s);
            if (!reservation) {
                if (reservation.error().code == Errc::Timeout) {
                    return; // readers leave no room yet (one is parked lagging or holding): try again
                }
                fail("reserve", reservation.error());
            }
            reservations.push_back(std::move(*reservation));
        }
        // Commit the last one first when several are open: it gets the next sequence, so it carries that index.
        for (std::size_t k = reservations.size(); k-- > 0;) {
            zerobuffer::FrameReservation& reservation = reservations[k];
            const std::size_t size = reservation.payload().size(); // the stamp carries it
            const auto info = fill_frame(reservation.payload().first(size), reservation.metadata(), seed_, index_,
                                         generation_);
            if (auto committed = writer_.commit(reservation, info, size, kStampSize); !committed) {
                fail("commit", committed.error());
            }
            ++index_;
            shared_.store(kProgress, index_);
            shared_.store(kProgressTime, static_cast<std::uint64_t>(now_ns()));
        }
        if (!full_speed && pace_.count() > 0) {
            std::this_thread::sleep_for(pace_);
        }
    }

    [[noreturn]] void park_reserved()
    {
        const std::size_t open = 1 + seed_ % 3;
        std::vector<zerobuffer::FrameReservation> reservations;
        for (std::size_t i = 0; i < open; ++i) {
            auto reservation = writer_.reserve(next_size(), kStampSize, 1s);
            if (!reservation) {
                break; // no room: park with what is open
            }
            // Half filled: a frame that is never committed must never be seen.
            auto payload = reservation->payload();
            zbtest::fill_pattern(payload.first(payload.size() / 2), zbtest::payload_seed(seed_, index_ + i));
            reservations.push_back(std::move(*reservation));
        }
        park("reserved " + std::to_string(reservations.size()));
    }

    [[noreturn]] void park_retained()
    {
        const std::size_t count = 1 + seed_ % 3;
        std::vector<zerobuffer::RetainedFrame> retained;
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t size = next_size();
            auto reservation = writer_.reserve(size, kStampSize, 1s);
            if (!reservation) {
                break;
            }
            const auto info = fill_frame(reservation->payload(), reservation->metadata(), seed_, index_, generation_);
            auto frame = writer_.commit_retained(*reservation, info, size, kStampSize);
            if (!frame) {
                fail("commit_retained", frame.error());
            }
            retained.push_back(std::move(*frame));
            ++index_;
            shared_.store(kProgress, index_);
        }
        park("retained " + std::to_string(retained.size()));
    }

    void pause_until_resumed()
    {
        say("paused");
        while (shared_.load(kCommand) == kPause) {
            std::this_thread::sleep_for(1ms);
        }
    }

    zerobuffer::Writer writer_;
    zbtest::SharedCounters& shared_;
    std::uint64_t seed_;
    std::size_t max_payload_;
    std::chrono::microseconds pace_;
    std::uint64_t format_every_;
    std::uint64_t index_ = 0;
    std::uint64_t format_index_ = 0; ///< Index of the first frame of the current format.
    std::uint32_t generation_ = 0;
};

} // namespace

int writer_role(int argc, char** argv)
{
    const zbtest::ChildArgs args(argc, argv);
    zbtest::SharedCounters shared(3);
    zerobuffer::WriterOptions options;
    options.ring_size = args.get_u64("ring_size", 1 << 20);
    options.max_readers = static_cast<std::uint32_t>(args.get_u64("max_readers", 12));
    options.metadata_capacity = 4096;
    options.integrity = args.get("integrity") == "checksum" ? zerobuffer::Integrity::Checksum : zerobuffer::Integrity::None;
    options.reader_timeout = 1s;
    shared.store(kSeed, args.get_u64("seed"));
    auto writer = zerobuffer::Writer::create(args.get("name"), options);
    if (!writer) {
        fail("create ring '" + args.get("name") + "'", writer.error());
    }
    ChaosWriter chaos(std::move(*writer), shared, args);
    return chaos.run();
}

} // namespace zbchaos
