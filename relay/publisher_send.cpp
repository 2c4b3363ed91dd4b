// SPDX-License-Identifier: MIT
// Sending side of a network route, the frame path: each frame to every subscriber within its credit window
// (lossless waits, latest drops), GOP replays, pings; payloads from ring memory, lent to libzmq or queued on the
// subscriber's payload stream.
#include "publisher.h"

#include <algorithm>
#include <cstring>
#include <span>

#include <zmq.h>

#include "ring_io.h"
#include "wire.h"

namespace zerobuffer::relay {

namespace {

/// libzmq's free function for lent payloads; may run on libzmq's I/O thread (Frame::release is thread-safe).
void give_back_frame(void* /*data*/, void* hint)
{
    give_back(*static_cast<LentFrame*>(hint));
}

} // namespace

void Publisher::drop(Peer& peer, DropReason reason, const char* why)
{
    ++peer.dropped;
    ++peer.drops_counted;
    stats_.count_drop(reason);
    ++dropped_total_;
    stats_.drops.fetch_add(1, std::memory_order_relaxed);
    peer.need_keyframe = encoded_;
    if (peer.dropped == 1 || peer.dropped % 1000 == 0)
        log_route(route_name_, "subscriber #" + std::to_string(peer.number) + ": dropped frame (" + why + "), " +
                                   std::to_string(peer.dropped) + " dropped so far");
}

void Publisher::ping(const std::string& id, Peer& peer)
{
    wire::FrameHeader header;
    header.kind = wire::Kind::Ping;
    header.session = peer.session;
    std::array<std::byte, wire::kFrameHeaderSize> bytes{};
    wire::encode(header, bytes);
    if (zmq_send(router_.get(), id.data(), id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EHOSTUNREACH)
            peers_.depart(peer, "disconnected");
        return;
    }
    zmq_send(router_.get(), bytes.data(), bytes.size(), ZMQ_SNDMORE);
    zmq_send(router_.get(), nullptr, 0, 0);
}

void Publisher::send_metadata(const std::string& id, Peer& peer)
{
    peer.need_metadata = false;
    if (metadata_json_.empty())
        return;
    wire::FrameHeader header;
    header.kind = wire::Kind::StreamMetadata;
    header.session = peer.session;
    header.format_generation = metadata_generation_;
    header.payload_size = metadata_json_.size();
    std::array<std::byte, wire::kFrameHeaderSize> bytes{};
    wire::encode(header, bytes);
    if (zmq_send(router_.get(), id.data(), id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        peer.gone = true;
        return;
    }
    zmq_send(router_.get(), bytes.data(), bytes.size(), ZMQ_SNDMORE);
    zmq_send(router_.get(), metadata_json_.data(), metadata_json_.size(), 0);
}

bool Publisher::send_frame(const std::string& id, Peer& peer, LentFrame& lent, const FrameInfo& info)
{
    const Frame& frame = lent.frame;
    PayloadSender* stream = frame.payload().empty() ? nullptr : stream_of(id, peer);
    if (stream != nullptr && stream->broken()) {
        peers_.depart(peer, "lost its payload stream");
        return false;
    }
    if (zmq_send(router_.get(), id.data(), id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EHOSTUNREACH)
            peers_.depart(peer, "disconnected");
        else
            drop(peer, DropReason::QueueFull, "socket queue full");
        return false;
    }
    wire::FrameHeader header;
    header.kind = wire::Kind::Frame;
    header.session = peer.session;
    header.sequence = frame.sequence();
    header.format_generation = frame.format_generation();
    header.info = info;
    header.payload_size = frame.payload().size();
    header.metadata_size = static_cast<std::uint32_t>(frame.metadata().size());
    header.header_flags = stream != nullptr ? wire::kHeaderPayloadOnStream : 0;
    const std::size_t header_size = wire::kFrameHeaderSize + frame.metadata().size();
    if (header_buffer_.size() < header_size)
        header_buffer_.resize(header_size); // Grows once to the largest blob, then reused.
    wire::encode(header, std::span<std::byte, wire::kFrameHeaderSize>(header_buffer_.data(), wire::kFrameHeaderSize));
    if (!frame.metadata().empty())
        std::memcpy(header_buffer_.data() + wire::kFrameHeaderSize, frame.metadata().data(), frame.metadata().size());
    zmq_send(router_.get(), header_buffer_.data(), header_size, ZMQ_SNDMORE);
    if (frame.payload().empty()) {
        zmq_send(router_.get(), nullptr, 0, 0);
    } else if (stream != nullptr) {
        // The header went on ZeroMQ; the payload follows on the stream, written from ring memory by its thread.
        zmq_send(router_.get(), nullptr, 0, 0);
        lent.users.fetch_add(1, std::memory_order_relaxed);
        stream->push(lent);
    } else {
        // Zero copy: the message points into ring memory; libzmq gives the frame back through give_back_frame.
        lent.users.fetch_add(1, std::memory_order_relaxed);
        zmq_msg_t payload;
        // libzmq never writes through this pointer; the API only lacks a const overload.
        void* data = const_cast<std::byte*>(frame.payload().data());
        zmq_msg_init_data(&payload, data, frame.payload().size(), give_back_frame, &lent);
        if (zmq_msg_send(&payload, router_.get(), 0) < 0)
            zmq_msg_close(&payload);
    }
    ++peer.sent;
    ++peer.delivered;
    peer.sent_any = true;
    peer.last_sequence = frame.sequence();
    return true;
}

bool Publisher::replay(const std::string& id, Peer& peer)
{
    const std::span<const CachedFrame> cached_frames = gop_.frames();
    const std::size_t count = cached_frames.size() - 1; // The newest cached frame is the live one, sent next.
    const std::uint64_t sent_before = peer.sent;
    std::uint64_t undropped = 0;
    PayloadSender* stream = stream_of(id, peer);
    if (stream != nullptr && stream->broken()) {
        peers_.depart(peer, "lost its payload stream");
        return false;
    }
    for (std::size_t i = 0; i < count; ++i) {
        const CachedFrame& cached = cached_frames[i];
        const bool on_stream = stream != nullptr && !cached.payload().empty();
        if (zmq_send(router_.get(), id.data(), id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            if (zmq_errno() == EHOSTUNREACH)
                peers_.depart(peer, "disconnected");
            break; // Queue full: the live frame then shows the gap and the peer waits for the next keyframe.
        }
        wire::FrameHeader header;
        header.kind = wire::Kind::Frame;
        header.session = peer.session;
        header.sequence = cached.sequence;
        header.format_generation = cached.format_generation;
        header.info = cached.info;
        if (i == 0)
            header.info.flags |= kFrameDiscontinuity; // The peer joined or skipped: frames are missing before it.
        header.payload_size = cached.payload().size();
        header.metadata_size = static_cast<std::uint32_t>(cached.metadata_size);
        header.header_flags = on_stream ? wire::kHeaderPayloadOnStream : 0;
        const std::size_t header_size = wire::kFrameHeaderSize + cached.metadata_size;
        if (header_buffer_.size() < header_size)
            header_buffer_.resize(header_size);
        wire::encode(header,
                     std::span<std::byte, wire::kFrameHeaderSize>(header_buffer_.data(), wire::kFrameHeaderSize));
        if (cached.metadata_size > 0)
            std::memcpy(header_buffer_.data() + wire::kFrameHeaderSize, cached.bytes.data(), cached.metadata_size);
        zmq_send(router_.get(), header_buffer_.data(), header_size, ZMQ_SNDMORE);
        // A copy (libzmq's, or the stream's): the cache slot is reused by the next GOP while it may still queue.
        if (on_stream) {
            zmq_send(router_.get(), nullptr, 0, 0);
            stream->push_copy(cached.payload());
        } else {
            zmq_send(router_.get(), cached.payload().data(), cached.payload().size(), 0);
        }
        ++peer.sent;
        ++peer.delivered;
        peer.sent_any = true;
        peer.last_sequence = cached.sequence;
        if (peer.considered_any && cached.sequence >= peer.first_considered)
            ++undropped; // Counted as dropped for this peer when it went by: delivered after all.
    }
    const std::uint64_t sent = peer.sent - sent_before;
    peer.burst = sent; // send() starts no replay before the previous one is acknowledged
    peer.burst_end = peer.sent;
    undropped = std::min(undropped, peer.dropped);
    peer.dropped -= undropped;
    dropped_total_ -= undropped;
    stats_.drops.fetch_sub(undropped, std::memory_order_relaxed);
    stats_.recovered.fetch_add(undropped, std::memory_order_relaxed);
    if (++peer.replays == 1 || peer.replays % 1000 == 0)
        log_route(route_name_, "subscriber #" + std::to_string(peer.number) + ": resumed from the newest keyframe (" +
                                   "sequence " + std::to_string(cached_frames[0].sequence) + ", " +
                                   std::to_string(count) + " cached frame(s)), " + std::to_string(peer.replays) +
                                   " resumption(s) so far");
    return sent == count;
}

bool Publisher::has_credit(const Peer& peer) const noexcept
{
    // Frames replayed from the GOP cache do not use up the window until the receiver has acknowledged them.
    const std::uint64_t allowance = peer.acked < peer.burst_end ? peer.burst : 0;
    return peer.sent - peer.acked < peer.window + allowance;
}

LentFrame* Publisher::take_lent_frame(const std::atomic<bool>& stop)
{
    while (!stop.load(std::memory_order_relaxed)) {
        for (std::size_t i = 0; i < kLentFrames; ++i)
            if (!lent_[i].busy.load(std::memory_order_acquire))
                return &lent_[i];
        service(std::chrono::milliseconds(1)); // All lent: libzmq is still sending; keep serving subscribers.
    }
    return nullptr;
}

void Publisher::send(Frame frame, FrameInfo info, const std::atomic<bool>& stop)
{
    peers_.erase_gone();
    gop_.add(frame, info, encoded_);
    if (peers_.empty()) {
        // Nobody subscribed: the frame is released unsent; counted and logged, not charged to any subscriber.
        if (unsent_++ == 0 || unsent_ % 1000 == 0)
            log_route(route_name_, "no subscriber: " + std::to_string(unsent_) +
                                       " frame(s) not sent (use ?wait-peers=N to wait for subscribers)");
        return;
    }
    LentFrame* lent = take_lent_frame(stop);
    if (lent == nullptr)
        return;
    lent->frame = std::move(frame);
    lent->busy.store(true, std::memory_order_relaxed);
    lent->users.store(1, std::memory_order_relaxed); // The reference of this function, dropped at the end.
    const bool must_deliver = (info.flags & kFrameEndOfStream) != 0;
    const bool starts_decoding = (info.flags & (kFrameKeyframe | kFrameHeader)) != 0;
    for (auto& [id, peer] : peers_.peers()) {
        if (peer.gone)
            continue;
        if (peer.need_metadata)
            send_metadata(id, peer);
        const std::uint64_t sequence = lent->frame.sequence();
        if (!peer.considered_any || sequence <= peer.last_considered) {
            // First frame for this peer, or the source ring restarted (its sequence numbers start again): what
            // the peer got before says nothing about the frames of this incarnation.
            peer.considered_any = true;
            peer.first_considered = sequence;
            peer.sent_any = false;
        }
        peer.last_considered = sequence;
        if (encoded_ && peer.need_keyframe && !starts_decoding && !must_deliver) {
            // One replay in flight at a time: what a receiver may have to hold stays window + one cache bound
            // (its connection guard relies on it), even when it is stuck and new GOPs keep coming.
            const bool replay_in_flight = peer.acked < peer.burst_end;
            if (replay_in_flight || !gop_.can_replay(peer.sent_any, peer.last_sequence, sequence)) {
                drop(peer, DropReason::KeyframeWait, "waiting for a keyframe");
                continue;
            }
            // The cached GOP first, then this frame live: no gap, no duplicate.
            if (!replay(id, peer)) {
                if (!peer.gone)
                    drop(peer, DropReason::QueueFull, "socket queue full while resuming from the keyframe");
                continue;
            }
        }
        bool deliver = true;
        auto last_ping = std::chrono::steady_clock::now();
        while (!peer.gone && !has_credit(peer)) {
            if (peer.policy == FlowPolicy::Latest && !must_deliver) {
                drop(peer, DropReason::NoCredit, "subscriber has no credit, policy latest");
                deliver = false;
                break;
            }
            if (stop.load(std::memory_order_relaxed)) {
                deliver = false;
                break;
            }
            service(std::chrono::milliseconds(20)); // Lossless: wait for credit (back-pressure to the ring).
            if (std::chrono::steady_clock::now() - last_ping > std::chrono::milliseconds(500)) {
                ping(id, peer); // A subscriber killed without goodbye must not block the others forever.
                last_ping = std::chrono::steady_clock::now();
            }
        }
        if (deliver && !peer.gone && send_frame(id, peer, *lent, info))
            peer.need_keyframe = false;
    }
    give_back_frame(nullptr, lent);
}

} // namespace zerobuffer::relay
