// Thin pybind11 bindings of the CUDA visibility launchers: raw device pointers (ints from
// torch.Tensor.data_ptr()) and sizes, all checked by folk/ops/visibility.py.
#include <pybind11/pybind11.h>

#include <cstdint>

#include "visibility/visibility_cuda.h"

namespace py = pybind11;

namespace folk::cuda::visibility {

namespace {

template <typename T>
T* ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

PairArgs pair_args(uintptr_t points, uintptr_t cam, uintptr_t intr, uintptr_t valid,
                   uintptr_t depths, int64_t num_frames, int32_t height, int32_t width,
                   uintptr_t offsets, uintptr_t indices, int64_t num_proposals, uintptr_t pairs,
                   int64_t num_pairs, float delta, uintptr_t bitmaps, int32_t num_blocks) {
  return PairArgs{ptr<const float>(points),   ptr<const float>(cam),      ptr<const float>(intr),
                  ptr<const uint8_t>(valid),  ptr<const float>(depths),   num_frames,
                  height,                     width,                      ptr<const int64_t>(offsets),
                  ptr<const int32_t>(indices), num_proposals,             ptr<const int64_t>(pairs),
                  num_pairs,                  delta,                      ptr<uint32_t>(bitmaps),
                  num_blocks};
}

}  // namespace

void register_visibility(py::module_& m) {
  m.def(
      "visibility_counts",
      [](uintptr_t points, uintptr_t cam, uintptr_t intr, uintptr_t valid, uintptr_t depths,
         int64_t num_frames, int32_t height, int32_t width, uintptr_t offsets, uintptr_t indices,
         int64_t num_proposals, uintptr_t pairs, int64_t num_pairs, float delta,
         uintptr_t bitmaps, int32_t num_blocks, uintptr_t out_counts, uintptr_t out_pixels,
         uintptr_t stream) {
        const PairArgs a = pair_args(points, cam, intr, valid, depths, num_frames, height, width,
                                     offsets, indices, num_proposals, pairs, num_pairs, delta,
                                     bitmaps, num_blocks);
        launch_counts(a, ptr<int32_t>(out_counts), ptr<int32_t>(out_pixels),
                      ptr<void>(stream));
      },
      py::arg("points"), py::arg("cam"), py::arg("intr"), py::arg("valid"), py::arg("depths"),
      py::arg("num_frames"), py::arg("height"), py::arg("width"), py::arg("offsets"),
      py::arg("indices"), py::arg("num_proposals"), py::arg("pairs"), py::arg("num_pairs"),
      py::arg("delta"), py::arg("bitmaps"), py::arg("num_blocks"), py::arg("out_counts"),
      py::arg("out_pixels"), py::arg("stream"),
      "Visible-point and distinct-pixel counts per (proposal, frame) pair (pairs=0: all, "
      "frame-major). See folk.ops.visibility.");
  m.def(
      "visibility_pixels",
      [](uintptr_t points, uintptr_t cam, uintptr_t intr, uintptr_t valid, uintptr_t depths,
         int64_t num_frames, int32_t height, int32_t width, uintptr_t offsets, uintptr_t indices,
         int64_t num_proposals, uintptr_t pairs, int64_t num_pairs, float delta,
         uintptr_t bitmaps, int32_t num_blocks, uintptr_t out_offsets, uintptr_t out_pixels,
         uintptr_t stream) {
        const PairArgs a = pair_args(points, cam, intr, valid, depths, num_frames, height, width,
                                     offsets, indices, num_proposals, pairs, num_pairs, delta,
                                     bitmaps, num_blocks);
        launch_pixels(a, ptr<const int64_t>(out_offsets), ptr<int32_t>(out_pixels),
                      ptr<void>(stream));
      },
      py::arg("points"), py::arg("cam"), py::arg("intr"), py::arg("valid"), py::arg("depths"),
      py::arg("num_frames"), py::arg("height"), py::arg("width"), py::arg("offsets"),
      py::arg("indices"), py::arg("num_proposals"), py::arg("pairs"), py::arg("num_pairs"),
      py::arg("delta"), py::arg("bitmaps"), py::arg("num_blocks"), py::arg("out_offsets"),
      py::arg("out_pixels"), py::arg("stream"),
      "Distinct visible pixels (unsorted within each pair) written at out_offsets.");
}

}  // namespace folk::cuda::visibility
