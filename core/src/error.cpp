// SPDX-License-Identifier: MIT
// Names of error codes.
#include <zerobuffer/error.h>

namespace zerobuffer {

std::string_view to_string(Errc code) noexcept
{
    switch (code) {
    case Errc::InvalidArgument: return "InvalidArgument";
    case Errc::NotFound: return "NotFound";
    case Errc::Busy: return "Busy";
    case Errc::Timeout: return "Timeout";
    case Errc::WriterGone: return "WriterGone";
    case Errc::CorruptSegment: return "CorruptSegment";
    case Errc::VersionMismatch: return "VersionMismatch";
    case Errc::FrameTooLarge: return "FrameTooLarge";
    case Errc::ChecksumMismatch: return "ChecksumMismatch";
    case Errc::AuthenticationFailed: return "AuthenticationFailed";
    case Errc::InvalidState: return "InvalidState";
    case Errc::SystemError: return "SystemError";
    }
    return "Unknown";
}

} // namespace zerobuffer
