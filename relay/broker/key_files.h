// SPDX-License-Identifier: MIT
// CURVE key files of zb-relay: Z85 text files with one 40-character key (see docs/relay.md, Security).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "broker_error.h"

namespace zerobuffer::relay {

/// A CURVE key pair as Z85 text (40 characters each).
struct CurveKeyPair {
    std::string public_key;
    std::string secret_key;
};

/// Reads a secret-key file (one Z85 secret key; blank lines and '#' comments ignored) and derives its public key.
/// Like ssh with private keys, refuses a file that is a symbolic link, is not a regular file, belongs to another
/// user or is accessible by group or others; the message says how to fix it (`chmod 600 FILE`, ...).
[[nodiscard]] BrokerResult<CurveKeyPair> read_secret_key_file(const std::filesystem::path& path);

/// Reads a public-key file: one Z85 public key.
[[nodiscard]] BrokerResult<std::string> read_public_key_file(const std::filesystem::path& path);

/// Reads a file of allowed client public keys: one Z85 key per line, blank lines and '#' comments ignored.
/// Returns the keys decoded to their 32 raw bytes, as libzmq's ZAP requests carry them.
[[nodiscard]] BrokerResult<std::vector<std::string>> read_allowed_keys_file(const std::filesystem::path& path);

/// True when `text` is a 40-character Z85 string that decodes to 32 bytes.
[[nodiscard]] bool is_z85_key(const std::string& text);

} // namespace zerobuffer::relay
