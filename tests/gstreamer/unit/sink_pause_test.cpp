// SPDX-License-Identifier: MIT
// zerobuffersink taken from PLAYING to PAUSED and back while it waits (for a reader, for room a lossless reader
// holds, to write end-of-stream): the wait outlasts the pause and the frame is written, as in every GStreamer sink;
// only a flush or a stop gives it up.
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include <zerobuffer/reader.h>

#include "support.h"

using namespace std::chrono_literals;
using zbtest::attach;
using zbtest::HarnessPtr;
using zbtest::next_frame;
using zbtest::payload_of;
using zbtest::RingName;
using zbtest::sink_harness;

namespace {

constexpr const char* kSmallI420 = "video/x-raw,format=I420,width=64,height=48,framerate=30/1";
constexpr std::size_t kSmallI420Size = 64 * 48 * 3 / 2;

// A push (or an event) on its own thread, which the test pauses the element under.
class BlockedCall {
public:
    template <typename Call>
    explicit BlockedCall(Call call)
        : thread_([this, call] {
              result_ = call();
              done_.store(true);
          })
    {
    }
    ~BlockedCall()
    {
        if (thread_.joinable())
            thread_.join();
    }
    BlockedCall(const BlockedCall&) = delete;
    BlockedCall& operator=(const BlockedCall&) = delete;

    [[nodiscard]] bool done() const { return done_.load(); }
    int join()
    {
        thread_.join();
        return result_;
    }

private:
    std::atomic<bool> done_{false};
    int result_ = 0;
    std::thread thread_;
};

// PLAYING -> PAUSED -> PLAYING while `call` is blocked in the sink; the call must still be waiting afterwards.
void pause_and_resume(GstHarness* harness, const BlockedCall& call)
{
    std::this_thread::sleep_for(150ms); // The call reaches its wait in the sink.
    ASSERT_FALSE(call.done()) << "the call did not wait: the test would prove nothing";
    EXPECT_NE(gst_element_set_state(harness->element, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    std::this_thread::sleep_for(150ms);
    EXPECT_FALSE(call.done()) << "pausing ended the wait";
    EXPECT_NE(gst_element_set_state(harness->element, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(call.done()) << "the call returned although nothing it waited for happened";
}

} // namespace

TEST(SinkPause, PauseWhileWaitingForAReaderKeepsTheFrame)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"wait-for-reader", "true"}});
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    BlockedCall push(
        [&] { return static_cast<int>(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 6))); });
    pause_and_resume(harness.get(), push);
    zerobuffer::Reader reader = attach(ring);
    EXPECT_EQ(push.join(), GST_FLOW_OK) << "the frame was given up (GST_FLOW_FLUSHING ends upstream's task)";
    EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kSmallI420Size, 6));
}

TEST(SinkPause, PauseWhileALosslessReaderHoldsTheWriterKeepsEveryFrameAndTheEndOfStream)
{
    RingName ring;
    // A ring of two frames, copied in (not pool buffers), and a lossless reader that reads nothing yet.
    HarnessPtr harness = sink_harness(ring, {{"buffers", "2"}});
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    zerobuffer::Reader reader = attach(ring);
    for (std::uint8_t i = 0; i < 2; ++i)
        ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, i)), GST_FLOW_OK);
    {
        BlockedCall push([&] {
            return static_cast<int>(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 2)));
        });
        pause_and_resume(harness.get(), push);
        for (std::uint8_t i = 0; i < 3; ++i)
            EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kSmallI420Size, i)) << "frame " << int{i};
        EXPECT_EQ(push.join(), GST_FLOW_OK);
    }
    // Full again: end-of-stream takes no frame memory (protocol version 2), so it goes in at once, after them.
    for (std::uint8_t i = 3; i < 5; ++i)
        ASSERT_EQ(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, i)), GST_FLOW_OK);
    EXPECT_TRUE(gst_harness_push_event(harness.get(), gst_event_new_eos()));
    for (std::uint8_t i = 3; i < 5; ++i)
        EXPECT_EQ(payload_of(next_frame(reader)), zbtest::pattern_bytes(kSmallI420Size, i)) << "frame " << int{i};
    zerobuffer::Frame end = next_frame(reader);
    EXPECT_NE(end.info().flags & zerobuffer::kFrameEndOfStream, 0u) << "no end-of-stream frame";
}

// A flush still gives the frame up, also while paused: the wait is interrupted, not outlasted.
TEST(SinkPause, FlushWhilePausedGivesTheFrameUp)
{
    RingName ring;
    HarnessPtr harness = sink_harness(ring, {{"wait-for-reader", "true"}});
    gst_harness_set_src_caps_str(harness.get(), kSmallI420);
    BlockedCall push(
        [&] { return static_cast<int>(gst_harness_push(harness.get(), zbtest::pattern_buffer(kSmallI420Size, 6))); });
    std::this_thread::sleep_for(150ms);
    ASSERT_FALSE(push.done()) << "the push did not wait: the test would prove nothing";
    EXPECT_NE(gst_element_set_state(harness->element, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(push.done()) << "pausing ended the wait";
    ASSERT_TRUE(gst_harness_push_event(harness.get(), gst_event_new_flush_start()));
    EXPECT_EQ(push.join(), GST_FLOW_FLUSHING);
    ASSERT_TRUE(gst_harness_push_event(harness.get(), gst_event_new_flush_stop(TRUE)));
}
