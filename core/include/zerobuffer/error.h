// SPDX-License-Identifier: MIT
// Errors of libzerobuffer: one error enum for the core, returned as values, never thrown.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace zerobuffer {

/// What went wrong. Every value has a fixed meaning that callers may branch on.
enum class Errc {
    InvalidArgument,      ///< A parameter or option is out of range; the message names it.
    NotFound,             ///< No ring of that name exists (yet).
    Busy,                 ///< The ring already has a writer, or all reader slots are taken.
    Timeout,              ///< Nothing happened within the timeout (no frame, no space, no reader).
    WriterGone,           ///< The writer closed or died and every frame it committed has been read.
    CorruptSegment,       ///< A size, offset or field read from shared memory is invalid.
    VersionMismatch,      ///< The segment speaks another protocol version or layout.
    FrameTooLarge,        ///< The frame can never fit in this ring.
    ChecksumMismatch,     ///< A frame failed its BLAKE2b checksum.
    AuthenticationFailed, ///< A frame's MAC or the ring's key check failed: wrong or missing secret.
    InvalidState,         ///< The call is not allowed now (for example too many frames held).
    SystemError,          ///< An OS call failed; the message holds strerror and what to do.
};

/// An error value: a code to branch on and a message for humans that says what failed and what to do.
struct Error {
    Errc code;
    std::string message;
    int system_errno = 0; ///< errno of the failing OS call, 0 when not an OS failure.
};

/// The name of an error code, for logs ("Busy", "WriterGone", ...).
[[nodiscard]] std::string_view to_string(Errc code) noexcept;

/// Every fallible call of the core returns this: a value or an Error.
template <typename T>
using Result = tl::expected<T, Error>;

/// Shorthand used by the implementation and by callers that build errors.
[[nodiscard]] inline tl::unexpected<Error> make_error(Errc code, std::string message, int system_errno = 0)
{
    return tl::unexpected<Error>(Error{code, std::move(message), system_errno});
}

} // namespace zerobuffer
