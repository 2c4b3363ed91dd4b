// SPDX-License-Identifier: MIT
// numpy views and DLPack tensors of frame memory in the ring (arrays.h).
#include "arrays.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <dlpack/dlpack.h>

#include "errors.h"

namespace zbpy {
namespace {

py::dtype sample_dtype(const Layout& layout)
{
    if (layout.itemsize == 2)
        return layout.byte_order == '>' ? py::dtype(">u2") : py::dtype("<u2");
    return py::dtype::of<std::uint8_t>();
}

py::array finish(py::array array, bool writable)
{
    if (!writable)
        py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return array;
}

py::array plane_view(const Layout& layout, const PlaneShape& plane, std::span<std::byte> bytes, bool writable,
                     py::handle base)
{
    const auto rows = static_cast<py::ssize_t>(plane.rows);
    const auto cols = static_cast<py::ssize_t>(plane.cols);
    const auto stride = static_cast<py::ssize_t>(plane.stride);
    const auto item = static_cast<py::ssize_t>(layout.itemsize);
    std::byte* data = bytes.data() + plane.offset;
    if (plane.channel_axis) {
        const auto channels = static_cast<py::ssize_t>(plane.channels);
        return finish(py::array(sample_dtype(layout), std::vector<py::ssize_t>{rows, cols, channels},
                                std::vector<py::ssize_t>{stride, channels * item, item}, data, base),
                      writable);
    }
    return finish(py::array(sample_dtype(layout), std::vector<py::ssize_t>{rows, cols},
                            std::vector<py::ssize_t>{stride, item}, data, base),
                  writable);
}

void check_viewable(const Layout& layout, std::span<std::byte> bytes)
{
    if (!layout.problem.empty())
        raise_error(zerobuffer::Errc::CorruptSegment,
                    "cannot view this frame as arrays: " + layout.problem + " (memoryview(frame) gives its bytes)");
    if (!layout.has_planes())
        return;
    if (bytes.empty())
        raise_error(zerobuffer::Errc::InvalidState, "the frame has no payload (an end-of-stream marker): no arrays");
    if (const std::string problem = check_planes(layout, bytes.size()); !problem.empty())
        raise_error(zerobuffer::Errc::CorruptSegment, "the frame does not match its stream format: " + problem +
                                                          "; the writer is broken (the frame is not read)");
}

// --- DLPack --------------------------------------------------------------------------------------------------

constexpr const char* kCapsuleName = "dltensor";
constexpr const char* kUsedCapsuleName = "used_dltensor";

/// What a DLPack tensor owns: its shape and strides, and a reference to the Python object that keeps the memory.
struct DlpackOwner {
    DLManagedTensor managed{};
    std::array<std::int64_t, 3> shape{};
    std::array<std::int64_t, 3> strides{};
    PyObject* base = nullptr; ///< Strong reference, dropped by the deleter (with the GIL).
};

void delete_dlpack(DLManagedTensor* managed)
{
    // Adopt the owner handed out by make_dlpack; the consumer may call this from any thread.
    std::unique_ptr<DlpackOwner> owner(static_cast<DlpackOwner*>(managed->manager_ctx));
    const PyGILState_STATE gil = PyGILState_Ensure();
    Py_XDECREF(owner->base);
    PyGILState_Release(gil);
}

void destroy_capsule(PyObject* capsule)
{
    // A consumer renames the capsule to "used_dltensor" and owns the tensor; an unconsumed one is ours to free.
    if (PyCapsule_IsValid(capsule, kUsedCapsuleName))
        return;
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, kCapsuleName));
    if (managed == nullptr) {
        PyErr_Clear();
        return;
    }
    managed->deleter(managed);
}

} // namespace

py::array byte_view(std::span<std::byte> bytes, bool writable, py::handle base)
{
    return finish(py::array(py::dtype::of<std::uint8_t>(), std::vector<py::ssize_t>{static_cast<py::ssize_t>(bytes.size())},
                            std::vector<py::ssize_t>{1}, bytes.data(), base),
                  writable);
}

py::object make_views(const Layout& layout, std::span<std::byte> bytes, bool writable, py::handle base,
                      bool always_tuple)
{
    check_viewable(layout, bytes);
    if (!layout.has_planes()) {
        py::array all = byte_view(bytes, writable, base);
        return always_tuple ? py::object(py::make_tuple(all)) : py::object(all);
    }
    if (layout.single_array() && !always_tuple)
        return plane_view(layout, layout.planes.front(), bytes, writable, base);
    py::tuple planes(layout.planes.size());
    for (std::size_t p = 0; p < layout.planes.size(); ++p)
        planes[p] = plane_view(layout, layout.planes[p], bytes, writable, base);
    return planes;
}

py::capsule make_dlpack(const Layout& layout, std::span<std::byte> bytes, std::optional<std::size_t> plane,
                        py::handle base)
{
    check_viewable(layout, bytes);
    auto owner = std::make_unique<DlpackOwner>();
    DLTensor& tensor = owner->managed.dl_tensor;
    tensor.device = {kDLCPU, 0};
    tensor.byte_offset = 0;
    const bool as_plane = layout.has_planes() && (plane.has_value() || layout.single_array());
    if (plane && (!layout.has_planes() || *plane >= layout.planes.size()))
        raise_error(zerobuffer::Errc::InvalidArgument,
                    "plane " + std::to_string(*plane) + " does not exist: the frame has " +
                        std::to_string(layout.planes.size()) + " plane(s)");
    if (as_plane) {
        const PlaneShape& shape = layout.planes[plane.value_or(0)];
        if (layout.byte_order == '>')
            throw py::buffer_error("DLPack tensors are little-endian; this " + layout.pixel_format +
                                   " frame is big-endian: use frame.array()");
        const auto item = static_cast<std::int64_t>(layout.itemsize);
        tensor.data = bytes.data() + shape.offset;
        tensor.dtype = {kDLUInt, static_cast<std::uint8_t>(8 * layout.itemsize), 1};
        // DLPack strides count elements, not bytes (the layout guarantees strides are whole samples).
        const auto rows = static_cast<std::int64_t>(shape.rows);
        const auto cols = static_cast<std::int64_t>(shape.cols);
        const auto channels = static_cast<std::int64_t>(shape.channels);
        const auto row_stride = static_cast<std::int64_t>(shape.stride) / item;
        if (shape.channel_axis) {
            owner->shape = {rows, cols, channels};
            owner->strides = {row_stride, channels, 1};
            tensor.ndim = 3;
        } else {
            owner->shape = {rows, cols, 0};
            owner->strides = {row_stride, 1, 0};
            tensor.ndim = 2;
        }
    } else {
        tensor.data = bytes.data();
        tensor.dtype = {kDLUInt, 8, 1};
        owner->shape = {static_cast<std::int64_t>(bytes.size()), 0, 0};
        owner->strides = {1, 0, 0};
        tensor.ndim = 1;
    }
    tensor.shape = owner->shape.data();
    tensor.strides = owner->strides.data();
    owner->managed.deleter = delete_dlpack;
    owner->managed.manager_ctx = owner.get();
    DLManagedTensor* managed = &owner->managed;
    py::capsule capsule(managed, kCapsuleName, destroy_capsule); // If this throws, `owner` frees everything.
    owner->base = base.inc_ref().ptr();
    owner.release(); // Owned by the capsule (destroy_capsule) or its consumer (delete_dlpack) from here on.
    return capsule;
}

void bind_layout_helpers(py::module_& m)
{
    m.def(
        "default_layout",
        [](const std::string& pixel_format, std::uint32_t width, std::uint32_t height) -> py::object {
            const auto layout = default_layout(pixel_format, width, height);
            if (!layout)
                return py::none();
            py::list planes;
            for (const zerobuffer::PlaneLayout& plane : layout->planes) {
                py::dict entry;
                entry["offset"] = plane.offset;
                entry["stride"] = plane.stride;
                planes.append(entry);
            }
            return py::make_tuple(planes, layout->frame_size);
        },
        py::arg("pixel_format"), py::arg("width"), py::arg("height"),
        "GStreamer's default layout of a raw-video frame: ([{'offset': N, 'stride': N}, ...], frame_size), or None\n"
        "if the pixel format has no array layout in this module (see pixel_formats()).");
    m.def("pixel_formats", &known_pixel_formats,
          "The GStreamer pixel-format names whose frames Frame.array() maps to shaped arrays.");
}

} // namespace zbpy
