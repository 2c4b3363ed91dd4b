// SPDX-License-Identifier: MIT
// The parts of the zerobuffer._zerobuffer extension module, each bound in its own file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h> // Every unit: std::optional / std::vector conversions must agree across the module.

#include <zerobuffer/counters.h>

#include "layout.h"

namespace zbpy {

namespace py = pybind11;

void bind_reader(py::module_& m);
void bind_writer(py::module_& m);
void bind_duplex(py::module_& m);

[[nodiscard]] py::dict writer_counters(const zerobuffer::WriterCounters& counters);
[[nodiscard]] py::dict reader_counters(const zerobuffer::ReaderCounters& counters);

/// The layout of the newest frame's stream format, rebuilt only when its generation changes. Pure C++: used
/// while the GIL is released, under the lock of whoever acquires frames.
class LayoutCache {
public:
    [[nodiscard]] std::shared_ptr<const Layout> get(std::uint32_t generation, const std::string& json)
    {
        if (!current_ || current_->generation != generation) // Generations are unique within one ring.
            current_ = std::make_shared<const Layout>(layout_from_json(json, generation));
        return current_;
    }

private:
    std::shared_ptr<const Layout> current_;
};

} // namespace zbpy
