// folk._cuda: CUDA kernels. Compiled whenever a CUDA toolkit is present; imports without a GPU.
// Array arguments are any objects exposing __cuda_array_interface__ (torch CUDA tensors), checked
// by array_view.h before anything is launched, so the extension does not link against libtorch.
#include <pybind11/pybind11.h>

#include "device.h"
#include "mask_completion/mask_completion_cuda.h"
#include "visibility/visibility_cuda.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "folk CUDA kernels";
  m.def("device_count", &folk::cuda::device_count, "Usable CUDA devices (0 without a GPU).");
  folk::cuda::visibility::register_visibility(m);
  folk::cuda::mask_completion::register_mask_completion(m);
}
