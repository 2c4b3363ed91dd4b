// SPDX-License-Identifier: MIT
// zb-ingest's audio (--audio-ring): the input's audio stream into a second ring, decoded or passed through.
#pragma once

#include <memory>

#include "sink.h"

namespace zbffmpeg::ingest {

/// The sink for `stream`'s packets: decoded (one decoded frame per ring frame, in the decoder's sample format)
/// when `decode`, else the encoded packets as they are. `context` is the audio ring's (its own ring and clock;
/// the clock's loop offset follows the video's).
[[nodiscard]] Result<std::unique_ptr<Sink>> make_audio_sink(Context& context, const AVStream& stream, bool decode);

} // namespace zbffmpeg::ingest
