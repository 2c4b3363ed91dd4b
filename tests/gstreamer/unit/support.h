// SPDX-License-Identifier: MIT
// Helpers shared by the GStreamer unit tests: unique ring names, RAII for GStreamer objects, bus messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <zerobuffer/inspect.h>

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

} // namespace zbtest
