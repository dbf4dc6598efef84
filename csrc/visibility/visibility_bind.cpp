// Thin pybind11 bindings of the CPU visibility kernels. Arguments arrive checked and converted
// by folk/ops/visibility.py (dtype, C order, shapes, index ranges); here they are only unpacked.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "visibility/visibility.h"

namespace py = pybind11;

namespace folk::visibility {

namespace {

template <typename T>
using carray = py::array_t<T, py::array::c_style>;

FrameSet frame_set(const carray<float>& cam, const carray<float>& intr,
                   const carray<uint8_t>& valid, const carray<float>& depths) {
  return FrameSet{cam.data(), intr.data(), valid.data(), depths.data(),
                  static_cast<int64_t>(depths.shape(0)), static_cast<int32_t>(depths.shape(1)),
                  static_cast<int32_t>(depths.shape(2))};
}

Membership membership(const carray<int64_t>& offsets, const carray<int32_t>& indices) {
  return Membership{offsets.data(), indices.data(), static_cast<int64_t>(offsets.shape(0) - 1)};
}

py::tuple counts(const carray<float>& points, const carray<float>& cam, const carray<float>& intr,
                 const carray<uint8_t>& valid, const carray<float>& depths,
                 const carray<int64_t>& offsets, const carray<int32_t>& indices, float delta) {
  const FrameSet fr = frame_set(cam, intr, valid, depths);
  const Membership mb = membership(offsets, indices);
  carray<int32_t> out_counts({fr.num_frames, mb.num_proposals});
  carray<int32_t> out_pixels({fr.num_frames, mb.num_proposals});
  int32_t* c = out_counts.mutable_data();
  int32_t* p = out_pixels.mutable_data();
  const float* pts = points.data();
  const int64_t n = points.shape(0);
  {
    py::gil_scoped_release release;
    counts_cpu(pts, n, fr, mb, delta, c, p);
  }
  return py::make_tuple(out_counts, out_pixels);
}

py::tuple pair_pixels(const carray<float>& points, const carray<float>& cam,
                      const carray<float>& intr, const carray<uint8_t>& valid,
                      const carray<float>& depths, const carray<int64_t>& offsets,
                      const carray<int32_t>& indices, const carray<int64_t>& pairs, float delta) {
  const FrameSet fr = frame_set(cam, intr, valid, depths);
  const Membership mb = membership(offsets, indices);
  const float* pts = points.data();
  const int64_t n = points.shape(0);
  const int64_t* pr = pairs.data();
  const int64_t num_pairs = pairs.shape(0);
  std::pair<std::vector<int64_t>, std::vector<int32_t>> result;
  {
    py::gil_scoped_release release;
    result = pair_pixels_cpu(pts, n, fr, mb, pr, num_pairs, delta);
  }
  carray<int64_t> out_offsets(static_cast<py::ssize_t>(result.first.size()), result.first.data());
  carray<int32_t> out_pix(static_cast<py::ssize_t>(result.second.size()), result.second.data());
  return py::make_tuple(out_offsets, out_pix);
}

}  // namespace

void register_visibility(py::module_& m) {
  m.def("visibility_counts", &counts, py::arg("points"), py::arg("cam"), py::arg("intr"),
        py::arg("valid"), py::arg("depths"), py::arg("offsets"), py::arg("indices"),
        py::arg("delta"),
        "(F, Q) int32 visible-point counts and distinct-pixel counts (see folk.ops.visibility).");
  m.def("visibility_pair_pixels", &pair_pixels, py::arg("points"), py::arg("cam"),
        py::arg("intr"), py::arg("valid"), py::arg("depths"), py::arg("offsets"),
        py::arg("indices"), py::arg("pairs"), py::arg("delta"),
        "CSR (offsets, pixels) of the distinct visible pixels of (proposal, frame) pairs.");
}

}  // namespace folk::visibility
