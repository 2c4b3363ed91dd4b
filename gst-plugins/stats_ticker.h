// SPDX-License-Identifier: MIT
// zerobuffersink's stats-interval messages from the system clock's thread, so that they keep coming while no
// frames do (upstream paused or stalled): a monitor then sees the lag and readers, not silence.
#pragma once

#include <mutex>

#include <gst/gst.h>

#include "element_stats.h"

namespace zerobuffer::gst {

/// A periodic GstClock id that posts `stats` as an element message every stats-interval. Thread-safe.
class StatsTicker {
public:
    StatsTicker() = default;
    StatsTicker(const StatsTicker&) = delete;
    StatsTicker& operator=(const StatsTicker&) = delete;
    ~StatsTicker() { stop(); }

    /// Starts posting for `element` (READY -> PAUSED) at the interval `stats` has; nothing while it is 0.
    void start(GstElement* element, ElementStats& stats);
    /// The interval changed (the property is mutable in PLAYING): ticks at the new one, or stops for 0.
    void interval_changed();
    /// Stops posting (PAUSED -> READY, finalize); a tick in progress still finishes.
    void stop();

private:
    void arm_locked();
    void disarm_locked();

    std::mutex mutex_;
    GstElement* element_ = nullptr; // Not owned here: each armed clock id holds its own reference.
    ElementStats* stats_ = nullptr;
    GstClockID id_ = nullptr;
};

} // namespace zerobuffer::gst
