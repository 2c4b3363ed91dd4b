// SPDX-License-Identifier: MIT
// zb-ingest's decode mode: packets are decoded with libavcodec and each frame written into a ring reservation.
#pragma once

#include <memory>

#include "sink.h"

namespace zbffmpeg::ingest {

/// Opens the decoder of `stream` and returns the sink that decodes its packets into the ring.
[[nodiscard]] Result<std::unique_ptr<Sink>> make_decode_sink(Context& context, const AVStream& stream,
                                                             AVRational framerate);

} // namespace zbffmpeg::ingest
