// Density-guided completion of sparse 2-D masks (docs/method.md §3) on the CPU: one mask at a
// time per OpenMP thread, each through complete_crop() of completion.h -- the code the CUDA
// kernel (cuda/mask_completion/) runs too. folk/ops/mask_completion.py defines the semantics and
// checks the inputs. Masks are CSR pixel lists over one H x W image: mask k holds the flat pixel
// ids (y * W + x) pixels[offsets[k]:offsets[k+1]] (any order, duplicates allowed).
#pragma once

#include <cstdint>

#include "mask_completion/completion.h"
#include "pixel_csr.h"

namespace pybind11 {
class module_;
}

namespace folk::mask_completion {

// complete_crop()'s executor on the CPU: plain loops, rows then columns; sync() is a no-op.
struct SerialExec {
  template <class F>
  void for_each_pixel(int32_t w, int32_t h, F&& f) const {
    for (int32_t y = 0; y < h; ++y) {
      for (int32_t x = 0; x < w; ++x) f(x, y, static_cast<int64_t>(y) * w + x);
    }
  }
  template <class F>
  void for_each(int64_t n, F&& f) const {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
  void sync() const {}
};

// Completed masks as CSR (ascending pixel ids per mask).
PixelCsr complete_masks_cpu(const int64_t* offsets, const int32_t* pixels, int64_t num_masks,
                            int32_t height, int32_t width, const Params& params);

// The crop of every mask, (num_masks, 4) int32 rows x0, y0, width, height -- what both kernels
// complete each mask in (zero size for an empty mask).
void mask_crops_cpu(const int64_t* offsets, const int32_t* pixels, int64_t num_masks,
                    int32_t height, int32_t width, int32_t radius, int32_t iterations,
                    int32_t* out);

// folk._C.complete_masks, and the per-pixel steps in folk._C._testing.
void register_mask_completion(pybind11::module_& m, pybind11::module_& testing);

}  // namespace folk::mask_completion
