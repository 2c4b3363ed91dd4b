// SPDX-License-Identifier: MIT
// Output rings (one copy per frame, lossless or latest) and the restart-tolerant source ring of a route.
#include "ring_io.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include <zerobuffer/inspect.h>
#include <zerobuffer/stream_format.h>

namespace zerobuffer::relay {

void log_route(const std::string& route, const std::string& message)
{
    std::fprintf(stderr, "zb-relay: route %s: %s\n", route.c_str(), message.c_str());
}

bool is_encoded_stream(const std::string& stream_metadata_json)
{
    if (stream_metadata_json.empty())
        return false;
    auto format = parse_stream_format(stream_metadata_json);
    if (!format)
        return false;
    return format->media_type != "video/x-raw" && format->media_type != "audio/x-raw" &&
           format->media_type != "application/octet-stream";
}

OutputRing::OutputRing(Endpoint endpoint, std::string route_name, RouteStats& stats)
    : endpoint_(std::move(endpoint)), route_name_(std::move(route_name)), stats_(&stats)
{
}

RelayResult<void> OutputRing::open()
{
    WriterOptions options;
    options.ring_size = endpoint_.ring_size;
    options.max_readers = endpoint_.max_readers;
    options.metadata_capacity = endpoint_.metadata_capacity;
    auto writer = Writer::create(endpoint_.address, options);
    if (!writer)
        return relay_error(RelayErrc::Ring,
                           "cannot create output ring '" + endpoint_.address + "': " + writer.error().message);
    writer_.emplace(std::move(*writer));
    return {};
}

bool OutputRing::readers_ready()
{
    return writer_->reader_count() >= endpoint_.wait_readers;
}

void OutputRing::publish_stream_metadata(const std::string& json)
{
    if (json.empty() || json == published_)
        return;
    auto generation = writer_->set_stream_metadata(json);
    if (!generation) {
        log_route(route_name_, "output ring '" + endpoint_.address + "': cannot publish stream metadata: " +
                                   generation.error().message + " (raise ?metadata-size=)");
        return;
    }
    published_ = json;
}

void OutputRing::count_drop(DropReason reason, std::string_view why)
{
    ++dropped_;
    stats_->count_drop(reason);
    // The first drop is always logged, later ones at most every 1000 (the status line has the running count).
    if (dropped_ == 1 || dropped_ % 1000 == 0)
        log_route(route_name_, "output ring '" + endpoint_.address + "': dropped frame (" + std::string(why) + "), " +
                                   std::to_string(dropped_) + " dropped so far");
}

OutputRing::Outcome OutputRing::write(std::span<const std::byte> payload, std::span<const std::byte> metadata,
                                      FrameInfo info, bool encoded, const std::atomic<bool>& stop)
{
    return write_filled(payload.size(), metadata, info, encoded, stop, [payload](std::span<std::byte> target) {
        if (!payload.empty())
            std::memcpy(target.data(), payload.data(), payload.size());
        return true;
    });
}

OutputRing::Outcome OutputRing::write_filled(std::size_t payload_size, std::span<const std::byte> metadata,
                                             FrameInfo info, bool encoded, const std::atomic<bool>& stop,
                                             const Fill& fill)
{
    const bool must_deliver = (info.flags & kFrameEndOfStream) != 0;
    if (encoded && need_keyframe_ && (info.flags & (kFrameKeyframe | kFrameHeader)) == 0 && !must_deliver) {
        count_drop(DropReason::KeyframeWait, "waiting for a keyframe after a drop");
        return Outcome::Dropped;
    }
    const bool latest = endpoint_.policy == FlowPolicy::Latest && !must_deliver;
    const auto timeout =
        latest ? std::chrono::nanoseconds(0) : std::chrono::nanoseconds(std::chrono::milliseconds(200));
    FrameReservation reservation;
    for (;;) {
        auto reserved = writer_->reserve(payload_size, metadata.size(), timeout);
        if (reserved) {
            reservation = std::move(*reserved);
            break;
        }
        if (reserved.error().code == Errc::Timeout) {
            if (latest) {
                pending_discontinuity_ = true;
                need_keyframe_ = encoded;
                count_drop(DropReason::RingFull, "ring full, policy latest");
                return Outcome::Dropped;
            }
            if (stop.load(std::memory_order_relaxed))
                return Outcome::Stopped;
            continue;
        }
        pending_discontinuity_ = true;
        need_keyframe_ = encoded;
        count_drop(DropReason::RingError, reserved.error().message);
        return Outcome::Dropped;
    }
    if (!fill(reservation.payload())) {
        reservation.abort(); // Incomplete bytes: never published. The frames after it follow a gap.
        pending_discontinuity_ = true;
        need_keyframe_ = encoded;
        count_drop(DropReason::RingError, "its payload did not arrive whole");
        return Outcome::Broken;
    }
    need_keyframe_ = false;
    if (!metadata.empty())
        std::memcpy(reservation.metadata().data(), metadata.data(), metadata.size());
    if (pending_discontinuity_)
        info.flags |= kFrameDiscontinuity;
    auto committed = writer_->commit(reservation, info);
    if (!committed) {
        count_drop(DropReason::RingError, committed.error().message);
        return Outcome::Dropped;
    }
    pending_discontinuity_ = false;
    ++written_;
    return Outcome::Written;
}

void OutputRing::log_summary() const
{
    log_route(route_name_, "output ring '" + endpoint_.address + "': " + std::to_string(written_) + " written, " +
                               std::to_string(dropped_) + " dropped");
}

RingSource::RingSource(std::string ring_name, ReaderPolicy policy, std::string route_name)
    : ring_name_(std::move(ring_name)), policy_(policy), route_name_(std::move(route_name))
{
}

const std::string& RingSource::stream_metadata() const
{
    return reader_ ? reader_->stream_metadata() : empty_;
}

void RingSource::detach() noexcept
{
    reader_.reset();
    gone_ = false;
}

std::optional<Frame> RingSource::next(std::chrono::milliseconds wait, bool& discontinuity)
{
    metadata_changed_ = false;
    discontinuity = false;
    if (gone_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return std::nullopt;
    }
    if (!reader_) {
        // A ring whose writer is gone and that we already drained: wait for a new writer to take it over.
        // (A new ring whose writer already finished is still read: its frames are there until drained.)
        if (auto ring = inspect_ring(ring_name_);
            ring && !ring->writer_alive && std::pair{ring->writer_pid, ring->created_realtime_ns} == drained_) {
            std::this_thread::sleep_for(wait);
            return std::nullopt;
        }
        ReaderOptions options;
        options.policy = policy_;
        options.start_at = StartAt::NextFrame;
        auto reader = Reader::attach(ring_name_, options);
        if (!reader) {
            if (!waiting_logged_)
                log_route(route_name_, "waiting for source ring '" + ring_name_ + "' (" +
                                           std::string(to_string(reader.error().code)) + ": " + reader.error().message +
                                           ")");
            waiting_logged_ = true;
            std::this_thread::sleep_for(wait);
            return std::nullopt;
        }
        reader_.emplace(std::move(*reader));
        waiting_logged_ = false;
        fresh_attach_ = true;
        log_route(route_name_, "attached to source ring '" + ring_name_ + "'");
    }
    auto frame = reader_->acquire(wait);
    if (!frame) {
        const Errc code = frame.error().code;
        if (code == Errc::Timeout)
            return std::nullopt;
        if (code == Errc::WriterGone) {
            if (auto ring = inspect_ring(ring_name_); ring)
                drained_ = {ring->writer_pid, ring->created_realtime_ns};
            lost_writer_ = !saw_end_of_stream_;
            log_route(route_name_, "source ring '" + ring_name_ + "': writer " +
                                       (lost_writer_ ? "died without end-of-stream" : "finished") +
                                       "; waiting for a new writer");
        } else {
            log_route(route_name_, "source ring '" + ring_name_ + "': " + std::string(to_string(code)) + ": " +
                                       frame.error().message);
            if (code != Errc::CorruptSegment && code != Errc::VersionMismatch && code != Errc::InvalidState)
                return std::nullopt; // Checksum failures and the like: the frame is lost, the ring goes on.
            lost_writer_ = true;
        }
        // The caller detaches once it holds no frame of this reader any more.
        gone_ = true;
        return std::nullopt;
    }
    const bool first = fresh_attach_;
    fresh_attach_ = false;
    metadata_changed_ = first || frame->format_changed();
    discontinuity = frame->frames_skipped() > 0 || (first && (lost_writer_ || frame->sequence() != 0));
    lost_writer_ = false;
    saw_end_of_stream_ = (frame->info().flags & kFrameEndOfStream) != 0;
    return std::move(*frame);
}

} // namespace zerobuffer::relay
