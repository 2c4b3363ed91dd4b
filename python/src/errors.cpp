// SPDX-License-Identifier: MIT
// The core's errors as Python exceptions: zerobuffer.Error and one subclass per zerobuffer::Errc.
#include "errors.h"

#include <array>
#include <cstddef>
#include <string>

namespace zbpy {
namespace {

struct ErrorClass {
    zerobuffer::Errc code;
    const char* name;
    PyObject* builtin; ///< A standard exception it also derives from (so `except TimeoutError` works), or null.
    const char* doc;
};

// Indexed by Errc; the order is checked at registration.
const std::array<ErrorClass, 12>& error_classes()
{
    static const std::array<ErrorClass, 12> classes{{
        {zerobuffer::Errc::InvalidArgument, "InvalidArgument", PyExc_ValueError,
         "A parameter, option or size is out of range; the message names it."},
        {zerobuffer::Errc::NotFound, "NotFound", PyExc_FileNotFoundError,
         "No ring of that name exists (yet): start the writer, or pass wait= to wait for it."},
        {zerobuffer::Errc::Busy, "Busy", nullptr,
         "The ring already has a live writer, or all reader slots are taken."},
        {zerobuffer::Errc::Timeout, "Timeout", PyExc_TimeoutError,
         "Nothing happened within the timeout (no frame, no room, no reader, no response)."},
        {zerobuffer::Errc::WriterGone, "WriterGone", nullptr,
         "The writer (or the other side of a duplex channel) closed or died, and everything it sent was read."},
        {zerobuffer::Errc::CorruptSegment, "CorruptSegment", nullptr,
         "A size, offset or field read from shared memory is invalid."},
        {zerobuffer::Errc::VersionMismatch, "VersionMismatch", nullptr,
         "The ring speaks another protocol version or stream-format schema."},
        {zerobuffer::Errc::FrameTooLarge, "FrameTooLarge", nullptr, "The frame can never fit in this ring."},
        {zerobuffer::Errc::ChecksumMismatch, "ChecksumMismatch", nullptr, "A frame failed its BLAKE2b checksum."},
        {zerobuffer::Errc::AuthenticationFailed, "AuthenticationFailed", nullptr,
         "A frame's MAC or the ring's key check failed: wrong or missing secret."},
        {zerobuffer::Errc::InvalidState, "InvalidState", nullptr,
         "The call is not allowed now (closed object, too many frames held, ...)."},
        {zerobuffer::Errc::SystemError, "SystemError", PyExc_OSError,
         "An OS call failed; the message holds strerror and what to do, .errno the errno."},
    }};
    return classes;
}

/// The class objects, created once at import and owned by the module (kept alive for the process, like every
/// exception type pybind11 registers).
std::array<PyObject*, 12>& class_objects()
{
    static std::array<PyObject*, 12> objects{};
    return objects;
}

} // namespace

void register_errors(py::module_& m)
{
    PyObject* base = PyErr_NewExceptionWithDoc(
        "zerobuffer.Error",
        "Base class of every ZeroBuffer error. str(e) and e.message are the core's message (what failed and what "
        "to do); e.code is the error's name (\"Timeout\", ...); e.errno the OS errno or 0.",
        PyExc_Exception, nullptr);
    if (base == nullptr)
        throw py::error_already_set();
    m.add_object("Error", py::handle(base));
    const auto& classes = error_classes();
    for (std::size_t i = 0; i < classes.size(); ++i) {
        if (static_cast<std::size_t>(classes[i].code) != i)
            throw std::logic_error("error class table out of order");
        py::tuple bases = classes[i].builtin != nullptr ? py::make_tuple(py::handle(base), py::handle(classes[i].builtin))
                                                        : py::make_tuple(py::handle(base));
        const std::string qualified = std::string("zerobuffer.") + classes[i].name;
        PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), classes[i].doc, bases.ptr(), nullptr);
        if (cls == nullptr)
            throw py::error_already_set();
        class_objects()[i] = cls;
        m.add_object(classes[i].name, py::handle(cls));
    }
}

py::handle error_class(zerobuffer::Errc code)
{
    const auto index = static_cast<std::size_t>(code);
    return index < class_objects().size() ? py::handle(class_objects()[index]) : py::handle(PyExc_RuntimeError);
}

void raise_error(const zerobuffer::Error& error)
{
    const auto index = static_cast<std::size_t>(error.code);
    PyObject* cls = index < class_objects().size() ? class_objects()[index] : nullptr;
    if (cls == nullptr)
        throw std::runtime_error(error.message);
    py::object instance = py::reinterpret_steal<py::object>(PyObject_CallFunction(cls, "s", error.message.c_str()));
    if (!instance)
        throw py::error_already_set();
    instance.attr("code") = py::str(std::string(zerobuffer::to_string(error.code)));
    instance.attr("message") = py::str(error.message);
    instance.attr("errno") = py::int_(error.system_errno);
    PyErr_SetObject(cls, instance.ptr());
    throw py::error_already_set();
}

void raise_error(zerobuffer::Errc code, const std::string& message)
{
    raise_error(zerobuffer::Error{code, message, 0});
}

} // namespace zbpy
