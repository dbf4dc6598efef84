// Launchers of the CUDA mask-completion kernels (cuda/mask_completion/mask_completion.cu). All
// pointers are device pointers checked by mask_completion_bind.cpp (dtypes, shapes, device) and
// prepared by folk/ops/mask_completion.py, which also checks the pixel ids and offsets; the
// kernels skip what is out of range rather than read or write out of bounds.
#pragma once

#include <cstdint>

#include "mask_completion/completion.h"

namespace pybind11 {
class module_;
}

namespace folk::cuda::mask_completion {

// CSR pixel lists of the masks: mask k holds pixels[offsets[k]:offsets[k+1]], flat ids y*W + x.
struct MaskList {
  const int64_t* offsets;  // (num_masks + 1)
  const int32_t* pixels;   // (num_pixels)
  int64_t num_masks;
  int64_t num_pixels;
};

// Every mask's crop (folk::mask_completion::mask_crop) -> crops (num_masks, 4) int32 rows
// x0, y0, width, height.
void launch_crops(const MaskList& masks, int32_t height, int32_t width, int32_t radius,
                  int32_t iterations, int32_t* crops, void* stream);

struct CompleteArgs {
  MaskList masks;
  int32_t width;                // W of the image
  const int32_t* crops;         // (num_masks, 4) from launch_crops (width * height may be 0)
  const int64_t* crop_offsets;  // (num_masks + 1) start of each crop in the buffers below
  int64_t buffer_size;          // entries of each buffer
  uint8_t* out;                 // the completed crops, row-major, 1 = in the mask
  uint8_t* grown;               // scratch
  int32_t* tmp;                 // scratch
  int32_t* rho;                 // scratch
  folk::mask_completion::Params params;  // params.kernel in device memory
};

void launch_complete(const CompleteArgs& args, void* stream);

void register_mask_completion(pybind11::module_& m);

}  // namespace folk::cuda::mask_completion
