// SPDX-License-Identifier: MIT
// How a frame's payload maps to arrays: raw-video pixel formats, their planes, and the checks against the payload.
//
// Pure C++ (no Python types), so that readers can build a layout while the GIL is released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zerobuffer/stream_format.h>

namespace zbpy {

/// One plane as an array: rows x cols x channels elements of `itemsize` bytes, rows `stride` bytes apart.
struct PlaneShape {
    std::uint64_t offset = 0; ///< Bytes from the start of the payload.
    std::uint64_t stride = 0; ///< Bytes from one row to the next.
    std::uint64_t rows = 0;
    std::uint64_t cols = 0;
    std::uint32_t channels = 1; ///< 1 for planes of planar formats (2-D arrays), else the samples per pixel.
    bool channel_axis = false;  ///< Packed and semi-planar planes, and GRAY: (rows, cols, channels) arrays.
    [[nodiscard]] std::uint64_t row_bytes(std::uint32_t itemsize) const noexcept { return cols * channels * itemsize; }
};

/// The array view of one stream format. `planes` empty: the payload is bytes (no known raw-video layout).
struct Layout {
    std::string json;              ///< The stream-metadata document ("" if the writer set none).
    std::uint32_t generation = 0;  ///< Its generation in the ring.
    std::optional<zerobuffer::StreamFormat> format; ///< Parsed, when the document follows the schema.
    std::string pixel_format;      ///< Raw video: the GStreamer format name.
    std::uint32_t itemsize = 1;    ///< Bytes per sample: 1 (uint8) or 2 (uint16).
    char byte_order = '|';         ///< numpy byte order of the samples: '|' (bytes), '<' or '>'.
    std::vector<PlaneShape> planes;
    std::uint64_t frame_size = 0;  ///< Raw video: bytes of one frame as the format says (0: unknown).
    std::string problem;           ///< Why a raw-video format's planes cannot be arrays ("" if they can).

    [[nodiscard]] bool has_planes() const noexcept { return !planes.empty(); }
    /// Packed formats (RGB, GRAY, YUY2...) give one array; planar and semi-planar ones a tuple.
    [[nodiscard]] bool single_array() const noexcept { return planes.size() == 1; }
};

/// Builds the layout of a stream-metadata document. Never fails: a document it does not know (another schema,
/// encoded video, a pixel format not in the table) gives a bytes layout; raw video whose planes contradict its
/// pixel format gives no planes and `problem` saying why.
[[nodiscard]] Layout layout_from_json(std::string json, std::uint32_t generation);

/// "" when every plane of `layout` lies inside a payload of `payload_size` bytes, else what runs past it.
/// Never trusts sizes from shared memory: every product and sum is checked for overflow.
[[nodiscard]] std::string check_planes(const Layout& layout, std::size_t payload_size);

/// GStreamer's default layout (GstVideoInfo) of a raw-video frame: plane offsets and strides, and frame size.
struct DefaultLayout {
    std::vector<zerobuffer::PlaneLayout> planes;
    std::uint64_t frame_size = 0;
};
/// nullopt if the pixel format is not one the module knows.
[[nodiscard]] std::optional<DefaultLayout> default_layout(std::string_view pixel_format, std::uint32_t width,
                                                          std::uint32_t height);

/// The pixel formats the module maps to arrays.
[[nodiscard]] std::vector<std::string> known_pixel_formats();

} // namespace zbpy
