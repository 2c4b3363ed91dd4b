// SPDX-License-Identifier: MIT
// Library and protocol versions.
#pragma once

#include <cstdint>

namespace zerobuffer {

/// Version of the on-memory protocol (docs/protocol.md). A reader refuses segments of another version.
inline constexpr std::uint32_t kProtocolVersion = 2;

/// Library version, for --version output.
inline constexpr const char* kLibraryVersion = "0.1.0";

} // namespace zerobuffer
