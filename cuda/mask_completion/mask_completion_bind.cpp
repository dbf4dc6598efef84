// Thin pybind11 binding of the CUDA mask-completion launcher: raw device pointers (ints from
// torch.Tensor.data_ptr()) and sizes, all checked by folk/ops/mask_completion.py.
#include <pybind11/pybind11.h>

#include <cstdint>

#include "mask_completion/mask_completion_cuda.h"

namespace py = pybind11;

namespace folk::cuda::mask_completion {

namespace {
template <typename T>
T* ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}
}  // namespace

void register_mask_completion(py::module_& m) {
  m.def(
      "complete_masks",
      [](uintptr_t offsets, uintptr_t pixels, int64_t num_masks, int32_t width, uintptr_t crops,
         uintptr_t crop_offsets, uintptr_t out, uintptr_t scratch8, uintptr_t scratch_a,
         uintptr_t scratch_b, int32_t radius, int32_t kernel_size, uintptr_t kernel,
         int64_t threshold, int32_t directions, int32_t iterations, uintptr_t stream) {
        const MaskArgs a{ptr<const int64_t>(offsets), ptr<const int32_t>(pixels), num_masks,
                         width, ptr<const int32_t>(crops), ptr<const int64_t>(crop_offsets),
                         ptr<uint8_t>(out), ptr<uint8_t>(scratch8), ptr<int32_t>(scratch_a),
                         ptr<int32_t>(scratch_b), radius, kernel_size,
                         ptr<const int32_t>(kernel), threshold, directions, iterations};
        launch_complete(a, ptr<void>(stream));
      },
      py::arg("offsets"), py::arg("pixels"), py::arg("num_masks"), py::arg("width"),
      py::arg("crops"), py::arg("crop_offsets"), py::arg("out"), py::arg("scratch8"),
      py::arg("scratch_a"), py::arg("scratch_b"), py::arg("radius"), py::arg("kernel_size"),
      py::arg("kernel"), py::arg("threshold"), py::arg("directions"), py::arg("iterations"),
      py::arg("stream"),
      "Completes CSR pixel-list masks into dense uint8 crops (see folk.ops.mask_completion).");
}

}  // namespace folk::cuda::mask_completion
