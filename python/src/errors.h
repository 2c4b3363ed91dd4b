// SPDX-License-Identifier: MIT
// The core's errors as Python exceptions: zerobuffer.Error and one subclass per zerobuffer::Errc.
#pragma once

#include <utility>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h> // Every unit: std::optional / std::vector conversions must agree across the module.

#include <zerobuffer/error.h>

namespace zbpy {

namespace py = pybind11;

/// Creates zerobuffer.Error and its subclasses in module `m`.
void register_errors(py::module_& m);

/// The exception class of `code` (after register_errors).
[[nodiscard]] py::handle error_class(zerobuffer::Errc code);

/// Raises the exception class of error.code with the core's message (and .code, .message, .errno).
[[noreturn]] void raise_error(const zerobuffer::Error& error);
[[noreturn]] void raise_error(zerobuffer::Errc code, const std::string& message);

/// The value of a Result, or the matching exception.
template <typename T>
T unwrap(zerobuffer::Result<T>&& result)
{
    if (!result)
        raise_error(result.error());
    return std::move(*result);
}

inline void unwrap(zerobuffer::Result<void>&& result)
{
    if (!result)
        raise_error(result.error());
}

} // namespace zbpy
