// SPDX-License-Identifier: MIT
// Raw-video pixel formats as arrays: the plane table, GStreamer's default layout and the bounds checks.
#include "layout.h"

#include <algorithm>
#include <array>
#include <utility>

namespace zbpy {
namespace {

/// One plane of a pixel format: subsampling (log2) against the picture and samples per pixel.
struct PlaneSpec {
    std::uint8_t x_shift = 0;
    std::uint8_t y_shift = 0;
    std::uint8_t channels = 1;
};

struct FormatSpec {
    std::string_view name;
    std::uint8_t itemsize; ///< Bytes per sample.
    char byte_order;       ///< '|' for bytes, '<' little endian.
    std::uint8_t n_planes;
    std::array<PlaneSpec, 4> planes;
    bool even_rows = false; ///< GStreamer allocates an even number of rows for every plane (I422_10LE, I422_12LE).
};

constexpr PlaneSpec kFull{0, 0, 1};
constexpr PlaneSpec kHalf{1, 1, 1};      // 4:2:0 chroma
constexpr PlaneSpec kHalfWidth{1, 0, 1}; // 4:2:2 chroma
constexpr PlaneSpec kQuarterWidth{2, 0, 1};
constexpr PlaneSpec kQuarter{2, 2, 1};
constexpr PlaneSpec kPacked(std::uint8_t channels) { return {0, 0, channels}; }

// GStreamer format names (the schema's pixel_format). Every entry is checked against GstVideoInfo by
// tests/python/test_layouts.py, so the default layout here is the one GStreamer itself computes.
constexpr std::array kFormats{
    // Packed, one plane: (H, W, C) arrays.
    FormatSpec{"GRAY8", 1, '|', 1, {kPacked(1)}},
    FormatSpec{"GRAY16_LE", 2, '<', 1, {kPacked(1)}},
    FormatSpec{"GRAY16_BE", 2, '>', 1, {kPacked(1)}},
    FormatSpec{"RGB", 1, '|', 1, {kPacked(3)}},
    FormatSpec{"BGR", 1, '|', 1, {kPacked(3)}},
    FormatSpec{"v308", 1, '|', 1, {kPacked(3)}},
    FormatSpec{"IYU2", 1, '|', 1, {kPacked(3)}},
    FormatSpec{"RGBA", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"BGRA", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"ARGB", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"ABGR", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"RGBx", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"BGRx", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"xRGB", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"xBGR", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"AYUV", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"VUYA", 1, '|', 1, {kPacked(4)}},
    FormatSpec{"RGBA64_LE", 2, '<', 1, {kPacked(4)}},
    FormatSpec{"BGRA64_LE", 2, '<', 1, {kPacked(4)}},
    FormatSpec{"ARGB64_LE", 2, '<', 1, {kPacked(4)}},
    FormatSpec{"ABGR64_LE", 2, '<', 1, {kPacked(4)}},
    // Packed 4:2:2: two bytes per pixel (luma, then alternately U and V).
    FormatSpec{"YUY2", 1, '|', 1, {kPacked(2)}},
    FormatSpec{"UYVY", 1, '|', 1, {kPacked(2)}},
    FormatSpec{"YVYU", 1, '|', 1, {kPacked(2)}},
    FormatSpec{"VYUY", 1, '|', 1, {kPacked(2)}},
    // Planar: one (h, w) array per plane.
    FormatSpec{"I420", 1, '|', 3, {kFull, kHalf, kHalf}},
    FormatSpec{"YV12", 1, '|', 3, {kFull, kHalf, kHalf}},
    FormatSpec{"Y42B", 1, '|', 3, {kFull, kHalfWidth, kHalfWidth}},
    FormatSpec{"Y444", 1, '|', 3, {kFull, kFull, kFull}},
    FormatSpec{"Y41B", 1, '|', 3, {kFull, kQuarterWidth, kQuarterWidth}},
    FormatSpec{"YUV9", 1, '|', 3, {kFull, kQuarter, kQuarter}},
    FormatSpec{"YVU9", 1, '|', 3, {kFull, kQuarter, kQuarter}},
    FormatSpec{"A420", 1, '|', 4, {kFull, kHalf, kHalf, kFull}},
    FormatSpec{"GBR", 1, '|', 3, {kFull, kFull, kFull}},
    FormatSpec{"GBRA", 1, '|', 4, {kFull, kFull, kFull, kFull}},
    FormatSpec{"I420_10LE", 2, '<', 3, {kFull, kHalf, kHalf}},
    FormatSpec{"I420_12LE", 2, '<', 3, {kFull, kHalf, kHalf}},
    FormatSpec{"I422_10LE", 2, '<', 3, {kFull, kHalfWidth, kHalfWidth}, true},
    FormatSpec{"I422_12LE", 2, '<', 3, {kFull, kHalfWidth, kHalfWidth}, true},
    FormatSpec{"Y444_10LE", 2, '<', 3, {kFull, kFull, kFull}},
    FormatSpec{"Y444_12LE", 2, '<', 3, {kFull, kFull, kFull}},
    FormatSpec{"Y444_16LE", 2, '<', 3, {kFull, kFull, kFull}},
    // Semi-planar: luma (h, w), then interleaved chroma (h', w', 2).
    FormatSpec{"NV12", 1, '|', 2, {kFull, PlaneSpec{1, 1, 2}}},
    FormatSpec{"NV21", 1, '|', 2, {kFull, PlaneSpec{1, 1, 2}}},
    FormatSpec{"NV16", 1, '|', 2, {kFull, PlaneSpec{1, 0, 2}}},
    FormatSpec{"NV61", 1, '|', 2, {kFull, PlaneSpec{1, 0, 2}}},
    FormatSpec{"NV24", 1, '|', 2, {kFull, PlaneSpec{0, 0, 2}}},
    FormatSpec{"P010_10LE", 2, '<', 2, {kFull, PlaneSpec{1, 1, 2}}},
    FormatSpec{"P012_LE", 2, '<', 2, {kFull, PlaneSpec{1, 1, 2}}},
    FormatSpec{"P016_LE", 2, '<', 2, {kFull, PlaneSpec{1, 1, 2}}},
};

const FormatSpec* find_format(std::string_view name) noexcept
{
    const auto found = std::find_if(kFormats.begin(), kFormats.end(), [name](const FormatSpec& f) { return f.name == name; });
    return found == kFormats.end() ? nullptr : &*found;
}

constexpr std::uint64_t subsampled(std::uint64_t size, std::uint8_t shift) noexcept
{
    return (size + (std::uint64_t{1} << shift) - 1) >> shift; // Rounded up, as GStreamer does.
}

constexpr std::uint64_t round_up(std::uint64_t value, std::uint64_t multiple) noexcept
{
    return (value + multiple - 1) / multiple * multiple;
}

/// Rows and columns of plane `p` of a width x height picture.
PlaneShape plane_shape(const FormatSpec& spec, std::size_t p, std::uint32_t width, std::uint32_t height)
{
    const PlaneSpec& plane = spec.planes[p];
    PlaneShape shape;
    shape.rows = subsampled(height, plane.y_shift);
    shape.cols = subsampled(width, plane.x_shift);
    shape.channels = plane.channels;
    shape.channel_axis = spec.n_planes == 1 || plane.channels > 1;
    return shape;
}

/// Rows GStreamer allocates for plane `p`: 4:2:0 formats give their full-height planes an even number of rows.
std::uint64_t allocated_rows(const FormatSpec& spec, std::size_t p, std::uint32_t height)
{
    const bool vertical_half = std::any_of(spec.planes.begin(), spec.planes.begin() + spec.n_planes,
                                           [](const PlaneSpec& plane) { return plane.y_shift == 1; });
    if (spec.even_rows || (vertical_half && spec.planes[p].y_shift == 0))
        return round_up(height, 2);
    return subsampled(height, spec.planes[p].y_shift);
}

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept
{
    return !__builtin_mul_overflow(a, b, &out);
}

bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept
{
    return !__builtin_add_overflow(a, b, &out);
}

} // namespace

Layout layout_from_json(std::string json, std::uint32_t generation)
{
    Layout layout;
    layout.json = std::move(json);
    layout.generation = generation;
    if (layout.json.empty())
        return layout;
    auto parsed = zerobuffer::parse_stream_format(layout.json);
    if (!parsed)
        return layout; // Not our schema: the frames are bytes.
    layout.format = std::move(*parsed);
    const zerobuffer::StreamFormat& format = *layout.format;
    if (format.media_type != "video/x-raw")
        return layout;
    layout.pixel_format = format.pixel_format;
    const FormatSpec* spec = find_format(format.pixel_format);
    if (spec == nullptr)
        return layout; // A format without an array layout here: its frames are bytes.
    if (!format.width || !format.height || *format.width == 0 || *format.height == 0) {
        layout.problem = "the raw-video stream format has no width and height";
        return layout;
    }
    if (!format.planes.empty() && format.planes.size() != spec->n_planes) {
        layout.problem = "the stream format lists " + std::to_string(format.planes.size()) + " planes but " +
                         format.pixel_format + " has " + std::to_string(spec->n_planes);
        return layout;
    }
    layout.itemsize = spec->itemsize;
    layout.byte_order = spec->byte_order;
    std::uint64_t next_offset = 0; // Without planes in the metadata: tightly packed planes (what FFmpeg writes).
    for (std::size_t p = 0; p < spec->n_planes; ++p) {
        PlaneShape shape = plane_shape(*spec, p, *format.width, *format.height);
        const std::uint64_t row_bytes = shape.row_bytes(spec->itemsize);
        if (format.planes.empty()) {
            shape.offset = next_offset;
            shape.stride = row_bytes;
            next_offset += row_bytes * shape.rows;
        } else {
            shape.offset = format.planes[p].offset;
            shape.stride = format.planes[p].stride;
        }
        if (shape.stride < row_bytes) {
            layout.problem = "plane " + std::to_string(p) + " of the stream format has stride " +
                             std::to_string(shape.stride) + ", less than its " + std::to_string(row_bytes) +
                             "-byte rows";
            layout.planes.clear();
            return layout;
        }
        if (spec->itemsize > 1 && (shape.stride % spec->itemsize != 0 || shape.offset % spec->itemsize != 0)) {
            layout.problem = "plane " + std::to_string(p) + " of the stream format is not aligned to its " +
                             std::to_string(spec->itemsize) + "-byte samples";
            layout.planes.clear();
            return layout;
        }
        layout.planes.push_back(shape);
    }
    layout.frame_size = format.frame_size.value_or(format.planes.empty() ? next_offset : 0);
    return layout;
}

std::string check_planes(const Layout& layout, std::size_t payload_size)
{
    const std::uint64_t size = payload_size;
    for (std::size_t p = 0; p < layout.planes.size(); ++p) {
        const PlaneShape& plane = layout.planes[p];
        if (plane.rows == 0)
            continue;
        std::uint64_t span = 0;
        std::uint64_t end = 0;
        const bool fits = plane.offset <= size && checked_mul(plane.rows - 1, plane.stride, span) &&
                          checked_add(span, plane.row_bytes(layout.itemsize), span) &&
                          checked_add(plane.offset, span, end) && end <= size;
        if (!fits)
            return "plane " + std::to_string(p) + " (offset " + std::to_string(plane.offset) + ", stride " +
                   std::to_string(plane.stride) + ", " + std::to_string(plane.rows) + " rows) runs past the " +
                   std::to_string(payload_size) + "-byte frame";
    }
    return {};
}

std::optional<DefaultLayout> default_layout(std::string_view pixel_format, std::uint32_t width, std::uint32_t height)
{
    const FormatSpec* spec = find_format(pixel_format);
    if (spec == nullptr || width == 0 || height == 0)
        return std::nullopt;
    DefaultLayout layout;
    std::uint64_t offset = 0;
    for (std::size_t p = 0; p < spec->n_planes; ++p) {
        const PlaneShape shape = plane_shape(*spec, p, width, height);
        // GStreamer pads every row to a multiple of 4 bytes.
        const std::uint64_t stride = round_up(shape.row_bytes(spec->itemsize), 4);
        if (stride > UINT32_MAX)
            return std::nullopt; // The schema's strides are 32-bit.
        layout.planes.push_back({offset, static_cast<std::uint32_t>(stride)});
        offset += stride * allocated_rows(*spec, p, height);
    }
    layout.frame_size = offset;
    return layout;
}

std::vector<std::string> known_pixel_formats()
{
    std::vector<std::string> names;
    names.reserve(kFormats.size());
    for (const FormatSpec& spec : kFormats)
        names.emplace_back(spec.name);
    return names;
}

} // namespace zbpy
