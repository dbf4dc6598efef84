// pybind11 bindings of the CUDA mask-completion launchers. Arrays are objects exposing
// __cuda_array_interface__ (torch CUDA tensors), grouped as the kernels use them:
//   masks   = (offsets (P + 1,) int64, pixels (K,) int32): CSR pixel lists, flat ids y*W + x
//   params  = (radius, kernel (s,) int32 CUDA array, threshold, directions, iterations)
//   scratch = (grown (n,) uint8, tmp (n,) int32, rho (n,) int32), n = total crop area
// Every array is checked (array_view.h) before anything is launched; folk/ops/mask_completion.py
// prepares them and checks the pixel ids and parameters.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "array_view.h"
#include "mask_completion/mask_completion_cuda.h"

namespace py = pybind11;

namespace folk::cuda::mask_completion {

namespace {

// The masks, with `num_masks` of them (kAnySize: as many as the offsets say).
MaskList mask_list(CudaArgs& args, py::handle masks, int64_t num_masks) {
  const auto m = args.items(masks, "masks", 2, "(offsets, pixels)");
  const auto offsets = args.input<int64_t>(
      m[0], "offsets", {num_masks == kAnySize ? kAnySize : num_masks + 1});
  const auto pixels = args.input<int32_t>(m[1], "pixels", {kAnySize});
  if (offsets.dim(0) < 1) args.fail("offsets", "must have P + 1 >= 1 entries");
  return MaskList{offsets.data, pixels.data, offsets.dim(0) - 1, pixels.dim(0)};
}

void crops(py::handle masks, int32_t height, int32_t width, int32_t radius, int32_t iterations,
           py::handle out_crops, uintptr_t stream) {
  CudaArgs args("mask_crops");
  const MaskList m = mask_list(args, masks, kAnySize);
  check_image_size(args.function(), "height, width", height, width);
  if (radius < 0 || iterations < 0) args.fail("radius", "and 'iterations' must be >= 0");
  const auto out = args.output<int32_t>(out_crops, "out_crops", {m.num_masks, 4});
  args.check_devices();
  launch_crops(m, height, width, radius, iterations, out.data, reinterpret_cast<void*>(stream));
}

folk::mask_completion::Params params_of(CudaArgs& args, py::handle params) {
  const auto p = args.items(params, "params",
                            5, "(radius, kernel, threshold, directions, iterations)");
  folk::mask_completion::Params prm{};
  prm.radius = p[0].cast<int32_t>();
  const auto kernel = args.input<int32_t>(p[1], "kernel", {kAnySize});
  prm.kernel_size = static_cast<int32_t>(kernel.dim(0));
  prm.kernel = kernel.data;
  prm.threshold = p[2].cast<int64_t>();
  prm.directions = p[3].cast<int32_t>();
  prm.iterations = p[4].cast<int32_t>();
  if (prm.radius < 0) args.fail("radius", "must be >= 0");
  if (prm.kernel_size % 2 != 1) args.fail("kernel", "must have an odd number of weights");
  if (prm.directions < 0 || prm.directions > 8) args.fail("directions", "must be in [0, 8]");
  if (prm.iterations < 0) args.fail("iterations", "must be >= 0");
  return prm;
}

void complete(py::handle masks, int32_t width, py::handle crops, py::handle crop_offsets,
              py::handle params, py::handle out, py::handle scratch, uintptr_t stream) {
  CudaArgs args("complete_masks");
  const auto c = args.input<int32_t>(crops, "crops", {kAnySize, 4});
  const int64_t p = c.dim(0);
  CompleteArgs a{};
  a.masks = mask_list(args, masks, p);
  a.width = width;
  if (width < 1) args.fail("width", "must be >= 1");
  a.crops = c.data;
  a.crop_offsets = args.input<int64_t>(crop_offsets, "crop_offsets", {p + 1}).data;
  a.params = params_of(args, params);
  const auto o = args.output<uint8_t>(out, "out", {kAnySize});
  const int64_t n = o.dim(0);
  const auto s = args.items(scratch, "scratch", 3, "(grown, tmp, rho)");
  a.buffer_size = n;
  a.out = o.data;
  a.grown = args.output<uint8_t>(s[0], "grown", {n}).data;
  a.tmp = args.output<int32_t>(s[1], "tmp", {n}).data;
  a.rho = args.output<int32_t>(s[2], "rho", {n}).data;
  args.check_devices();
  void* st = reinterpret_cast<void*>(stream);
  const int64_t total = read_int64(a.crop_offsets, p, st, args.function());
  if (total != n) {
    args.fail("out", "has " + std::to_string(n) + " entries but crop_offsets ends at " +
                         std::to_string(total));
  }
  launch_complete(a, st);
}

}  // namespace

void register_mask_completion(py::module_& m) {
  m.def("mask_crops", &crops, py::arg("masks"), py::arg("height"), py::arg("width"),
        py::arg("radius"), py::arg("iterations"), py::arg("out_crops"), py::arg("stream"),
        "Each mask's crop (x0, y0, width, height) into out_crops (P, 4) int32: its bounding "
        "box padded by r + 2rT, clipped to the image; zeros for an empty mask.");
  m.def("complete_masks", &complete, py::arg("masks"), py::arg("width"), py::arg("crops"),
        py::arg("crop_offsets"), py::arg("params"), py::arg("out"), py::arg("scratch"),
        py::arg("stream"),
        "Completes CSR pixel-list masks into dense uint8 crops, mask k at "
        "out[crop_offsets[k]:crop_offsets[k+1]] (see folk.ops.mask_completion).");
}

}  // namespace folk::cuda::mask_completion
