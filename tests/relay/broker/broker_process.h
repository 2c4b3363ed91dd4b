// SPDX-License-Identifier: MIT
// Test support: runs `zb-relay broker` as a real child process on a free loopback port, and raw ZeroMQ clients.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>
#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "zmq_handles.h"

namespace zerobuffer::relay::test {

/// A temporary directory removed with everything in it.
class TempDir {
public:
    TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

/// The whole content of a text file ("" when missing).
[[nodiscard]] std::string read_text_file(const std::filesystem::path& path);

/// A TCP port on 127.0.0.1 that was free a moment ago.
[[nodiscard]] int free_port();

/// The zb-relay program under test (environment variable ZB_RELAY, set by meson).
[[nodiscard]] std::string zb_relay_path();

/// Runs zb-relay with `args`, waits for it and returns its exit code; stderr goes to `stderr_file`, stdout to
/// `stdout_file` (or /dev/null).
[[nodiscard]] int run_zb_relay(const std::vector<std::string>& args, const std::filesystem::path& stderr_file,
                               const std::filesystem::path& stdout_file = {});

/// One `zb-relay broker` process. The destructor kills it (SIGKILL) if it still runs.
class BrokerProcess {
public:
    /// Starts `zb-relay broker --bind tcp://127.0.0.1:PORT ARGS...` with stderr to `log_file`.
    BrokerProcess(int port, std::vector<std::string> extra_args, std::filesystem::path log_file);
    BrokerProcess(const BrokerProcess&) = delete;
    BrokerProcess& operator=(const BrokerProcess&) = delete;
    ~BrokerProcess();

    [[nodiscard]] std::string endpoint() const;
    /// Waits until the broker answers LIST (plain clients only); false after `timeout`.
    [[nodiscard]] bool wait_ready(std::chrono::milliseconds timeout) const;
    /// Sends `signal` and waits for the exit; returns the exit code (128+signal when killed by it).
    int stop(int signal);
    [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    /// Everything the broker wrote to stderr so far.
    [[nodiscard]] std::string log() const;

private:
    int port_;
    std::filesystem::path log_file_;
    pid_t pid_ = -1;
};

/// A raw DEALER socket for sending whatever bytes a hostile client would.
class RawClient {
public:
    /// receive_buffer_bytes > 0 shrinks the kernel receive buffer and libzmq's receive queue (a slow reader).
    explicit RawClient(const std::string& endpoint, int receive_buffer_bytes = 0);
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;
    ~RawClient();

    /// Sends the frames as one multipart message (no envelope added). False when libzmq refuses.
    bool send(const std::vector<std::string>& frames);
    /// Sends one request the way REQ does: an empty delimiter frame, then the body.
    bool send_request(const std::string& body) { return send({std::string(), body}); }
    /// Receives one reply (all frames); nullopt after `timeout`.
    [[nodiscard]] std::optional<std::vector<std::string>> receive(std::chrono::milliseconds timeout);
    /// Receives a reply sent to send_request() and parses its body; nullopt on timeout or bad shape.
    [[nodiscard]] std::optional<nlohmann::json> receive_json(std::chrono::milliseconds timeout);

private:
    detail::ContextHandle context_;
    detail::SocketHandle socket_;
};

} // namespace zerobuffer::relay::test
