// SPDX-License-Identifier: MIT
// The buffer protocol (memoryview(obj)) for Frame and Reservation: 1-D bytes of ring memory.
//
// pybind11's own def_buffer cannot refuse a buffer (an exception there would cross its extern "C" hook), and a
// released frame must refuse: this installs a getbuffer that raises BufferError instead.
#pragma once

#include <cstddef>
#include <exception>
#include <span>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h> // Every unit: std::optional / std::vector conversions must agree across the module.

namespace zbpy {

namespace py = pybind11;

/// Returns the bytes an object exports, or throws (a Python error or a C++ exception pybind11 translates).
using BytesOf = std::span<std::byte> (*)(PyObject* object);

namespace detail {

template <BytesOf bytes_of, bool writable>
int get_buffer(PyObject* object, Py_buffer* view, int flags)
{
    std::span<std::byte> bytes;
    try {
        bytes = bytes_of(object);
    } catch (py::error_already_set& error) {
        error.restore();
        view->obj = nullptr;
        return -1;
    } catch (const std::exception& error) {
        PyErr_SetString(PyExc_BufferError, error.what());
        view->obj = nullptr;
        return -1;
    }
    // Fills every field for `flags`, refuses writable requests on read-only memory, and references `object`, so
    // the memoryview keeps the frame (and so its memory) alive.
    return PyBuffer_FillInfo(view, object, bytes.data(), static_cast<Py_ssize_t>(bytes.size()), writable ? 0 : 1,
                             flags);
}

inline void release_buffer(PyObject*, Py_buffer*) {}

} // namespace detail

/// Makes objects of `cls` (created with py::buffer_protocol()) export `bytes_of(object)`.
template <BytesOf bytes_of, bool writable, typename Class>
void install_buffer(Class& cls)
{
    auto* type = reinterpret_cast<PyTypeObject*>(cls.ptr());
    type->tp_as_buffer->bf_getbuffer = &detail::get_buffer<bytes_of, writable>;
    type->tp_as_buffer->bf_releasebuffer = &detail::release_buffer;
}

} // namespace zbpy
