// SPDX-License-Identifier: MIT
// A ring frame lent to whoever sends it (libzmq's I/O thread, a payload stream's thread): given back to the ring
// when its last user is done.
#pragma once

#include <atomic>
#include <cstdint>

#include <zerobuffer/reader.h>

namespace zerobuffer::relay {

/// Owned by the Publisher (a fixed array); `users` counts the messages and queue entries that still point into
/// the frame's payload, `busy` says the slot is taken until the last of them is done.
struct LentFrame {
    Frame frame;
    std::atomic<std::uint32_t> users{0};
    std::atomic<bool> busy{false};
};

/// Drops one user; the last one releases the frame and frees the slot. Thread-safe (Frame::release is).
inline void give_back(LentFrame& lent) noexcept
{
    if (lent.users.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        lent.frame.release();
        lent.busy.store(false, std::memory_order_release);
    }
}

} // namespace zerobuffer::relay
