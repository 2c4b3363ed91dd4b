// SPDX-License-Identifier: MIT
// libFuzzer harness: zb-relay's wire decoder (docs/relay.md, "Wire format"), fed by network peers.
// Input: one byte choosing the decoder (frame header or control message), then the message part.
// Properties: no crash; a decoded message re-encodes to a part that decodes to the same fields.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "wire.h"

namespace wire = zerobuffer::relay::wire;

namespace {

[[noreturn]] void fail(const char* what)
{
    std::fprintf(stderr, "zb-fuzz: %s\n", what);
    std::abort();
}

void frame_header(std::span<const std::byte> part)
{
    auto header = wire::decode_frame_header(part);
    if (!header) {
        if (header.error().empty()) {
            fail("a refused frame header has no message");
        }
        return;
    }
    if (header->metadata_size > wire::kMaxMetadataBlob) {
        fail("a frame header with a metadata blob over the limit was accepted");
    }
    std::vector<std::byte> again(wire::kFrameHeaderSize + header->metadata_size);
    wire::encode(*header, std::span<std::byte, wire::kFrameHeaderSize>(again.data(), wire::kFrameHeaderSize));
    std::memcpy(again.data() + wire::kFrameHeaderSize, part.data() + wire::kFrameHeaderSize, header->metadata_size);
    auto second = wire::decode_frame_header(again);
    if (!second || second->sequence != header->sequence || second->session != header->session ||
        second->payload_size != header->payload_size || second->metadata_size != header->metadata_size ||
        second->kind != header->kind || second->format_generation != header->format_generation ||
        second->info.flags != header->info.flags || second->info.pts != header->info.pts) {
        fail("a decoded frame header does not survive encode and decode");
    }
}

void control(std::span<const std::byte> part)
{
    auto message = wire::decode_control(part);
    if (!message) {
        if (message.error().empty()) {
            fail("a refused control message has no message");
        }
        return;
    }
    std::array<std::byte, wire::kControlSize> again{};
    wire::encode(*message, again);
    auto second = wire::decode_control(again);
    if (!second || second->kind != message->kind || second->session != message->session ||
        second->received != message->received || second->window != message->window ||
        second->policy != message->policy) {
        fail("a decoded control message does not survive encode and decode");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1) {
        return 0;
    }
    // A copy of exactly the part's size, so ASan sees any read past its end.
    std::vector<std::byte> part(size - 1);
    std::copy_n(reinterpret_cast<const std::byte*>(data) + 1, size - 1, part.begin()); // memcpy: not with an empty part.
    if ((data[0] & 1) == 0) {
        frame_header(part);
    } else {
        control(part);
    }
    return 0;
}
