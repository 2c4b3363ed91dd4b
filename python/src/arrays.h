// SPDX-License-Identifier: MIT
// numpy views and DLPack tensors of frame memory in the ring. No copies: each view points into the mapping and
// keeps `base` (the Python object owning the memory: a Frame or a Reservation) alive.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h> // Every unit: std::optional / std::vector conversions must agree across the module.

#include "layout.h"

namespace zbpy {

namespace py = pybind11;

/// Views of `bytes` as `layout` says: one array for packed formats, a tuple per plane for planar ones
/// (`always_tuple`: a tuple in every case), a 1-D uint8 array when the layout has no planes. Raises
/// CorruptSegment when a plane runs past `bytes`, InvalidState for an empty frame.
[[nodiscard]] py::object make_views(const Layout& layout, std::span<std::byte> bytes, bool writable,
                                    py::handle base, bool always_tuple);

/// A 1-D uint8 view of `bytes`.
[[nodiscard]] py::array byte_view(std::span<std::byte> bytes, bool writable, py::handle base);

/// A DLPack capsule ("dltensor") for plane `plane` of `layout` (all of it for packed formats; nullopt: the
/// single array of a packed format, or the whole payload as bytes for planar and unknown ones). The tensor holds
/// a reference to `base` until its consumer calls the deleter.
[[nodiscard]] py::capsule make_dlpack(const Layout& layout, std::span<std::byte> bytes, std::optional<std::size_t> plane,
                                      py::handle base);

/// Binds nothing; registers the pixel-format helpers (default_layout, pixel_formats) in `m`.
void bind_layout_helpers(py::module_& m);

} // namespace zbpy
