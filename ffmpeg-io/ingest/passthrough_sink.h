// SPDX-License-Identifier: MIT
// zb-ingest's pass-through mode (--no-decode): encoded packets into the ring, H.264/H.265 as Annex-B access units.
#pragma once

#include <memory>

#include "sink.h"

namespace zbffmpeg::ingest {

/// Sets up the Annex-B bitstream filter where the codec needs one and returns the sink that writes packets.
[[nodiscard]] Result<std::unique_ptr<Sink>> make_passthrough_sink(Context& context, const AVStream& stream,
                                                                  AVRational framerate);

} // namespace zbffmpeg::ingest
