// folk._C: CPU kernels (C++17 + OpenMP). Every kernel lives in its own folder with a header;
// inputs are checked in the Python wrappers under folk/ops/ (and their shapes again in the
// bindings). folk._C._testing exposes the per-element steps the CPU and CUDA kernels share.
#include <pybind11/pybind11.h>

#include "mask_completion/mask_completion.h"
#include "segment_mean/segment_mean.h"
#include "segmentator/segmentator.h"
#include "visibility/visibility.h"

#ifdef FOLK_HAVE_OPENMP
#include <omp.h>
#endif

namespace py = pybind11;

static int max_threads() {
#ifdef FOLK_HAVE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

PYBIND11_MODULE(_C, m) {
  m.doc() = "folk CPU kernels";
  m.def("openmp_max_threads", &max_threads, "Threads OpenMP will use (1 without OpenMP).");
  py::module_ testing = m.def_submodule(
      "_testing", "Private: the per-element steps shared with the CUDA kernels, for the tests.");
  folk::visibility::register_visibility(m, testing);
  folk::mask_completion::register_mask_completion(m, testing);
  folk::segment_mean::register_segment_mean(m);
  folk::segmentator::register_segmentator(m, testing);
}
