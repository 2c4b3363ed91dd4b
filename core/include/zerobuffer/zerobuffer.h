// SPDX-License-Identifier: MIT
// Umbrella header of libzerobuffer: a shared-memory frame ring with one writer and several readers.
//
// A ring is a named POSIX shared-memory segment holding a control block, reader slots, stream metadata
// and a byte ring of frames. The writer reserves a region, fills it in place and commits it; each reader
// acquires read-only views of frames in order and releases them (in any order) when done. Waiting sleeps
// on futexes in the segment; liveness of every process is tracked by kernel-held locks, so crashes are
// detected and recovered from. The on-memory protocol is described in docs/protocol.md.
#pragma once

#include <zerobuffer/counters.h>
#include <zerobuffer/duplex.h>
#include <zerobuffer/error.h>
#include <zerobuffer/frame.h>
#include <zerobuffer/inspect.h>
#include <zerobuffer/options.h>
#include <zerobuffer/reader.h>
#include <zerobuffer/stream_format.h>
#include <zerobuffer/version.h>
#include <zerobuffer/writer.h>
