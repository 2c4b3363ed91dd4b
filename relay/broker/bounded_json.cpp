// SPDX-License-Identifier: MIT
// Depth- and size-limited JSON parsing: a SAX pass (nlohmann's parser is iterative) that stops at the first limit.
#include "bounded_json.h"

#include <exception>

namespace zerobuffer::relay {

namespace {

using Json = nlohmann::json;

/// A member name as it may appear in a message: bounded, without control characters.
std::string shown_key(const std::string& key)
{
    constexpr std::size_t kShown = 40;
    std::string out;
    for (const char c : std::string_view(key).substr(0, kShown)) {
        const auto byte = static_cast<unsigned char>(c);
        out += byte < 0x20 || byte == 0x7f ? '?' : c;
    }
    return key.size() > kShown ? out + "..." : out;
}

/// Counts depth and values as the parser streams events, and stops it at the first limit crossed.
class LimitChecker final : public nlohmann::json_sax<Json> {
public:
    explicit LimitChecker(const JsonLimits& limits) : limits_(limits) {}

    bool null() override { return value(); }
    bool boolean(bool /*value*/) override { return value(); }
    bool number_integer(number_integer_t /*value*/) override { return value(); }
    bool number_unsigned(number_unsigned_t /*value*/) override { return value(); }
    bool number_float(number_float_t /*value*/, const string_t& /*text*/) override { return value(); }
    bool string(string_t& /*value*/) override { return value(); }
    bool binary(binary_t& /*value*/) override { return value(); }
    bool start_object(std::size_t /*elements*/) override { return open(true); }
    bool key(string_t& key) override
    {
        if (depth_ == 1) {
            field_ = key;
        }
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t /*elements*/) override { return open(false); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& /*error*/) override
    {
        problem_ = JsonProblem{JsonRefusal::NotJson, top_level_object_, {}, "not valid JSON (UTF-8 text)"};
        return false;
    }

    [[nodiscard]] std::optional<JsonProblem> problem() const { return problem_; }

private:
    bool value()
    {
        if (++values_ > limits_.max_values) {
            refuse(JsonRefusal::TooMany, "holds more than " + std::to_string(limits_.max_values) + " values");
            return false;
        }
        return true;
    }
    bool open(bool object)
    {
        if (depth_ == 0) {
            top_level_object_ = object;
        }
        if (!value()) {
            return false;
        }
        if (++depth_ > limits_.max_depth) {
            refuse(JsonRefusal::TooDeep, "is nested deeper than " + std::to_string(limits_.max_depth) + " levels");
            return false;
        }
        return true;
    }
    bool close()
    {
        --depth_;
        return true;
    }
    void refuse(JsonRefusal refusal, std::string what)
    {
        const bool in_field = top_level_object_ && depth_ >= 1;
        problem_ =
            JsonProblem{refusal, top_level_object_, in_field ? shown_key(field_) : std::string(), std::move(what)};
    }

    JsonLimits limits_;
    std::size_t depth_ = 0;
    std::size_t values_ = 0;
    bool top_level_object_ = false;
    std::string field_;
    std::optional<JsonProblem> problem_;
};

} // namespace

std::optional<JsonProblem> check_json(std::string_view text, const JsonLimits& limits)
{
    LimitChecker checker(limits);
    try {
        const bool accepted = Json::sax_parse(text, &checker, Json::input_format_t::json, /*strict=*/true);
        if (accepted) {
            return std::nullopt;
        }
    } catch (const std::exception&) {
        // sax_parse reports through parse_error(); anything thrown beyond it (allocation) refuses the text too.
    }
    if (auto problem = checker.problem()) {
        return problem;
    }
    return JsonProblem{JsonRefusal::NotJson, false, {}, "not valid JSON (UTF-8 text)"};
}

tl::expected<nlohmann::json, JsonProblem> parse_json_with_limits(std::string_view text, const JsonLimits& limits)
{
    if (auto problem = check_json(text, limits)) {
        return tl::unexpected(std::move(*problem));
    }
    Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
        return tl::unexpected(JsonProblem{JsonRefusal::NotJson, false, {}, "not valid JSON (UTF-8 text)"});
    }
    return parsed;
}

} // namespace zerobuffer::relay
