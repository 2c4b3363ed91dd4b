// SPDX-License-Identifier: MIT
// Per-frame digests (BLAKE2b-256, keyed for MACs) and the ring's key check, over libsodium.
#pragma once

#include "private.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <zerobuffer/error.h>
#include <zerobuffer/options.h>

namespace zerobuffer::detail {

inline constexpr std::size_t kDigestSize = 32;
using Digest = std::array<std::uint8_t, kDigestSize>;

/// The key material of one side of a ring. Integrity::None needs nothing, Checksum no key, Mac a secret.
class FrameDigester {
public:
    /// Derives the MAC key from the secret (BLAKE2b of the secret; the secret must already be high-entropy).
    [[nodiscard]] static Result<FrameDigester> make(Integrity mode, std::string_view secret);

    [[nodiscard]] Integrity mode() const noexcept { return mode_; }
    [[nodiscard]] Digest digest(std::span<const std::byte> header, std::span<const std::byte> metadata,
                                std::span<const std::byte> payload) const noexcept;
    /// Constant-time comparison.
    [[nodiscard]] static bool equal(const Digest& a, const std::uint8_t* b) noexcept;
    /// Keyed hash of the ring's salt, stored in the control block so a wrong secret fails at attach.
    [[nodiscard]] Digest key_check(std::span<const std::uint8_t> salt) const noexcept;

private:
    Integrity mode_ = Integrity::None;
    std::array<std::uint8_t, 32> key_{};
};

} // namespace zerobuffer::detail
