// SPDX-License-Identifier: MIT
// JSON from the network, parsed with limits: nesting depth and value count are checked in one streaming (SAX) pass
// before any tree is built, so no recursive walk of nlohmann_json (dump, copy, compare) meets a document deeper
// than the limit, and a small request cannot become a huge tree.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace zerobuffer::relay {

struct JsonLimits {
    std::size_t max_depth;  ///< Objects and arrays nested at most this deep; the top-level value is at depth 1.
    std::size_t max_values; ///< Values in the whole document at most (object keys are not counted).
};

/// Why a JSON text was refused.
enum class JsonRefusal {
    NotJson, ///< Not valid JSON, or not valid UTF-8.
    TooDeep, ///< Nested deeper than JsonLimits::max_depth.
    TooMany, ///< More than JsonLimits::max_values values.
};

struct JsonProblem {
    JsonRefusal refusal = JsonRefusal::NotJson;
    bool top_level_object = false; ///< The document starts with an object.
    /// TooDeep and TooMany in a top-level object: the member whose value crossed the limit (control characters
    /// replaced, at most 40 bytes), so that a reply can name the field. Empty otherwise.
    std::string field;
    std::string message; ///< What is wrong and the limit, for people ("nested deeper than 16 levels").
};

/// Checks `text` against `limits` without building a tree; nullopt when it is JSON within them.
[[nodiscard]] std::optional<JsonProblem> check_json(std::string_view text, const JsonLimits& limits);

/// Parses `text` once check_json() passed it. Never throws.
[[nodiscard]] tl::expected<nlohmann::json, JsonProblem> parse_json_with_limits(std::string_view text,
                                                                               const JsonLimits& limits);

} // namespace zerobuffer::relay
