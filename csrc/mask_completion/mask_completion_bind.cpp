// pybind11 binding of the CPU mask-completion kernel; inputs are checked and converted by
// folk/ops/mask_completion.py, shapes again here. The private folk._C._testing functions expose
// the per-pixel steps of completion.h (the code the CUDA kernel runs too) to the tests.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>

#include "mask_completion/mask_completion.h"
#include "numpy_args.h"

namespace py = pybind11;

namespace folk::mask_completion {

namespace {

// Checks the CSR masks and the image size; returns the number of masks.
int64_t check_masks(const char* fn, const carray<int64_t>& offsets, const carray<int32_t>& pixels,
                    int32_t height, int32_t width) {
  check_array(fn, "offsets", offsets, {kAnySize});
  check_array(fn, "pixels", pixels, {kAnySize});
  if (offsets.shape(0) < 1 || offsets.at(offsets.shape(0) - 1) != pixels.shape(0)) {
    throw py::value_error(arg_prefix(fn, "offsets") + "must have P + 1 entries ending at " +
                          "len(pixels)");
  }
  check_image_size(fn, "height, width", height, width);
  return offsets.shape(0) - 1;
}

py::tuple complete(const carray<int64_t>& offsets, const carray<int32_t>& pixels, int32_t height,
                   int32_t width, int32_t radius, const carray<int32_t>& kernel,
                   int64_t threshold, int32_t directions, int32_t iterations) {
  const int64_t num_masks = check_masks("complete_masks", offsets, pixels, height, width);
  check_array("complete_masks", "kernel", kernel, {kAnySize});
  const Params prm{radius,     static_cast<int32_t>(kernel.shape(0)), kernel.data(), threshold,
                   directions, iterations};
  const int64_t* off = offsets.data();
  const int32_t* pix = pixels.data();
  PixelCsr result;
  {
    py::gil_scoped_release release;
    result = complete_masks_cpu(off, pix, num_masks, height, width, prm);
  }
  return to_numpy(result);
}

// ---- folk._C._testing ---------------------------------------------------------------------

carray<int32_t> crops(const carray<int64_t>& offsets, const carray<int32_t>& pixels,
                      int32_t height, int32_t width, int32_t radius, int32_t iterations) {
  const int64_t num_masks = check_masks("mask_crops", offsets, pixels, height, width);
  carray<int32_t> out({num_masks, int64_t{4}});
  mask_crops_cpu(offsets.data(), pixels.data(), num_masks, height, width, radius, iterations,
                 out.mutable_data());
  return out;
}

carray<uint8_t> dilate(const carray<uint8_t>& image, int32_t radius) {
  check_array("dilate", "image", image, {kAnySize, kAnySize});
  const int32_t h = static_cast<int32_t>(image.shape(0)), w = static_cast<int32_t>(image.shape(1));
  carray<int32_t> rows({h, w});
  carray<uint8_t> out({h, w});
  const uint8_t* in = image.data();
  int32_t* t = rows.mutable_data();
  uint8_t* o = out.mutable_data();
  SerialExec{}.for_each_pixel(w, h, [&](int32_t x, int32_t, int64_t p) {
    t[p] = dilate_row_at(in + (p - x), w, x, radius);
  });
  SerialExec{}.for_each_pixel(w, h, [&](int32_t x, int32_t y, int64_t p) {
    o[p] = dilate_col_at(t, w, h, x, y, radius);
  });
  return out;
}

carray<int32_t> density(const carray<uint8_t>& mask, const carray<int32_t>& kernel) {
  check_array("density", "mask", mask, {kAnySize, kAnySize});
  check_array("density", "kernel", kernel, {kAnySize});
  const int32_t h = static_cast<int32_t>(mask.shape(0)), w = static_cast<int32_t>(mask.shape(1));
  const int32_t s = static_cast<int32_t>(kernel.shape(0));
  carray<int32_t> rows({h, w});
  carray<int32_t> out({h, w});
  const uint8_t* m = mask.data();
  const int32_t* g = kernel.data();
  int32_t* t = rows.mutable_data();
  int32_t* o = out.mutable_data();
  SerialExec{}.for_each_pixel(w, h, [&](int32_t x, int32_t, int64_t p) {
    t[p] = gaussian_row_at(m + (p - x), w, x, g, s);
  });
  SerialExec{}.for_each_pixel(w, h, [&](int32_t x, int32_t y, int64_t p) {
    o[p] = gaussian_col_at(t, w, h, x, y, g, s);
  });
  return out;
}

carray<uint8_t> grow(const carray<uint8_t>& mask, const carray<int32_t>& rho, int32_t radius,
                     int64_t threshold, int32_t directions) {
  check_array("grow", "mask", mask, {kAnySize, kAnySize});
  check_array("grow", "rho", rho, {mask.shape(0), mask.shape(1)});
  const int32_t h = static_cast<int32_t>(mask.shape(0)), w = static_cast<int32_t>(mask.shape(1));
  carray<uint8_t> out({h, w});
  const uint8_t* m = mask.data();
  const int32_t* r = rho.data();
  uint8_t* o = out.mutable_data();
  SerialExec{}.for_each_pixel(w, h, [&](int32_t, int32_t, int64_t p) { o[p] = m[p]; });
  SerialExec{}.for_each_pixel(w, h, [&](int32_t x, int32_t y, int64_t p) {
    if (is_seed(m[p], r[p], threshold)) grow_seed(r, o, w, h, x, y, radius, directions);
  });
  return out;
}

uint32_t directions(const std::array<int32_t, kNumDirections>& gains, int32_t m) {
  return select_directions(gains.data(), m);
}

}  // namespace

void register_mask_completion(py::module_& m, py::module_& testing) {
  m.def("complete_masks", &complete, py::arg("offsets"), py::arg("pixels"), py::arg("height"),
        py::arg("width"), py::arg("radius"), py::arg("kernel"), py::arg("threshold"),
        py::arg("directions"), py::arg("iterations"),
        "Density-guided completion of CSR pixel-list masks (see folk.ops.mask_completion).");
  testing.def("mask_crops", &crops, py::arg("offsets"), py::arg("pixels"), py::arg("height"),
              py::arg("width"), py::arg("radius"), py::arg("iterations"),
              "(P, 4) int32 crops x0, y0, width, height each mask is completed in.");
  testing.def("dilate", &dilate, py::arg("image"), py::arg("radius"),
              "Step 1 on a whole (H, W) uint8 image: the (2r+1)^2 square dilation.");
  testing.def("density", &density, py::arg("mask"), py::arg("kernel"),
              "Step 2 on a whole (H, W) uint8 mask: rho * 2^24 as int32.");
  testing.def("grow", &grow, py::arg("mask"), py::arg("rho"), py::arg("radius"),
              py::arg("threshold"), py::arg("directions"),
              "Steps 3-4 once on a whole image: the mask with every seed's fills.");
  testing.def("select_directions", &directions, py::arg("gains"), py::arg("m"),
              "Bit k set for each chosen growth direction k of 8 gains.");
}

}  // namespace folk::mask_completion
