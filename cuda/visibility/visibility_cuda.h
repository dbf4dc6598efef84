// Launchers of the CUDA visibility kernels (cuda/visibility/visibility.cu). All pointers are
// device pointers checked by visibility_bind.cpp (dtypes, shapes, device) and prepared by
// folk/ops/visibility.py exactly as for the CPU kernel (csrc/visibility/), which also checks the
// index ranges; the kernels skip out-of-range indices rather than read out of bounds.
#pragma once

#include <cstdint>

namespace pybind11 {
class module_;
}

namespace folk::cuda::visibility {

struct PairArgs {
  const float* points;      // (N, 3)
  int64_t num_points;       // N
  const float* cam;         // (F, 12) world-to-camera [R | t]
  const float* intr;        // (F, 4) fx, fy, cx, cy
  const uint8_t* valid;     // (F,)
  const float* depths;      // (F, H, W)
  int64_t num_frames;
  int32_t height;
  int32_t width;
  const int64_t* offsets;   // (Q + 1) CSR membership
  const int32_t* indices;   // (nnz)
  int64_t num_indices;      // nnz
  int64_t num_proposals;
  const int64_t* pairs;     // (P, 2) proposal, frame; nullptr = every (frame, proposal), f-major
  int64_t num_pairs;        // P, or F * Q when pairs is nullptr
  float delta;
  uint32_t* bitmaps;        // (num_blocks, ceil(H*W/32)) scratch, zero on entry, zero on exit
  int32_t num_blocks;
};

// Per pair: visible points -> out_counts[k], distinct pixels -> out_pixels[k].
void launch_counts(const PairArgs& args, int32_t* out_counts, int32_t* out_pixels,
                   void* stream);

// Per pair: its distinct pixels written (unsorted) to out_pixels[out_offsets[k]:...]; the
// offsets come from launch_counts' distinct-pixel counts. Writes beyond out_size are dropped.
void launch_pixels(const PairArgs& args, const int64_t* out_offsets, int32_t* out_pixels,
                   int64_t out_size, void* stream);

void register_visibility(pybind11::module_& m);

}  // namespace folk::cuda::visibility
