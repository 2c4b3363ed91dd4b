// SPDX-License-Identifier: MIT
// Guard for internal headers: they describe the on-memory layout and must not leak into users' code.
#pragma once

#ifndef ZEROBUFFER_INTERNAL
#error "core/src headers are internal to libzerobuffer; include <zerobuffer/...> instead"
#endif
