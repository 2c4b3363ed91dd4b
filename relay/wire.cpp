// SPDX-License-Identifier: MIT
// Encoding and strict decoding of zb-relay's wire headers (never trusts a byte from the network).
#include "wire.h"

#include <bit>
#include <cstring>

namespace zerobuffer::relay::wire {

static_assert(std::endian::native == std::endian::little, "the wire format is little-endian; add byte swaps");

namespace {

template <typename T>
void put(std::byte* out, std::size_t offset, T value) noexcept
{
    std::memcpy(out + offset, &value, sizeof value);
}

template <typename T>
T get(const std::byte* in, std::size_t offset) noexcept
{
    T value{};
    std::memcpy(&value, in + offset, sizeof value);
    return value;
}

} // namespace

void encode(const FrameHeader& header, std::span<std::byte, kFrameHeaderSize> out) noexcept
{
    std::byte* p = out.data();
    put(p, 0, kFrameMagic);
    put(p, 4, kVersion);
    put(p, 6, static_cast<std::uint16_t>(header.kind));
    put(p, 8, header.session);
    put(p, 16, header.sequence);
    put(p, 24, header.format_generation);
    put(p, 28, header.info.flags);
    put(p, 32, header.info.pts);
    put(p, 40, header.info.dts);
    put(p, 48, header.info.duration);
    put(p, 56, header.info.offset);
    put(p, 64, header.info.offset_end);
    put(p, 72, header.payload_size);
    put(p, 80, header.metadata_size);
    put(p, 84, header.header_flags);
}

void encode(const ControlMessage& message, std::span<std::byte, kControlSize> out) noexcept
{
    std::byte* p = out.data();
    put(p, 0, kControlMagic);
    put(p, 4, kVersion);
    put(p, 6, static_cast<std::uint16_t>(message.kind));
    put(p, 8, message.session);
    put(p, 16, message.received);
    put(p, 24, message.window);
    put(p, 28, message.policy);
}

tl::expected<FrameHeader, std::string> decode_frame_header(std::span<const std::byte> part)
{
    if (part.size() < kFrameHeaderSize)
        return tl::unexpected("header part of " + std::to_string(part.size()) + " bytes is shorter than " +
                              std::to_string(kFrameHeaderSize));
    const std::byte* p = part.data();
    if (get<std::uint32_t>(p, 0) != kFrameMagic)
        return tl::unexpected(std::string("wrong magic (not a zb-relay frame message)"));
    if (const auto version = get<std::uint16_t>(p, 4); version != kVersion)
        return tl::unexpected("wire version " + std::to_string(version) + " is not " + std::to_string(kVersion) +
                              " (upgrade both relays to the same release)");
    FrameHeader header;
    const auto kind = get<std::uint16_t>(p, 6);
    if (kind != static_cast<std::uint16_t>(Kind::Frame) && kind != static_cast<std::uint16_t>(Kind::StreamMetadata) &&
        kind != static_cast<std::uint16_t>(Kind::Ping) && kind != static_cast<std::uint16_t>(Kind::StreamOffer))
        return tl::unexpected("unknown message kind " + std::to_string(kind));
    header.kind = static_cast<Kind>(kind);
    header.session = get<std::uint64_t>(p, 8);
    header.sequence = get<std::uint64_t>(p, 16);
    header.format_generation = get<std::uint32_t>(p, 24);
    header.info.flags = get<std::uint32_t>(p, 28);
    header.info.pts = get<std::int64_t>(p, 32);
    header.info.dts = get<std::int64_t>(p, 40);
    header.info.duration = get<std::int64_t>(p, 48);
    header.info.offset = get<std::uint64_t>(p, 56);
    header.info.offset_end = get<std::uint64_t>(p, 64);
    header.payload_size = get<std::uint64_t>(p, 72);
    header.metadata_size = get<std::uint32_t>(p, 80);
    header.header_flags = get<std::uint32_t>(p, 84);
    if ((header.header_flags & ~kHeaderPayloadOnStream) != 0)
        return tl::unexpected("reserved header field bits are not zero (header flags " +
                              std::to_string(header.header_flags) + ")");
    if (header.header_flags != 0 && header.kind != Kind::Frame)
        return tl::unexpected(std::string("only a frame's payload goes on the payload stream"));
    if (header.metadata_size != part.size() - kFrameHeaderSize)
        return tl::unexpected("metadata_size " + std::to_string(header.metadata_size) + " does not match the " +
                              std::to_string(part.size() - kFrameHeaderSize) + " bytes after the header");
    if (header.metadata_size > kMaxMetadataBlob)
        return tl::unexpected("metadata blob of " + std::to_string(header.metadata_size) + " bytes is over the limit");
    if (header.kind == Kind::StreamMetadata) {
        if (header.metadata_size != 0)
            return tl::unexpected(std::string("stream-metadata message with a metadata blob"));
        if (header.payload_size == 0 || header.payload_size > kMaxStreamMetadata)
            return tl::unexpected("stream-metadata document of " + std::to_string(header.payload_size) +
                                  " bytes is empty or over the limit");
    }
    if (header.kind == Kind::Ping && (header.metadata_size != 0 || header.payload_size != 0))
        return tl::unexpected(std::string("ping message with a body"));
    if (header.kind == Kind::StreamOffer && (header.metadata_size != 0 || header.payload_size != kStreamOfferSize))
        return tl::unexpected(std::string("stream offer of the wrong size"));
    return header;
}

tl::expected<ControlMessage, std::string> decode_control(std::span<const std::byte> part)
{
    if (part.size() != kControlSize)
        return tl::unexpected("control message of " + std::to_string(part.size()) + " bytes, expected " +
                              std::to_string(kControlSize));
    const std::byte* p = part.data();
    if (get<std::uint32_t>(p, 0) != kControlMagic)
        return tl::unexpected(std::string("wrong magic (not a zb-relay control message)"));
    if (const auto version = get<std::uint16_t>(p, 4); version != kVersion)
        return tl::unexpected("wire version " + std::to_string(version) + " is not " + std::to_string(kVersion));
    ControlMessage message;
    const auto kind = get<std::uint16_t>(p, 6);
    if (kind != static_cast<std::uint16_t>(Kind::Hello) && kind != static_cast<std::uint16_t>(Kind::Credit) &&
        kind != static_cast<std::uint16_t>(Kind::StreamRequest))
        return tl::unexpected("unknown control kind " + std::to_string(kind));
    message.kind = static_cast<Kind>(kind);
    message.session = get<std::uint64_t>(p, 8);
    message.received = get<std::uint64_t>(p, 16);
    message.window = get<std::uint32_t>(p, 24);
    message.policy = get<std::uint32_t>(p, 28);
    if (message.window == 0 || message.window > 64)
        return tl::unexpected("window " + std::to_string(message.window) + " is not 1..64");
    if (message.policy > 1)
        return tl::unexpected("policy " + std::to_string(message.policy) + " is not 0 (lossless) or 1 (latest)");
    return message;
}

void encode(const StreamOffer& offer, std::span<std::byte, kStreamOfferSize> out) noexcept
{
    std::memset(out.data(), 0, out.size());
    put(out.data(), 0, offer.token);
    put(out.data(), 8, offer.port);
}

tl::expected<StreamOffer, std::string> decode_stream_offer(std::span<const std::byte> part)
{
    if (part.size() != kStreamOfferSize)
        return tl::unexpected("stream offer of " + std::to_string(part.size()) + " bytes, expected " +
                              std::to_string(kStreamOfferSize));
    StreamOffer offer;
    offer.token = get<std::uint64_t>(part.data(), 0);
    offer.port = get<std::uint16_t>(part.data(), 8);
    for (std::size_t i = 10; i < kStreamOfferSize; ++i)
        if (part[i] != std::byte{0})
            return tl::unexpected(std::string("stream offer: reserved bytes are not zero"));
    if (offer.port == 0)
        return tl::unexpected(std::string("stream offer of port 0"));
    return offer;
}

void encode_stream_hello(std::uint64_t token, std::span<std::byte, kStreamHelloSize> out) noexcept
{
    std::byte* p = out.data();
    put(p, 0, kStreamMagic);
    put(p, 4, kVersion);
    put(p, 6, std::uint16_t{0});
    put(p, 8, token);
}

tl::expected<std::uint64_t, std::string> decode_stream_hello(std::span<const std::byte> bytes)
{
    if (bytes.size() != kStreamHelloSize)
        return tl::unexpected(std::string("stream hello of the wrong size"));
    if (get<std::uint32_t>(bytes.data(), 0) != kStreamMagic)
        return tl::unexpected(std::string("wrong magic (not a zb-relay payload stream)"));
    if (get<std::uint16_t>(bytes.data(), 4) != kVersion || get<std::uint16_t>(bytes.data(), 6) != 0)
        return tl::unexpected(std::string("payload stream of another wire version"));
    return get<std::uint64_t>(bytes.data(), 8);
}

} // namespace zerobuffer::relay::wire
