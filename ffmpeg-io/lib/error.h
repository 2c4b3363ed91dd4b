// SPDX-License-Identifier: MIT
// Errors of the FFmpeg I/O library: one enum class, a message for humans, returned as values (never thrown).
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace zbffmpeg {

/// What went wrong. The programs turn these into their documented exit codes (docs/ffmpeg.md).
enum class FfmpegIoErrc {
    InvalidArgument,  ///< A bad option value (pixel format, size, codec name...); the message names it.
    InputUnavailable, ///< The input cannot be opened: missing file, unreachable URL, unknown format.
    InputInvalid,     ///< The input opened but holds no usable video, or is corrupt beyond recovery.
    Unsupported,      ///< A codec, pixel format or container that FFmpeg or ZeroBuffer cannot handle here.
    RingError,        ///< The ring could not be created, attached, read or written (core error in message).
    OutputError,      ///< The output file or encoder could not be opened or written.
    Interrupted,      ///< Stopped by SIGINT/SIGTERM while waiting.
    Internal,         ///< An FFmpeg call failed in a way that is not the input's fault.
};

struct FfmpegIoError {
    FfmpegIoErrc code;
    std::string message;
};

template <typename T>
using Result = tl::expected<T, FfmpegIoError>;

[[nodiscard]] inline tl::unexpected<FfmpegIoError> make_error(FfmpegIoErrc code, std::string message)
{
    return tl::unexpected<FfmpegIoError>(FfmpegIoError{code, std::move(message)});
}

/// av_strerror() as a string ("No such file or directory", "Invalid data found when processing input").
[[nodiscard]] std::string av_error_text(int av_error);

/// The name of an error code, for logs.
[[nodiscard]] std::string_view to_string(FfmpegIoErrc code) noexcept;

/// Documented exit codes of both programs (docs/ffmpeg.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;       ///< Runtime failure: ring, FFmpeg internal error.
inline constexpr int kExitUsage = 2;         ///< Bad command line.
inline constexpr int kExitInput = 3;         ///< The input (media for zb-ingest, ring for zb-record) is unusable.
inline constexpr int kExitOutput = 4;        ///< The output (ring for zb-ingest, file for zb-record) cannot be written.
inline constexpr int kExitInterrupted = 130; ///< Interrupted while waiting, nothing recorded.

} // namespace zbffmpeg
