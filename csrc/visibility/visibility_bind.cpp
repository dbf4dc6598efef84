// pybind11 bindings of the CPU visibility kernels. Arguments arrive checked and converted by
// folk/ops/visibility.py (dtype, C order, shapes, index ranges); shapes are checked again here.
// folk._C._testing.visible_pixel_ids exposes projection.h's per-point test (the code the CUDA
// kernels run) to the tests.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "numpy_args.h"
#include "visibility/projection.h"
#include "visibility/visibility.h"

namespace py = pybind11;

namespace folk::visibility {

namespace {

// The inputs both kernels take, shapes checked.
struct Inputs {
  const float* points;
  int64_t num_points;
  FrameSet frames;
  Membership membership;
};

Inputs inputs(const char* fn, const carray<float>& points, const carray<float>& cam,
              const carray<float>& intr, const carray<uint8_t>& valid,
              const carray<float>& depths, const carray<int64_t>& offsets,
              const carray<int32_t>& indices) {
  check_array(fn, "points", points, {kAnySize, 3});
  check_array(fn, "depths", depths, {kAnySize, kAnySize, kAnySize});
  const int64_t f = depths.shape(0), h = depths.shape(1), w = depths.shape(2);
  check_image_size(fn, "depths", h, w);
  check_array(fn, "cam", cam, {f, 12});
  check_array(fn, "intr", intr, {f, 4});
  check_array(fn, "valid", valid, {f});
  check_array(fn, "offsets", offsets, {kAnySize});
  check_array(fn, "indices", indices, {kAnySize});
  if (offsets.shape(0) < 1 || offsets.at(offsets.shape(0) - 1) != indices.shape(0)) {
    throw py::value_error(arg_prefix(fn, "offsets") + "must have Q + 1 entries ending at " +
                          "len(indices)");
  }
  const FrameSet fr{cam.data(), intr.data(), valid.data(), depths.data(),
                    f,          static_cast<int32_t>(h), static_cast<int32_t>(w)};
  const Membership mb{offsets.data(), indices.data(), static_cast<int64_t>(offsets.shape(0) - 1)};
  return Inputs{points.data(), points.shape(0), fr, mb};
}

py::tuple counts(const carray<float>& points, const carray<float>& cam, const carray<float>& intr,
                 const carray<uint8_t>& valid, const carray<float>& depths,
                 const carray<int64_t>& offsets, const carray<int32_t>& indices, float delta) {
  const Inputs in =
      inputs("visibility_counts", points, cam, intr, valid, depths, offsets, indices);
  carray<int32_t> out_counts({in.frames.num_frames, in.membership.num_proposals});
  carray<int32_t> out_pixels({in.frames.num_frames, in.membership.num_proposals});
  int32_t* c = out_counts.mutable_data();
  int32_t* p = out_pixels.mutable_data();
  {
    py::gil_scoped_release release;
    counts_cpu(in.points, in.num_points, in.frames, in.membership, delta, c, p);
  }
  return py::make_tuple(out_counts, out_pixels);
}

py::tuple pair_pixels(const carray<float>& points, const carray<float>& cam,
                      const carray<float>& intr, const carray<uint8_t>& valid,
                      const carray<float>& depths, const carray<int64_t>& offsets,
                      const carray<int32_t>& indices, const carray<int64_t>& pairs, float delta) {
  const char* fn = "visibility_pair_pixels";
  const Inputs in = inputs(fn, points, cam, intr, valid, depths, offsets, indices);
  check_array(fn, "pairs", pairs, {kAnySize, 2});
  const int64_t* pr = pairs.data();
  const int64_t num_pairs = pairs.shape(0);
  PixelCsr result;
  {
    py::gil_scoped_release release;
    result = pair_pixels_cpu(in.points, in.num_points, in.frames, in.membership, pr, num_pairs,
                             delta);
  }
  return to_numpy(result);
}

// ---- folk._C._testing ---------------------------------------------------------------------

carray<int32_t> pixel_ids(const carray<float>& points, const carray<float>& cam,
                          const carray<float>& intr, const carray<float>& depth, float delta) {
  const char* fn = "visible_pixel_ids";
  check_array(fn, "points", points, {kAnySize, 3});
  check_array(fn, "cam", cam, {12});
  check_array(fn, "intr", intr, {4});
  check_array(fn, "depth", depth, {kAnySize, kAnySize});
  const int32_t h = static_cast<int32_t>(depth.shape(0)), w = static_cast<int32_t>(depth.shape(1));
  check_image_size(fn, "depth", h, w);
  const int64_t n = points.shape(0);
  carray<int32_t> out(n);
  const float* p = points.data();
  int32_t* o = out.mutable_data();
  for (int64_t i = 0; i < n; ++i) {
    o[i] = h * w == 0 ? -1
                      : visible_pixel(cam.data(), intr.data(), depth.data(), h, w, delta,
                                      p[3 * i], p[3 * i + 1], p[3 * i + 2]);
  }
  return out;
}

}  // namespace

void register_visibility(py::module_& m, py::module_& testing) {
  m.def("visibility_counts", &counts, py::arg("points"), py::arg("cam"), py::arg("intr"),
        py::arg("valid"), py::arg("depths"), py::arg("offsets"), py::arg("indices"),
        py::arg("delta"),
        "(F, Q) int32 visible-point counts and distinct-pixel counts (see folk.ops.visibility).");
  m.def("visibility_pair_pixels", &pair_pixels, py::arg("points"), py::arg("cam"),
        py::arg("intr"), py::arg("valid"), py::arg("depths"), py::arg("offsets"),
        py::arg("indices"), py::arg("pairs"), py::arg("delta"),
        "CSR (offsets, pixels) of the distinct visible pixels of (proposal, frame) pairs.");
  testing.def("visible_pixel_ids", &pixel_ids, py::arg("points"), py::arg("cam"),
              py::arg("intr"), py::arg("depth"), py::arg("delta"),
              "(N,) int32: each point's visible pixel in one frame, or -1 (projection.h).");
}

}  // namespace folk::visibility
