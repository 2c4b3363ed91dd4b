// SPDX-License-Identifier: MIT
// Test helper: checks a JSON document on stdin against expectations given as JSON pointers.
//
//   zb-json-check [--select ARRAY KEY VALUE] CHECK...
//
// CHECK is POINTER (must exist), POINTER=VALUE (equal: strings compare as text, other values as
// their JSON text, e.g. 10, true, null) or POINTER>=N (a number at least N). --select switches the
// base of later checks to the element of the array at ARRAY whose KEY equals VALUE (compared the
// same way). Exits 0 when the document parses and every check holds, 1 otherwise, saying why.
#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

bool matches(const json& value, std::string_view expected)
{
    return value.is_string() ? value.get<std::string>() == expected : value.dump() == expected;
}

const json* at(const json& base, const std::string& pointer)
{
    try {
        const json::json_pointer p(pointer);
        return base.contains(p) ? &base.at(p) : nullptr;
    } catch (const json::exception&) {
        return nullptr;
    }
}

constexpr const char* kUsage = R"(Usage: zb-json-check [--select ARRAY KEY VALUE] CHECK...

Checks the JSON document on stdin. CHECK is POINTER (must exist), POINTER=VALUE (equal: strings compare
as text, other values as their JSON text) or POINTER>=N (a number at least N); POINTER is a JSON pointer
such as /rings/0/name. --select switches later checks to the element of the array at ARRAY whose KEY
equals VALUE. Exit status: 0 every check holds, 1 a check failed or stdin is not JSON, 2 usage error.
)";

// The command line is checked before stdin is read, so a bad one never waits for input.
std::optional<std::string> usage_problem(int argc, char** argv)
{
    if (argc < 2) {
        return "no CHECK given";
    }
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--select") {
            if (i + 3 >= argc) {
                return "--select needs ARRAY KEY VALUE";
            }
            i += 3;
            continue;
        }
        if (!arg.starts_with("/")) {
            return "'" + std::string(arg) +
                   "' is neither an option nor a check (a check starts with a JSON pointer, /...)";
        }
        const auto ge = arg.find(">=");
        if (ge != std::string_view::npos) {
            double bound = 0;
            const std::string_view number = arg.substr(ge + 2);
            const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), bound);
            if (error != std::errc{} || end != number.data() + number.size()) {
                return "'" + std::string(arg) + "': N in POINTER>=N must be a number";
            }
        }
    }
    return std::nullopt;
}

} // namespace

int main(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
    }
    if (const auto problem = usage_problem(argc, argv)) {
        std::fprintf(stderr, "zb-json-check: %s\n%s", problem->c_str(), kUsage);
        return 2;
    }
    std::string text;
    char buffer[4096];
    for (std::size_t got = 0; (got = std::fread(buffer, 1, sizeof buffer, stdin)) > 0;) {
        text.append(buffer, got);
    }
    const json document = json::parse(text, nullptr, false);
    if (document.is_discarded()) {
        std::fprintf(stderr, "zb-json-check: stdin is not valid JSON:\n%s\n", text.c_str());
        return 1;
    }
    const json* base = &document;
    for (int i = 1; i < argc; ++i) {
        const std::string check = argv[i];
        if (check == "--select" && i + 3 < argc) {
            const json* array = at(document, argv[i + 1]);
            const std::string key = argv[i + 2];
            const std::string value = argv[i + 3];
            i += 3;
            base = nullptr;
            if (array != nullptr && array->is_array()) {
                for (const auto& element : *array) {
                    if (element.is_object() && element.contains(key) && matches(element[key], value)) {
                        base = &element;
                        break;
                    }
                }
            }
            if (base == nullptr) {
                std::fprintf(stderr, "zb-json-check: no element with %s=%s in %s:\n%s\n", key.c_str(), value.c_str(),
                             argv[i - 2], document.dump(2).c_str());
                return 1;
            }
            continue;
        }
        const auto ge = check.find(">=");
        const auto eq = check.find('=');
        const std::string pointer = check.substr(0, ge != std::string::npos ? ge : eq);
        const json* value = at(*base, pointer);
        bool ok = value != nullptr;
        if (ok && ge != std::string::npos) {
            ok = value->is_number() && value->get<double>() >= std::stod(check.substr(ge + 2));
        } else if (ok && eq != std::string::npos) {
            ok = matches(*value, std::string_view(check).substr(eq + 1));
        }
        if (!ok) {
            std::fprintf(stderr, "zb-json-check: check '%s' failed (value: %s) in:\n%s\n", check.c_str(),
                         value != nullptr ? value->dump().c_str() : "missing", base->dump(2).c_str());
            return 1;
        }
    }
    return 0;
}
