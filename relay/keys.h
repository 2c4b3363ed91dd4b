// SPDX-License-Identifier: MIT
// CURVE keys for zb-relay: `zb-relay keygen`, key files (read by broker/key_files) and the route's ZAP handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "broker_error.h"
#include "key_files.h"
#include "relay_error.h"
#include "zap.h"

namespace zerobuffer::relay {

/// Writes PREFIX.key (the Z85 secret key, mode 0600) and PREFIX.pub (the Z85 public key).
[[nodiscard]] RelayResult<void> write_key_pair(const std::string& prefix);

/// A key-file result of broker/key_files as the relay's error (a key file is a security setting, exit code 1).
template <typename T>
[[nodiscard]] RelayResult<T> as_relay_result(BrokerResult<T> result)
{
    if (!result)
        return relay_error(RelayErrc::Security, std::move(result.error().message));
    return std::move(*result);
}

/// Reads a file of allowed client public keys (see read_allowed_keys_file); a route refuses an empty list.
/// Returns the keys decoded to their 32 raw bytes.
[[nodiscard]] RelayResult<AllowedCurveKeys> read_allowed_keys(const std::string& path);

/// Answers libzmq's ZAP requests (RFC 27) for one context: CURVE clients whose public key is in the allowed
/// set pass, the others are refused and logged. Owns a REP socket on inproc://zeromq.zap.01 and a thread;
/// must be destroyed before its context is terminated.
class ZapHandler {
public:
    /// Binds the handler in `context`; call before binding any CURVE server socket of that context.
    [[nodiscard]] static RelayResult<std::unique_ptr<ZapHandler>> start(void* context, AllowedCurveKeys allowed,
                                                                        std::string log_prefix);
    ZapHandler(const ZapHandler&) = delete;
    ZapHandler& operator=(const ZapHandler&) = delete;
    ~ZapHandler();

    [[nodiscard]] std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }

private:
    ZapHandler(void* socket, AllowedCurveKeys allowed, std::string log_prefix);
    void serve();

    void* socket_;             ///< Used only by thread_ after start().
    AllowedCurveKeys allowed_; ///< Raw 32-byte public keys.
    std::string log_prefix_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> refused_{0};
    std::thread thread_;
};

} // namespace zerobuffer::relay
