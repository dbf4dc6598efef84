// pybind11 bindings of the CUDA visibility launchers. Arrays are objects exposing
// __cuda_array_interface__ (torch CUDA tensors), grouped as the kernels use them:
//   frames     = (cam (F, 12) float32, intr (F, 4) float32, valid (F,) uint8,
//                 depths (F, H, W) float32)
//   membership = (offsets (Q + 1,) int64, indices (nnz,) int32)
//   pairs      = (P, 2) int64 rows (proposal, frame), or None for every (frame, proposal)
//   bitmaps    = (blocks, ceil(H*W / 32)) int32 zeros: one pixel bitmap per thread block
// Every array is checked (array_view.h) before anything is launched; folk/ops/visibility.py
// prepares them and checks the index ranges.
#include <pybind11/pybind11.h>

#include <climits>
#include <cstdint>
#include <string>

#include "array_view.h"
#include "visibility/visibility_cuda.h"

namespace py = pybind11;

namespace folk::cuda::visibility {

namespace {

PairArgs pair_args(CudaArgs& args, py::handle points, py::handle frames, py::handle membership,
                   py::handle pairs, float delta, py::handle bitmaps) {
  const auto fr = args.items(frames, "frames", 4, "(cam, intr, valid, depths)");
  const auto depths = args.input<float>(fr[3], "depths", {kAnySize, kAnySize, kAnySize});
  const int64_t f = depths.dim(0), h = depths.dim(1), w = depths.dim(2);
  check_image_size(args.function(), "depths", h, w);
  const auto cam = args.input<float>(fr[0], "cam", {f, 12});
  const auto intr = args.input<float>(fr[1], "intr", {f, 4});
  const auto valid = args.input<uint8_t>(fr[2], "valid", {f});
  const auto pts = args.input<float>(points, "points", {kAnySize, 3});
  const auto mb = args.items(membership, "membership", 2, "(offsets, indices)");
  const auto offsets = args.input<int64_t>(mb[0], "offsets", {kAnySize});
  const auto indices = args.input<int32_t>(mb[1], "indices", {kAnySize});
  if (offsets.dim(0) < 1) args.fail("offsets", "must have Q + 1 >= 1 entries");
  const int64_t q = offsets.dim(0) - 1;
  const int64_t* pair_rows = nullptr;
  int64_t num_pairs = f * q;
  if (!pairs.is_none()) {
    const auto pr = args.input<int64_t>(pairs, "pairs", {kAnySize, 2});
    pair_rows = pr.data;
    num_pairs = pr.dim(0);
  }
  const int64_t words = (h * w + 31) / 32;
  const auto bits = args.output<int32_t>(bitmaps, "bitmaps", {kAnySize, words});
  if (num_pairs > 0 && bits.dim(0) < 1) args.fail("bitmaps", "must have at least one row");
  if (bits.dim(0) > INT32_MAX) args.fail("bitmaps", "has more rows than a grid has blocks");
  PairArgs a{};
  a.points = pts.data;
  a.num_points = pts.dim(0);
  a.cam = cam.data;
  a.intr = intr.data;
  a.valid = valid.data;
  a.depths = depths.data;
  a.num_frames = f;
  a.height = static_cast<int32_t>(h);
  a.width = static_cast<int32_t>(w);
  a.offsets = offsets.data;
  a.indices = indices.data;
  a.num_indices = indices.dim(0);
  a.num_proposals = q;
  a.pairs = pair_rows;
  a.num_pairs = num_pairs;
  a.delta = delta;
  a.bitmaps = reinterpret_cast<uint32_t*>(bits.data);
  a.num_blocks = static_cast<int32_t>(bits.dim(0));
  return a;
}

void counts(py::handle points, py::handle frames, py::handle membership, float delta,
            py::handle bitmaps, py::handle out_counts, py::handle out_pixels, uintptr_t stream,
            py::handle pairs) {
  CudaArgs args("visibility_counts");
  const PairArgs a = pair_args(args, points, frames, membership, pairs, delta, bitmaps);
  const int64_t f = a.num_frames, q = a.num_proposals;
  const bool all = a.pairs == nullptr;
  const auto c = all ? args.output<int32_t>(out_counts, "out_counts", {f, q})
                     : args.output<int32_t>(out_counts, "out_counts", {a.num_pairs});
  const auto p = all ? args.output<int32_t>(out_pixels, "out_pixels", {f, q})
                     : args.output<int32_t>(out_pixels, "out_pixels", {a.num_pairs});
  args.check_devices();
  launch_counts(a, c.data, p.data, reinterpret_cast<void*>(stream));
}

void pixels(py::handle points, py::handle frames, py::handle membership, py::handle pairs,
            float delta, py::handle bitmaps, py::handle out_offsets, py::handle out_pixels,
            uintptr_t stream) {
  CudaArgs args("visibility_pixels");
  if (pairs.is_none()) args.fail("pairs", "must be a (P, 2) int64 CUDA array, got None");
  const PairArgs a = pair_args(args, points, frames, membership, pairs, delta, bitmaps);
  const auto off = args.input<int64_t>(out_offsets, "out_offsets", {a.num_pairs + 1});
  const auto pix = args.output<int32_t>(out_pixels, "out_pixels", {kAnySize});
  args.check_devices();
  void* s = reinterpret_cast<void*>(stream);
  const int64_t total = read_int64(off.data, a.num_pairs, s, args.function());
  if (total != pix.dim(0)) {
    args.fail("out_pixels", "has " + std::to_string(pix.dim(0)) + " entries but out_offsets "
              "ends at " + std::to_string(total));
  }
  launch_pixels(a, off.data, pix.data, pix.dim(0), s);
}

}  // namespace

void register_visibility(py::module_& m) {
  m.def("visibility_counts", &counts, py::arg("points"), py::arg("frames"),
        py::arg("membership"), py::arg("delta"), py::arg("bitmaps"), py::arg("out_counts"),
        py::arg("out_pixels"), py::arg("stream"), py::arg("pairs") = py::none(),
        "Visible-point and distinct-pixel counts: (F, Q) outputs for every (frame, proposal) "
        "when pairs is None, else (P,) outputs for the pairs. See folk.ops.visibility.");
  m.def("visibility_pixels", &pixels, py::arg("points"), py::arg("frames"),
        py::arg("membership"), py::arg("pairs"), py::arg("delta"), py::arg("bitmaps"),
        py::arg("out_offsets"), py::arg("out_pixels"), py::arg("stream"),
        "Distinct visible pixels of each pair (unsorted within it), written at out_offsets.");
}

}  // namespace folk::cuda::visibility
