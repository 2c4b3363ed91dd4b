// SPDX-License-Identifier: MIT
// Helpers shared by the GStreamer unit tests: unique ring names, RAII for GStreamer objects, bus messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <zerobuffer/inspect.h>
#include <zerobuffer/reader.h>
#include <zerobuffer/stream_format.h>

namespace zbtest {

/// A ring name unique to this process and call; the ring is removed at destruction if anything left it behind.
class RingName {
public:
    RingName();
    ~RingName();
    RingName(const RingName&) = delete;
    RingName& operator=(const RingName&) = delete;
    [[nodiscard]] const std::string& str() const noexcept { return name_; }
    [[nodiscard]] const char* c_str() const noexcept { return name_.c_str(); }

private:
    std::string name_;
};

struct HarnessDeleter {
    void operator()(GstHarness* harness) const noexcept { gst_harness_teardown(harness); }
};
using HarnessPtr = std::unique_ptr<GstHarness, HarnessDeleter>;

struct ObjectDeleter {
    void operator()(gpointer object) const noexcept { gst_object_unref(object); }
};
using ElementPtr = std::unique_ptr<GstElement, ObjectDeleter>;

/// Stops a pipeline before releasing it, also when a failed assertion leaves a test early, so that its
/// zerobuffersink closes (and removes) its ring.
struct PipelineDeleter {
    void operator()(GstElement* pipeline) const noexcept
    {
        gst_element_set_state(pipeline, GST_STATE_NULL);
        gst_object_unref(pipeline);
    }
};
using PipelinePtr = std::unique_ptr<GstElement, PipelineDeleter>;
using BusPtr = std::unique_ptr<GstBus, ObjectDeleter>;

struct BufferDeleter {
    void operator()(GstBuffer* buffer) const noexcept { gst_buffer_unref(buffer); }
};
using BufferPtr = std::unique_ptr<GstBuffer, BufferDeleter>;

/// A buffer of `size` bytes whose byte i is (i * 7 + seed) mod 251: any lost or moved byte shows.
[[nodiscard]] GstBuffer* pattern_buffer(std::size_t size, std::uint8_t seed);
[[nodiscard]] std::vector<std::byte> pattern_bytes(std::size_t size, std::uint8_t seed);
void fill_pattern(std::span<std::byte> bytes, std::uint8_t seed);

/// The bytes of a buffer (all memories).
[[nodiscard]] std::vector<std::byte> buffer_bytes(GstBuffer* buffer);

/// Text of the first ERROR (or WARNING) message on `bus` within `timeout`, "" if none.
[[nodiscard]] std::string wait_message_text(GstBus* bus, GstMessageType type, std::chrono::milliseconds timeout);

/// Writer counters of a ring, read without disturbing it.
[[nodiscard]] zerobuffer::WriterCounters writer_counters(const std::string& ring);

/// A GstHarness around a zerobuffersink writing `ring`; properties are set from strings, as gst-launch-1.0 does.
[[nodiscard]] HarnessPtr sink_harness(const RingName& ring,
                                      std::initializer_list<std::pair<const char*, const char*>> properties = {});

/// Pushes a caps event without gst_harness_set_src_caps()'s assertion that it was handled.
bool push_caps(GstHarness* harness, const char* caps_text);

/// An in-process reader of `ring` (a failed attach fails the test).
[[nodiscard]] zerobuffer::Reader attach(const RingName& ring, zerobuffer::ReaderOptions options = {});

/// The reader's next frame within 5 s (none fails the test and returns an invalid frame).
[[nodiscard]] zerobuffer::Frame next_frame(zerobuffer::Reader& reader);

/// The ring's current stream format, as the reader sees it.
[[nodiscard]] zerobuffer::StreamFormat current_format(const zerobuffer::Reader& reader);

[[nodiscard]] std::vector<std::byte> payload_of(const zerobuffer::Frame& frame);

} // namespace zbtest
