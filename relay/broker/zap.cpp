// SPDX-License-Identifier: MIT
// Answering libzmq's ZAP requests (RFC 27): one implementation for zb-relay's routes and its broker.
#include "zap.h"

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include <zmq.h>

#include "zmq_handles.h"

namespace zerobuffer::relay {

namespace {

constexpr std::size_t kRawKeyBytes = 32;
/// A ZAP request has 7 frames for CURVE; more are read and dropped, never stored.
constexpr std::size_t kMaxFrames = 8;

} // namespace

std::optional<ZapDecision> answer_zap_request(void* zap_socket, const AllowedCurveKeys& allowed)
{
    // Request frames: version, request id, domain, address, routing id, mechanism, credentials...
    std::vector<detail::Message> frames;
    for (;;) {
        detail::Message frame;
        if (zmq_msg_recv(frame.get(), zap_socket, ZMQ_DONTWAIT) < 0) {
            if (frames.empty()) {
                return std::nullopt;
            }
            break; // a cut request still gets its answer: REP must reply before it can read the next one
        }
        const bool more = frame.more();
        if (frames.size() < kMaxFrames) {
            frames.push_back(std::move(frame));
        }
        if (!more) {
            break;
        }
    }
    ZapDecision decision;
    std::string request_id;
    if (frames.size() >= 2) {
        request_id = std::string(frames[1].view());
    }
    if (frames.size() >= 6) {
        decision.address = std::string(frames[3].view());
        decision.mechanism = std::string(frames[5].view());
    }
    if (frames.size() >= 7 && decision.mechanism == "CURVE" && frames[6].size() == kRawKeyBytes) {
        const std::string_view key = frames[6].view();
        decision.allowed = allowed.contains(key);
        std::array<char, 41> z85{};
        zmq_z85_encode(z85.data(), reinterpret_cast<const std::uint8_t*>(key.data()), key.size());
        decision.client_key = z85.data();
    }
    // The user id of an admitted client is its Z85 key: libzmq hands it to the application as the "User-Id"
    // property of every message from that client (the broker ties stream names to it).
    const std::array<std::string, 6> reply{"1.0",
                                           request_id,
                                           decision.allowed ? "200" : "400",
                                           decision.allowed ? "OK" : "key not allowed",
                                           decision.allowed ? decision.client_key : "",
                                           ""};
    for (std::size_t i = 0; i < reply.size(); ++i) {
        const int flags = i + 1 < reply.size() ? ZMQ_SNDMORE : 0;
        if (zmq_send(zap_socket, reply[i].data(), reply[i].size(), flags) < 0) {
            break;
        }
    }
    return decision;
}

} // namespace zerobuffer::relay
