// SPDX-License-Identifier: MIT
// Reading CURVE key files (Z85 text): the one reader for zb-relay, its broker and the broker client.
#include "key_files.h"

#include <array>
#include <cstdint>
#include <fstream>
#include <string_view>

#include <zmq.h>

namespace zerobuffer::relay {

namespace {

constexpr std::size_t kZ85KeyChars = 40;
constexpr std::size_t kRawKeyBytes = 32;

std::string_view trimmed(std::string_view line)
{
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = line.find_last_not_of(" \t\r");
    return line.substr(first, last - first + 1);
}

/// The keys of a key file (comments and blank lines skipped), or the first line that is not a key.
struct KeyLines {
    std::vector<std::string> keys;
    std::size_t bad_line = 0; ///< 1-based; 0 when every line is a key, a comment or blank
};

/// Reads a key file; `what` and `hint` name the file and say how to make it when it cannot be opened.
BrokerResult<KeyLines> key_lines(const std::filesystem::path& path, std::string_view what, std::string_view hint)
{
    std::ifstream file(path);
    if (!file) {
        return make_broker_error(BrokerErrc::KeyFile, "cannot open " + std::string(what) + " file '" + path.string() +
                                                          "': check the path; " + std::string(hint));
    }
    KeyLines result;
    std::string line;
    std::size_t line_number = 0;
    constexpr std::size_t kMaxLines = 100'000;
    while (std::getline(file, line)) {
        ++line_number;
        const std::string_view key = trimmed(line);
        if (key.empty() || key.front() == '#') {
            continue;
        }
        if (!is_z85_key(std::string(key))) {
            result.bad_line = line_number;
            return result;
        }
        result.keys.emplace_back(key);
        if (result.keys.size() > kMaxLines) {
            return make_broker_error(BrokerErrc::KeyFile, std::string(what) + " file '" + path.string() +
                                                              "' holds more than " + std::to_string(kMaxLines) +
                                                              " keys");
        }
    }
    return result;
}

BrokerResult<std::string> single_key(const std::filesystem::path& path, std::string_view what)
{
    auto lines = key_lines(path, what, "make it with `zb-relay keygen`");
    if (!lines) {
        return tl::unexpected(lines.error());
    }
    if (lines->bad_line != 0 || lines->keys.empty()) {
        return make_broker_error(BrokerErrc::KeyFile,
                                 std::string(what) + " file '" + path.string() +
                                     "' does not hold a 40-character Z85 key" +
                                     (lines->bad_line != 0 ? " (line " + std::to_string(lines->bad_line) + ")" : "") +
                                     ": make one with `zb-relay keygen PREFIX`");
    }
    if (lines->keys.size() != 1) {
        return make_broker_error(BrokerErrc::KeyFile, std::string(what) + " file '" + path.string() + "' holds " +
                                                          std::to_string(lines->keys.size()) +
                                                          " keys; exactly one is expected");
    }
    return std::move(lines->keys.front());
}

} // namespace

bool is_z85_key(const std::string& text)
{
    std::array<std::uint8_t, kRawKeyBytes> raw{};
    return text.size() == kZ85KeyChars && zmq_z85_decode(raw.data(), text.c_str()) != nullptr;
}

BrokerResult<CurveKeyPair> read_secret_key_file(const std::filesystem::path& path)
{
    auto secret = single_key(path, "CURVE secret key");
    if (!secret) {
        return tl::unexpected(secret.error());
    }
    std::array<char, kZ85KeyChars + 1> public_key{};
    if (zmq_curve_public(public_key.data(), secret->c_str()) != 0) {
        return make_broker_error(BrokerErrc::KeyFile, "cannot derive the public key of '" + path.string() +
                                                          "': " + zmq_strerror(zmq_errno()) +
                                                          " (libzmq needs CURVE support, libsodium)");
    }
    return CurveKeyPair{std::string(public_key.data()), std::move(*secret)};
}

BrokerResult<std::string> read_public_key_file(const std::filesystem::path& path)
{
    return single_key(path, "CURVE public key");
}

BrokerResult<std::vector<std::string>> read_allowed_keys_file(const std::filesystem::path& path)
{
    auto lines = key_lines(path, "allowed-keys", "it lists one client public key (.pub) per line");
    if (!lines) {
        return tl::unexpected(lines.error());
    }
    if (lines->bad_line != 0) {
        return make_broker_error(BrokerErrc::KeyFile, "allowed-keys file '" + path.string() + "' line " +
                                                          std::to_string(lines->bad_line) +
                                                          " is not a 40-character Z85 public key");
    }
    std::vector<std::string> raw_keys;
    raw_keys.reserve(lines->keys.size());
    for (const std::string& z85 : lines->keys) {
        std::string raw(kRawKeyBytes, '\0');
        if (zmq_z85_decode(reinterpret_cast<std::uint8_t*>(raw.data()), z85.c_str()) == nullptr) {
            return make_broker_error(BrokerErrc::KeyFile,
                                     "allowed-keys file '" + path.string() + "' holds an undecodable key");
        }
        raw_keys.push_back(std::move(raw));
    }
    return raw_keys;
}

} // namespace zerobuffer::relay
