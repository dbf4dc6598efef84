// Thin pybind11 binding of the CPU mask-completion kernel; inputs are checked and converted by
// folk/ops/mask_completion.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "mask_completion/mask_completion.h"

namespace py = pybind11;

namespace folk::mask_completion {

namespace {

template <typename T>
using carray = py::array_t<T, py::array::c_style>;

py::tuple complete(const carray<int64_t>& offsets, const carray<int32_t>& pixels, int32_t height,
                   int32_t width, int32_t radius, const carray<int32_t>& kernel,
                   int64_t threshold, int32_t directions, int32_t iterations) {
  const Params prm{radius,     static_cast<int32_t>(kernel.shape(0)), kernel.data(), threshold,
                   directions, iterations};
  const int64_t* off = offsets.data();
  const int32_t* pix = pixels.data();
  const int64_t num_masks = offsets.shape(0) - 1;
  std::pair<std::vector<int64_t>, std::vector<int32_t>> result;
  {
    py::gil_scoped_release release;
    result = complete_masks_cpu(off, pix, num_masks, height, width, prm);
  }
  carray<int64_t> out_offsets(static_cast<py::ssize_t>(result.first.size()), result.first.data());
  carray<int32_t> out_pix(static_cast<py::ssize_t>(result.second.size()), result.second.data());
  return py::make_tuple(out_offsets, out_pix);
}

}  // namespace

void register_mask_completion(py::module_& m) {
  m.def("complete_masks", &complete, py::arg("offsets"), py::arg("pixels"), py::arg("height"),
        py::arg("width"), py::arg("radius"), py::arg("kernel"), py::arg("threshold"),
        py::arg("directions"), py::arg("iterations"),
        "Density-guided completion of CSR pixel-list masks (see folk.ops.mask_completion).");
}

}  // namespace folk::mask_completion
