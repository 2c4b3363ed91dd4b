// SPDX-License-Identifier: MIT
// Test support: broker child processes, free ports, temp dirs and raw DEALER clients.
#include "broker_process.h"

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker_client.h"

namespace zerobuffer::relay::test {

TempDir::TempDir()
{
    std::string pattern = (std::filesystem::temp_directory_path() / "zb-broker-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
}

TempDir::~TempDir()
{
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::string read_text_file(const std::filesystem::path& path)
{
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

int free_port()
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API takes sockaddr*
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    if (fd < 0 || bind(fd, generic, sizeof address) != 0 || getsockname(fd, generic, &length) != 0) {
        throw std::runtime_error("cannot find a free port");
    }
    close(fd);
    return ntohs(address.sin_port);
}

std::string zb_relay_path()
{
    const char* path = std::getenv("ZB_RELAY");
    if (path == nullptr) {
        throw std::runtime_error("ZB_RELAY is not set: run these tests with `meson test`");
    }
    return path;
}

namespace {

pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& stderr_file,
            const std::filesystem::path& stdout_file = {})
{
    std::vector<std::string> argv_storage{zb_relay_path()};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_storage) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
        // A test binary that crashes or is killed must not leave brokers behind.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        const int log = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (log >= 0) {
            dup2(log, STDERR_FILENO);
        }
        const int out = stdout_file.empty() ? open("/dev/null", O_WRONLY | O_CLOEXEC)
                                            : open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out >= 0) {
            dup2(out, STDOUT_FILENO);
        }
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

int wait_exit(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

int run_zb_relay(const std::vector<std::string>& args, const std::filesystem::path& stderr_file,
                 const std::filesystem::path& stdout_file)
{
    return wait_exit(spawn(args, stderr_file, stdout_file));
}

BrokerProcess::BrokerProcess(int port, std::vector<std::string> extra_args, std::filesystem::path log_file)
    : port_(port), log_file_(std::move(log_file))
{
    std::vector<std::string> args{"broker", "--bind", endpoint()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    pid_ = spawn(args, log_file_);
}

BrokerProcess::~BrokerProcess()
{
    if (pid_ > 0) {
        stop(SIGKILL);
    }
}

std::string BrokerProcess::endpoint() const
{
    return "tcp://127.0.0.1:" + std::to_string(port_);
}

bool BrokerProcess::wait_ready(std::chrono::milliseconds timeout) const
{
    auto client = BrokerClient::connect({endpoint(), std::chrono::milliseconds(250), std::nullopt});
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (client && std::chrono::steady_clock::now() < deadline) {
        if (client->list()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

int BrokerProcess::stop(int signal)
{
    if (pid_ <= 0) {
        return -1;
    }
    kill(pid_, signal);
    const int code = wait_exit(pid_);
    pid_ = -1;
    return code;
}

std::string BrokerProcess::log() const
{
    return read_text_file(log_file_);
}

RawClient::RawClient(const std::string& endpoint, int receive_buffer_bytes) : context_(zmq_ctx_new())
{
    socket_.reset(zmq_socket(context_.get(), ZMQ_DEALER));
    if (socket_ && receive_buffer_bytes > 0 &&
        (!detail::set_int_option(socket_.get(), ZMQ_RCVBUF, receive_buffer_bytes) ||
         !detail::set_int_option(socket_.get(), ZMQ_RCVHWM, 1))) {
        throw std::runtime_error("cannot shrink a raw client's receive buffer: " + detail::zmq_error_text());
    }
    if (!socket_ || !detail::set_int_option(socket_.get(), ZMQ_LINGER, 0) ||
        zmq_connect(socket_.get(), endpoint.c_str()) != 0) {
        throw std::runtime_error("cannot set up a raw client: " + detail::zmq_error_text());
    }
}

RawClient::~RawClient() = default;

bool RawClient::send(const std::vector<std::string>& frames)
{
    for (std::size_t i = 0; i < frames.size(); ++i) {
        const int flags = (i + 1 < frames.size() ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
        if (zmq_send(socket_.get(), frames[i].data(), frames[i].size(), flags) < 0) {
            return false;
        }
    }
    return true;
}

std::optional<std::vector<std::string>> RawClient::receive(std::chrono::milliseconds timeout)
{
    zmq_pollitem_t item{socket_.get(), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, static_cast<long>(timeout.count())) <= 0) {
        return std::nullopt;
    }
    std::vector<std::string> frames;
    for (;;) {
        detail::Message frame;
        if (zmq_msg_recv(frame.get(), socket_.get(), 0) < 0) {
            return std::nullopt;
        }
        frames.emplace_back(frame.view());
        if (!frame.more()) {
            return frames;
        }
    }
}

std::optional<nlohmann::json> RawClient::receive_json(std::chrono::milliseconds timeout)
{
    auto frames = receive(timeout);
    if (!frames || frames->size() != 2 || !frames->front().empty()) {
        return std::nullopt;
    }
    auto parsed = nlohmann::json::parse(frames->back(), nullptr, false);
    if (parsed.is_discarded()) {
        return std::nullopt;
    }
    return parsed;
}

} // namespace zerobuffer::relay::test
