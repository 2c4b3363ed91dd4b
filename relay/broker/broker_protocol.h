// SPDX-License-Identifier: MIT
// The wire protocol of `zb-relay broker` (docs/relay.md): limits, error codes and field checks shared by both ends.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace zerobuffer::relay::protocol {

/// Longest stream name, in bytes. Names are 1..kMaxNameBytes printable bytes without spaces or control characters.
inline constexpr std::size_t kMaxNameBytes = 128;
/// Longest address, in bytes ("tcp://host:port" or "ipc://path").
inline constexpr std::size_t kMaxAddressBytes = 256;
/// Largest "info" object, serialized, in bytes.
inline constexpr std::size_t kMaxInfoBytes = 8 * 1024;
/// Default and bounds of a registration's time to live.
inline constexpr std::chrono::milliseconds kDefaultTtl{10'000};
inline constexpr std::chrono::milliseconds kMinTtl{100};
inline constexpr std::chrono::milliseconds kMaxTtl{3'600'000};
/// Default of --max-request-bytes.
inline constexpr std::size_t kDefaultMaxRequestBytes = 64 * 1024;
/// Deepest nesting of a request or a reply: the object is level 1, "info" level 2 (so "info" may nest 14 more).
inline constexpr std::size_t kMaxJsonDepth = 16;
/// Values in one request at most: an "info" of kMaxInfoBytes holds about 4,000 at most.
inline constexpr std::size_t kMaxRequestValues = 8192;
/// Values in one reply at most: a LIST of 10,000 streams holds about 70,000.
inline constexpr std::size_t kMaxReplyValues = std::size_t{1} << 20;

/// Request types.
inline constexpr std::string_view kReg = "REG";
inline constexpr std::string_view kDisc = "DISC";
inline constexpr std::string_view kDereg = "DEREG";
inline constexpr std::string_view kList = "LIST";

/// Machine-readable "error" codes of replies with "ok":false. Stable: clients may branch on them.
namespace errors {
inline constexpr std::string_view kBadJson = "bad_json";           ///< Body is not valid JSON (or not UTF-8).
inline constexpr std::string_view kNotObject = "not_object";       ///< Body is JSON but not an object.
inline constexpr std::string_view kTooLarge = "too_large";         ///< Body exceeds --max-request-bytes.
inline constexpr std::string_view kBadEnvelope = "bad_envelope";   ///< Not exactly one body frame after the envelope.
inline constexpr std::string_view kMissingField = "missing_field"; ///< A required field is absent.
inline constexpr std::string_view kInvalidField = "invalid_field"; ///< A field has the wrong type, value or nesting.
inline constexpr std::string_view kUnknownType = "unknown_type";   ///< "type" is not REG, DISC, DEREG or LIST.
inline constexpr std::string_view kNotFound = "not_found";         ///< No live registration of that name.
inline constexpr std::string_view kNotOwner = "not_owner";         ///< DEREG names another publisher's address.
inline constexpr std::string_view kRegistryFull = "registry_full"; ///< --max-streams live registrations exist.
inline constexpr std::string_view kInternal = "internal";          ///< A bug in the broker; the request was dropped.
} // namespace errors

/// Why a name is invalid, or nullopt when it is fine.
[[nodiscard]] std::optional<std::string> check_name(std::string_view name);
/// Why an address is invalid (tcp:// or ipc:// only, bounded, no control characters), or nullopt.
[[nodiscard]] std::optional<std::string> check_address(std::string_view address);
/// Why a TTL is out of [kMinTtl, kMaxTtl], or nullopt.
[[nodiscard]] std::optional<std::string> check_ttl(std::chrono::milliseconds ttl);

} // namespace zerobuffer::relay::protocol
