// SPDX-License-Identifier: MIT
// Uses the umbrella header as an application would and checks a few compile-time properties of the API.
#include <zerobuffer/zerobuffer.h>

#include <cstdio>
#include <string_view>
#include <type_traits>

namespace {

// The handles own shared-memory mappings and kernel locks: movable, never copyable.
static_assert(std::is_nothrow_move_constructible_v<zerobuffer::Writer>);
static_assert(std::is_nothrow_move_constructible_v<zerobuffer::Reader>);
static_assert(std::is_nothrow_move_constructible_v<zerobuffer::Frame>);
static_assert(std::is_nothrow_move_constructible_v<zerobuffer::FrameReservation>);
static_assert(!std::is_copy_constructible_v<zerobuffer::Writer>);
static_assert(!std::is_copy_constructible_v<zerobuffer::Reader>);
static_assert(!std::is_copy_constructible_v<zerobuffer::Frame>);
static_assert(!std::is_copy_constructible_v<zerobuffer::FrameReservation>);

// Options and plain data are usable as aggregates with defaults.
static_assert(std::is_default_constructible_v<zerobuffer::WriterOptions>);
static_assert(std::is_default_constructible_v<zerobuffer::ReaderOptions>);
static_assert(std::is_trivially_copyable_v<zerobuffer::FrameInfo>);
static_assert(std::is_trivially_copyable_v<zerobuffer::WriterCounters>);
static_assert(std::is_trivially_copyable_v<zerobuffer::ReaderCounters>);

int failures = 0;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "public-api: check failed: %s\n", what);
        ++failures;
    }
}

constexpr const char* kUsage = "Usage: public-api-test\n"
                               "  Checks a few properties of the public API through <zerobuffer/zerobuffer.h>;\n"
                               "  takes no arguments. Exit status: 0 all hold, 1 a check failed, 2 usage error.\n";

} // namespace

int main(int argc, char** argv)
{
    if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (argc > 1) {
        std::fprintf(stderr, "public-api-test: unexpected argument '%s'\n%s", argv[1], kUsage);
        return 2;
    }
    const zerobuffer::WriterOptions writer_options;
    const zerobuffer::ReaderOptions reader_options;
    const zerobuffer::FrameInfo info;
    check(writer_options.ring_size > 0, "WriterOptions has a ring size");
    check(writer_options.max_readers > 0, "WriterOptions has reader slots");
    check(reader_options.policy == zerobuffer::ReaderPolicy::Lossless, "readers are lossless by default");
    check(info.pts == zerobuffer::kNoTimestamp, "FrameInfo timestamps start unset");

    // version.h must follow the version in meson.build (passed in by tests/public_api/meson.build).
    check(std::string_view(zerobuffer::kLibraryVersion) == ZB_EXPECTED_VERSION,
          "kLibraryVersion in version.h equals project version in meson.build");

    // Links against the library through the public dependency.
    check(zerobuffer::to_string(zerobuffer::Errc::Busy) == "Busy", "to_string(Errc::Busy)");

    const zerobuffer::Result<int> error = zerobuffer::make_error(zerobuffer::Errc::NotFound, "no ring");
    check(!error.has_value() && error.error().code == zerobuffer::Errc::NotFound, "make_error builds an Error");

    if (failures == 0) {
        std::puts("public-api: ok");
    }
    return failures == 0 ? 0 : 1;
}
