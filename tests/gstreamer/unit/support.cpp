// SPDX-License-Identifier: MIT
// Helpers shared by the GStreamer unit tests: unique ring names, RAII for GStreamer objects, bus messages.
#include "support.h"

#include <atomic>

#include <gtest/gtest.h>
#include <unistd.h>

namespace zbtest {

RingName::RingName()
{
    static std::atomic<int> counter{0};
    const testing::TestInfo* test = testing::UnitTest::GetInstance()->current_test_info();
    name_ = "zbgst-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
            (test != nullptr ? test->name() : "x");
}

RingName::~RingName()
{
    // A failed test may leave a ring whose writer (this process) is gone from it: never leave /dev/shm dirty.
    (void)zerobuffer::remove_stale_ring(name_);
}

void fill_pattern(std::span<std::byte> bytes, std::uint8_t seed)
{
    for (std::size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<std::byte>((i * 7 + seed) % 251);
}

std::vector<std::byte> pattern_bytes(std::size_t size, std::uint8_t seed)
{
    std::vector<std::byte> bytes(size);
    fill_pattern(bytes, seed);
    return bytes;
}

GstBuffer* pattern_buffer(std::size_t size, std::uint8_t seed)
{
    GstBuffer* buffer = gst_buffer_new_allocate(nullptr, size, nullptr);
    GstMapInfo map;
    gst_buffer_map(buffer, &map, GST_MAP_WRITE);
    fill_pattern({reinterpret_cast<std::byte*>(map.data), map.size}, seed);
    gst_buffer_unmap(buffer, &map);
    return buffer;
}

std::vector<std::byte> buffer_bytes(GstBuffer* buffer)
{
    std::vector<std::byte> bytes(gst_buffer_get_size(buffer));
    gst_buffer_extract(buffer, 0, bytes.data(), bytes.size());
    return bytes;
}

std::string wait_message_text(GstBus* bus, GstMessageType type, std::chrono::milliseconds timeout)
{
    GstMessage* message = gst_bus_timed_pop_filtered(
        bus, static_cast<GstClockTime>(std::chrono::nanoseconds(timeout).count()), type);
    if (message == nullptr)
        return {};
    GError* error = nullptr;
    gchar* debug = nullptr;
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR)
        gst_message_parse_error(message, &error, &debug);
    else
        gst_message_parse_warning(message, &error, &debug);
    std::string text = error != nullptr ? error->message : "";
    g_clear_error(&error);
    g_free(debug);
    gst_message_unref(message);
    return text;
}

zerobuffer::WriterCounters writer_counters(const std::string& ring)
{
    auto snapshot = zerobuffer::inspect_ring(ring);
    EXPECT_TRUE(snapshot.has_value()) << (snapshot ? "" : snapshot.error().message);
    return snapshot ? snapshot->writer : zerobuffer::WriterCounters{};
}

} // namespace zbtest
