// Launcher of the CUDA mask-completion kernel (cuda/mask_completion/mask_completion.cu). All
// pointers are device pointers prepared and checked by folk/ops/mask_completion.py.
#pragma once

#include <cstdint>

namespace pybind11 {
class module_;
}

namespace folk::cuda::mask_completion {

struct MaskArgs {
  const int64_t* offsets;       // (P + 1) CSR of the sparse masks
  const int32_t* pixels;        // flat pixel ids y * W + x
  int64_t num_masks;
  int32_t width;
  const int32_t* crops;         // (P, 4) x0, y0, cw, ch of each mask's crop (cw*ch may be 0)
  const int64_t* crop_offsets;  // (P + 1) start of each crop in the buffers below
  uint8_t* out;                 // (total crop area) the completed crops, row-major
  uint8_t* scratch8;            // (total crop area)
  int32_t* scratch_a;           // (total crop area)
  int32_t* scratch_b;           // (total crop area)
  int32_t radius;
  int32_t kernel_size;
  const int32_t* kernel;        // (kernel_size) device copy of the 1-D weights
  int64_t threshold;
  int32_t directions;
  int32_t iterations;
};

void launch_complete(const MaskArgs& args, void* stream);

void register_mask_completion(pybind11::module_& m);

}  // namespace folk::cuda::mask_completion
