// SPDX-License-Identifier: MIT
// Reading CURVE key files (Z85 text): the one reader for zb-relay, its broker and the broker client.
#include "key_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>
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

/// Whether a key file holds a secret: then only its owner may read it, as ssh demands of private keys.
enum class Privacy { Public, Secret };

/// Largest key file read (an allowed-keys file of 100,000 keys is about 4 MiB).
constexpr off_t kMaxKeyFileBytes = 8 * 1024 * 1024;

std::string octal_mode(mode_t mode)
{
    std::array<char, 8> text{};
    std::snprintf(text.data(), text.size(), "%04o", static_cast<unsigned>(mode & 07777));
    return text.data();
}

/// Why a secret key file must not be used (a link, someone else's file, readable by others), or nullopt. Checks
/// the opened file itself, so that what is checked is what is read.
std::optional<std::string> unsafe_secret_file(int fd, const std::filesystem::path& path, std::string_view what)
{
    struct stat status {};
    if (fstat(fd, &status) != 0) {
        return "cannot check " + std::string(what) + " file '" + path.string() + "': " + std::strerror(errno);
    }
    const std::string named = std::string(what) + " file '" + path.string() + "'";
    if (!S_ISREG(status.st_mode)) {
        return named + " is not a regular file: pass the key file itself";
    }
    if (status.st_uid != geteuid()) {
        return named + " belongs to uid " + std::to_string(status.st_uid) + ", not to this user (uid " +
               std::to_string(geteuid()) + "): another user may know that secret; make your own with `zb-relay " +
               "keygen PREFIX`, or take the file over with `chown " + std::to_string(geteuid()) + " '" + path.string() +
               "'`";
    }
    if ((status.st_mode & 077) != 0) {
        return named + " is accessible by group or others (mode " + octal_mode(status.st_mode) +
               "): a secret key must be private to its owner; run `chmod 600 '" + path.string() + "'`";
    }
    return std::nullopt;
}

/// The text of a key file. A secret file must be a regular file of this user that nobody else may read, and not
/// a symbolic link (whoever can change the link would choose our key). `hint` says how to make the file.
BrokerResult<std::string> read_key_file(const std::filesystem::path& path, std::string_view what, std::string_view hint,
                                        Privacy privacy)
{
    const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | (privacy == Privacy::Secret ? O_NOFOLLOW : 0);
    const int fd = open(path.c_str(), flags);
    if (fd < 0) {
        const int error = errno;
        if (error == ELOOP && privacy == Privacy::Secret) {
            return make_broker_error(BrokerErrc::KeyFile,
                                     std::string(what) + " file '" + path.string() +
                                         "' is a symbolic link: refusing it (whoever can change the link chooses "
                                         "our key); pass the path of the key file itself");
        }
        return make_broker_error(BrokerErrc::KeyFile, "cannot open " + std::string(what) + " file '" + path.string() +
                                                          "': check the path; " + std::string(hint) + " (" +
                                                          std::strerror(error) + ")");
    }
    struct FdCloser {
        int fd;
        ~FdCloser() { close(fd); }
    } closer{fd};
    if (privacy == Privacy::Secret) {
        if (auto problem = unsafe_secret_file(fd, path, what)) {
            return make_broker_error(BrokerErrc::KeyFile, std::move(*problem));
        }
    }
    std::string text;
    std::array<char, 4096> buffer{};
    for (;;) {
        const ssize_t got = read(fd, buffer.data(), buffer.size());
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return make_broker_error(BrokerErrc::KeyFile, "cannot read " + std::string(what) + " file '" +
                                                              path.string() + "': " + std::strerror(errno));
        }
        if (got == 0) {
            return text;
        }
        text.append(buffer.data(), static_cast<std::size_t>(got));
        if (static_cast<off_t>(text.size()) > kMaxKeyFileBytes) {
            return make_broker_error(BrokerErrc::KeyFile, std::string(what) + " file '" + path.string() + "' is over " +
                                                              std::to_string(kMaxKeyFileBytes) +
                                                              " bytes: it is not a key file");
        }
    }
}

/// Reads a key file; `what` and `hint` name the file and say how to make it when it cannot be opened.
BrokerResult<KeyLines> key_lines(const std::filesystem::path& path, std::string_view what, std::string_view hint,
                                 Privacy privacy)
{
    auto text = read_key_file(path, what, hint, privacy);
    if (!text) {
        return tl::unexpected(text.error());
    }
    std::istringstream file(*text);
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

BrokerResult<std::string> single_key(const std::filesystem::path& path, std::string_view what, Privacy privacy)
{
    auto lines = key_lines(path, what, "make it with `zb-relay keygen`", privacy);
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
    auto secret = single_key(path, "CURVE secret key", Privacy::Secret);
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
    return single_key(path, "CURVE public key", Privacy::Public);
}

BrokerResult<std::vector<std::string>> read_allowed_keys_file(const std::filesystem::path& path)
{
    auto lines = key_lines(path, "allowed-keys", "it lists one client public key (.pub) per line", Privacy::Public);
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
