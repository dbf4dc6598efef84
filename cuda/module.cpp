// folk._cuda: CUDA kernels. Compiled whenever a CUDA toolkit is present; imports without a GPU.
// Kernels take raw device pointers (torch.Tensor.data_ptr()) checked by the Python wrappers, so
// the extension does not link against libtorch.
#include <pybind11/pybind11.h>

#include "device.h"
#include "mask_completion/mask_completion_cuda.h"
#include "visibility/visibility_cuda.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "folk CUDA kernels";
  m.def("device_count", &folk::cuda::device_count, "Usable CUDA devices (0 without a GPU).");
  m.def("runtime_version", &folk::cuda::runtime_version, "CUDA runtime folk._cuda was built with.");
  folk::cuda::visibility::register_visibility(m);
  folk::cuda::mask_completion::register_mask_completion(m);
}
