// SPDX-License-Identifier: MIT
// BLAKE2b digests and MACs of frames via libsodium's crypto_generichash.
#include "integrity.h"

#include <sodium.h>

namespace zerobuffer::detail {

Result<FrameDigester> FrameDigester::make(Integrity mode, std::string_view secret)
{
    if (sodium_init() < 0)
        return make_error(Errc::SystemError, "libsodium failed to initialise");
    FrameDigester digester;
    digester.mode_ = mode;
    if (mode == Integrity::Mac) {
        if (secret.empty())
            return make_error(Errc::AuthenticationFailed,
                              "the ring is protected by a MAC: give the shared secret (option 'secret')");
        crypto_generichash(digester.key_.data(), digester.key_.size(), reinterpret_cast<const unsigned char*>(secret.data()),
                           secret.size(), nullptr, 0);
    }
    return digester;
}

Digest FrameDigester::digest(std::span<const std::byte> header, std::span<const std::byte> metadata,
                             std::span<const std::byte> payload) const noexcept
{
    crypto_generichash_state state;
    const bool keyed = mode_ == Integrity::Mac;
    crypto_generichash_init(&state, keyed ? key_.data() : nullptr, keyed ? key_.size() : 0, kDigestSize);
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(header.data()), header.size());
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(metadata.data()), metadata.size());
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
    Digest out{};
    crypto_generichash_final(&state, out.data(), out.size());
    return out;
}

bool FrameDigester::equal(const Digest& a, const std::uint8_t* b) noexcept
{
    return sodium_memcmp(a.data(), b, a.size()) == 0;
}

Digest FrameDigester::key_check(std::span<const std::uint8_t> salt) const noexcept
{
    Digest out{};
    crypto_generichash(out.data(), out.size(), salt.data(), salt.size(), key_.data(), key_.size());
    return out;
}

} // namespace zerobuffer::detail
