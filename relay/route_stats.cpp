// SPDX-License-Identifier: MIT
#include "route_stats.h"

#include <algorithm>

namespace zerobuffer::relay {

const char* drop_reason_label(DropReason reason) noexcept
{
    switch (reason) {
    case DropReason::RingFull: return "ring_full";
    case DropReason::RingError: return "ring_error";
    case DropReason::KeyframeWait: return "keyframe_wait";
    case DropReason::NoCredit: return "no_credit";
    case DropReason::QueueFull: return "queue_full";
    case DropReason::UpstreamGap: return "upstream_gap";
    }
    return "unknown";
}

void SubscriberBoard::publish(std::vector<SubscriberFigures> subscribers)
{
    std::sort(subscribers.begin(), subscribers.end(),
              [](const SubscriberFigures& a, const SubscriberFigures& b) { return a.number < b.number; });
    Snapshot board;
    board.others = subscribers.size() > kListed ? subscribers.size() - kListed : 0;
    for (std::size_t i = kListed; i < subscribers.size(); ++i) {
        board.others_total.delivered += subscribers[i].delivered;
        board.others_total.dropped += subscribers[i].dropped;
        board.others_total.in_flight += subscribers[i].in_flight;
        board.others_total.resumes += subscribers[i].resumes;
    }
    subscribers.resize(std::min(subscribers.size(), kListed));
    board.listed = std::move(subscribers);
    const std::lock_guard lock(mutex_);
    board_ = std::move(board);
}

SubscriberBoard::Snapshot SubscriberBoard::snapshot() const
{
    const std::lock_guard lock(mutex_);
    return board_;
}

} // namespace zerobuffer::relay
