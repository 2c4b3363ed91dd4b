// SPDX-License-Identifier: MIT
// Pieces of the Prometheus text exposition format shared by zbctl metrics and zb-relay --metrics.
#pragma once

#include <string>
#include <string_view>

namespace zerobuffer::http {

/// A label value with backslash, double quote and newline escaped, as the format requires.
[[nodiscard]] std::string escape_label_value(std::string_view value);

} // namespace zerobuffer::http
