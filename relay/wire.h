// SPDX-License-Identifier: MIT
// zb-relay's wire format: fixed little-endian headers for frames, stream metadata and receiver control messages.
//
// Sender -> receiver, one ZeroMQ message of two parts:
//   part 1: FrameHeader (kFrameHeaderSize bytes) followed by the per-frame metadata blob (metadata_size bytes)
//   part 2: the payload (payload_size bytes): frame bytes, or the stream-metadata JSON document
// Receiver -> sender, one part: ControlMessage (kControlSize bytes): HELLO when a connection is up, CREDIT as
// frames are written, STREAM-REQUEST when the receiver can take payloads on a payload stream.
// Payload stream (plain tcp only, see payload_stream.h): the sender answers a STREAM-REQUEST with STREAM-OFFER
// (port and token); the receiver connects a TCP socket there and sends StreamHello; from then on a frame whose
// header has kHeaderPayloadOnStream has an empty part 2 and its payload follows on that socket, in header order.
// The layout is documented byte for byte in docs/relay.md ("Wire format").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include <tl/expected.hpp>
#include <zerobuffer/frame.h>

namespace zerobuffer::relay::wire {

inline constexpr std::uint32_t kFrameMagic = 0x4652425A;   ///< "ZBRF" in memory order.
inline constexpr std::uint32_t kControlMagic = 0x4352425A; ///< "ZBRC" in memory order.
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kFrameHeaderSize = 88;
inline constexpr std::size_t kControlSize = 32;
/// Largest per-frame metadata blob accepted from the network.
inline constexpr std::size_t kMaxMetadataBlob = std::size_t{1} << 20;
/// Largest stream-metadata document accepted from the network.
inline constexpr std::size_t kMaxStreamMetadata = std::size_t{1} << 20;
/// Deepest nesting of a stream-metadata document from the network (readers walk it recursively).
inline constexpr std::size_t kMaxStreamMetadataDepth = 32;
/// Header flags (the u32 at offset 84): the payload is on the payload stream, part 2 is empty.
inline constexpr std::uint32_t kHeaderPayloadOnStream = 1;
/// STREAM-OFFER body (part 2): u64 token, u16 port, 6 bytes zero.
inline constexpr std::size_t kStreamOfferSize = 16;
/// StreamHello, the first bytes on a payload stream: u32 magic "ZBRS", u16 version, u16 zero, u64 token.
inline constexpr std::uint32_t kStreamMagic = 0x5352425A;
inline constexpr std::size_t kStreamHelloSize = 16;

enum class Kind : std::uint16_t {
    Frame = 1,          ///< A frame: info in the header, blob after it, payload in part 2.
    StreamMetadata = 2, ///< A stream-metadata document (JSON) in part 2; format_generation says which.
    Ping = 3,           ///< Nothing: lets the sender find out whether a silent subscriber is still connected.
    StreamOffer = 4,    ///< Where to connect this session's payload stream (kStreamOfferSize bytes in part 2).
    Hello = 16,         ///< Receiver: a new session starts; the sender resets this peer.
    Credit = 17,        ///< Receiver: frames received so far in this session (flow control, keepalive).
    StreamRequest = 18, ///< Receiver: this session can take payloads on a payload stream (plain tcp).
};

struct FrameHeader {
    Kind kind = Kind::Frame;
    std::uint64_t session = 0;  ///< The receiver's session this message belongs to.
    std::uint64_t sequence = 0; ///< Sequence number in the source ring.
    std::uint32_t format_generation = 0;
    FrameInfo info;
    std::uint64_t payload_size = 0;
    std::uint32_t metadata_size = 0;
    std::uint32_t header_flags = 0; ///< kHeaderPayloadOnStream or 0.
};

struct StreamOffer {
    std::uint64_t token = 0;
    std::uint16_t port = 0;
};

struct ControlMessage {
    Kind kind = Kind::Credit;
    std::uint64_t session = 0;
    std::uint64_t received = 0; ///< Frames received in this session.
    std::uint32_t window = 0;   ///< Frames the sender may have in flight beyond `received`.
    std::uint32_t policy = 0;   ///< 0 lossless, 1 latest.
};

void encode(const FrameHeader& header, std::span<std::byte, kFrameHeaderSize> out) noexcept;
void encode(const ControlMessage& message, std::span<std::byte, kControlSize> out) noexcept;

/// Decodes the first part of a sender message; `part` is the whole part (header + blob). The error says
/// which field is wrong. Checks everything that can be checked without the payload part.
[[nodiscard]] tl::expected<FrameHeader, std::string> decode_frame_header(std::span<const std::byte> part);
[[nodiscard]] tl::expected<ControlMessage, std::string> decode_control(std::span<const std::byte> part);

void encode(const StreamOffer& offer, std::span<std::byte, kStreamOfferSize> out) noexcept;
[[nodiscard]] tl::expected<StreamOffer, std::string> decode_stream_offer(std::span<const std::byte> part);
void encode_stream_hello(std::uint64_t token, std::span<std::byte, kStreamHelloSize> out) noexcept;
/// The token of a StreamHello, or why the bytes are not one.
[[nodiscard]] tl::expected<std::uint64_t, std::string> decode_stream_hello(std::span<const std::byte> bytes);

} // namespace zerobuffer::relay::wire
