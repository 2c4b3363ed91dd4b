// SPDX-License-Identifier: MIT
// zerobuffersink's periodic stats messages (stats_ticker.h).
#include "stats_ticker.h"

#include <memory>

namespace zerobuffer::gst {
namespace {

/// What one armed clock id needs: its own reference to the element keeps the element, and the stats inside its
/// state, alive until the clock drops the id, even if a tick races with stop().
struct TickTarget {
    GstElement* element;
    ElementStats* stats;
};

gboolean tick(GstClock*, GstClockTime, GstClockID, gpointer data)
{
    const auto* target = static_cast<TickTarget*>(data);
    post_stats(target->element, *target->stats);
    return TRUE;
}

void release_target(gpointer data)
{
    const std::unique_ptr<TickTarget> target(static_cast<TickTarget*>(data));
    gst_object_unref(target->element);
}

} // namespace

void StatsTicker::start(GstElement* element, ElementStats& stats)
{
    const std::lock_guard lock(mutex_);
    disarm_locked();
    element_ = element;
    stats_ = &stats;
    arm_locked();
}

void StatsTicker::interval_changed()
{
    const std::lock_guard lock(mutex_);
    if (!element_)
        return; // Not started: start() arms with the interval of that time.
    disarm_locked();
    arm_locked();
}

void StatsTicker::stop()
{
    const std::lock_guard lock(mutex_);
    disarm_locked();
    element_ = nullptr;
    stats_ = nullptr;
}

void StatsTicker::arm_locked()
{
    const guint interval_ms = stats_->interval();
    if (interval_ms == 0)
        return;
    GstClock* clock = gst_system_clock_obtain();
    const GstClockTime interval = GstClockTime{interval_ms} * GST_MSECOND;
    id_ = gst_clock_new_periodic_id(clock, gst_clock_get_time(clock) + interval, interval);
    gst_object_unref(clock); // The id keeps its clock.
    auto target = std::make_unique<TickTarget>(TickTarget{GST_ELEMENT(gst_object_ref(element_)), stats_});
    // From here the id owns the target, and gives it to release_target() when the id goes.
    if (gst_clock_id_wait_async(id_, tick, target.release(), release_target) != GST_CLOCK_OK) {
        GST_WARNING_OBJECT(element_, "cannot schedule the stats-interval clock: no periodic stats messages");
        gst_clock_id_unref(id_);
        id_ = nullptr;
    }
}

void StatsTicker::disarm_locked()
{
    if (!id_)
        return;
    gst_clock_id_unschedule(id_);
    gst_clock_id_unref(id_);
    id_ = nullptr;
}

} // namespace zerobuffer::gst
