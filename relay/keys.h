// SPDX-License-Identifier: MIT
// CURVE keys for zb-relay: key files, `zb-relay keygen`, and the ZAP handler that enforces allowed client keys.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "relay_error.h"

namespace zerobuffer::relay {

/// Writes PREFIX.key (the Z85 secret key, mode 0600) and PREFIX.pub (the Z85 public key).
[[nodiscard]] RelayResult<void> write_key_pair(const std::string& prefix);

/// Reads a file holding one 40-character Z85 key (secret or public) and checks it decodes.
[[nodiscard]] RelayResult<std::string> read_key_file(const std::string& path, const std::string& what);

/// The Z85 public key that belongs to a Z85 secret key.
[[nodiscard]] RelayResult<std::string> public_key_of(const std::string& secret_z85);

/// Reads a file of allowed client public keys: one Z85 key per line, blank lines and '#' comments ignored.
/// Returns the keys decoded to their 32 raw bytes.
[[nodiscard]] RelayResult<std::set<std::string>> read_allowed_keys(const std::string& path);

/// Answers libzmq's ZAP requests (RFC 27) for one context: CURVE clients whose public key is in the allowed
/// set pass, the others are refused and logged. Owns a REP socket on inproc://zeromq.zap.01 and a thread;
/// must be destroyed before its context is terminated.
class ZapHandler {
public:
    /// Binds the handler in `context`; call before binding any CURVE server socket of that context.
    [[nodiscard]] static RelayResult<std::unique_ptr<ZapHandler>> start(void* context, std::set<std::string> allowed,
                                                                        std::string log_prefix);
    ZapHandler(const ZapHandler&) = delete;
    ZapHandler& operator=(const ZapHandler&) = delete;
    ~ZapHandler();

    [[nodiscard]] std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }

private:
    ZapHandler(void* socket, std::set<std::string> allowed, std::string log_prefix);
    void serve();

    void* socket_;                  ///< Used only by thread_ after start().
    std::set<std::string> allowed_; ///< Raw 32-byte public keys.
    std::string log_prefix_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> refused_{0};
    std::thread thread_;
};

} // namespace zerobuffer::relay
