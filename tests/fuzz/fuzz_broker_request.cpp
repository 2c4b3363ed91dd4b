// SPDX-License-Identifier: MIT
// libFuzzer harness: the broker's request parser and registry (docs/relay.md, the broker), fed by network peers.
// Input: requests separated by a 0x00 byte; before each, one byte picks the requester (plain, key A, key B) and
// how far the clock moves. Properties: no crash or exception; every reply is an object with a boolean "ok", and
// a refused one names its error; the registry never holds more entries than its limit.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "bounded_json.h"
#include "broker_protocol.h"
#include "registry.h"

namespace broker = zerobuffer::relay;
namespace detail = zerobuffer::relay::detail;

namespace {

[[noreturn]] void fail(const char* what)
{
    std::fprintf(stderr, "zb-fuzz: %s\n", what);
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    constexpr std::size_t kMaxStreams = 4;
    detail::Registry registry({std::chrono::milliseconds(1000), kMaxStreams});
    auto now = detail::Clock::time_point{} + std::chrono::hours(1);
    std::string_view input(reinterpret_cast<const char*>(data), size);
    for (int i = 0; i < 32 && !input.empty(); ++i) {
        const auto who = static_cast<std::uint8_t>(input.front());
        input.remove_prefix(1);
        const auto end = input.find('\0');
        const std::string_view body = input.substr(0, end);
        input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);

        now += std::chrono::milliseconds(100 * (who >> 2));
        const std::string_view keys[] = {"", "rq[:wvB4Ey8G(1P3r]$?z.N0-3*KxQj>xsNh+HnAM", "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"};
        const detail::Requester requester{"192.0.2.7", keys[(who & 3) % 3]};

        (void)broker::check_json(body, {zerobuffer::relay::protocol::kMaxJsonDepth,
                                        zerobuffer::relay::protocol::kMaxRequestValues});
        const auto reply = registry.handle(body, requester, now);
        if (!reply.body.is_object() || !reply.body.contains("ok") || !reply.body["ok"].is_boolean()) {
            fail("a broker reply is not an object with a boolean \"ok\"");
        }
        if (!reply.body["ok"].get<bool>() && reply.error_code.empty()) {
            fail("a refused broker request has no error code");
        }
        (void)reply.body.dump(); // the broker sends every reply: it must serialise
        (void)registry.expire(now);
        if (registry.size() > kMaxStreams) {
            fail("the registry holds more streams than its limit");
        }
    }
    return 0;
}
