// SPDX-License-Identifier: MIT
// Error text helpers of the FFmpeg I/O library.
#include "error.h"

#include <array>

extern "C" {
#include <libavutil/error.h>
}

namespace zbffmpeg {

std::string av_error_text(int av_error)
{
    std::array<char, AV_ERROR_MAX_STRING_SIZE> text{};
    if (av_strerror(av_error, text.data(), text.size()) < 0) {
        return "FFmpeg error " + std::to_string(av_error);
    }
    return text.data();
}

std::string_view to_string(FfmpegIoErrc code) noexcept
{
    switch (code) {
    case FfmpegIoErrc::InvalidArgument: return "InvalidArgument";
    case FfmpegIoErrc::InputUnavailable: return "InputUnavailable";
    case FfmpegIoErrc::InputInvalid: return "InputInvalid";
    case FfmpegIoErrc::Unsupported: return "Unsupported";
    case FfmpegIoErrc::RingError: return "RingError";
    case FfmpegIoErrc::OutputError: return "OutputError";
    case FfmpegIoErrc::Interrupted: return "Interrupted";
    case FfmpegIoErrc::Internal: return "Internal";
    }
    return "Unknown";
}

} // namespace zbffmpeg
