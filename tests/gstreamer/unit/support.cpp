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

HarnessPtr sink_harness(const RingName& ring, std::initializer_list<std::pair<const char*, const char*>> properties)
{
    GstElement* sink = gst_element_factory_make("zerobuffersink", nullptr);
    EXPECT_NE(sink, nullptr) << "zerobuffersink not found: is GST_PLUGIN_PATH set to the build tree?";
    g_object_set(sink, "ring", ring.c_str(), nullptr);
    for (const auto& [name, value] : properties)
        gst_util_set_object_arg(G_OBJECT(sink), name, value);
    gst_object_ref_sink(sink);
    HarnessPtr harness(gst_harness_new_with_element(sink, "sink", nullptr));
    gst_object_unref(sink);
    return harness;
}

bool push_caps(GstHarness* harness, const char* caps_text)
{
    GstCaps* caps = gst_caps_from_string(caps_text);
    const bool accepted = gst_pad_push_event(harness->srcpad, gst_event_new_caps(caps));
    gst_caps_unref(caps);
    return accepted;
}

zerobuffer::Reader attach(const RingName& ring, zerobuffer::ReaderOptions options)
{
    auto reader = zerobuffer::Reader::attach(ring.str(), options);
    EXPECT_TRUE(reader.has_value()) << (reader ? "" : reader.error().message);
    return std::move(*reader);
}

zerobuffer::Frame next_frame(zerobuffer::Reader& reader)
{
    auto frame = reader.acquire(std::chrono::seconds(5));
    EXPECT_TRUE(frame.has_value()) << (frame ? "" : frame.error().message);
    return frame ? std::move(*frame) : zerobuffer::Frame{};
}

zerobuffer::StreamFormat current_format(const zerobuffer::Reader& reader)
{
    auto format = zerobuffer::parse_stream_format(reader.stream_metadata());
    EXPECT_TRUE(format.has_value()) << reader.stream_metadata();
    return format ? *format : zerobuffer::StreamFormat{};
}

std::vector<std::byte> payload_of(const zerobuffer::Frame& frame)
{
    return {frame.payload().begin(), frame.payload().end()};
}

zerobuffer::WriterCounters writer_counters(const std::string& ring)
{
    auto snapshot = zerobuffer::inspect_ring(ring);
    EXPECT_TRUE(snapshot.has_value()) << (snapshot ? "" : snapshot.error().message);
    return snapshot ? snapshot->writer : zerobuffer::WriterCounters{};
}

} // namespace zbtest
