// Projection and visibility of a scene's points in its depth frames (docs/method.md §1) on the
// CPU. Each point's projection and depth test is projection.h's, the code the CUDA kernels
// (cuda/visibility/) run too; only the loops and the counting of distinct pixels are the CPU's.
// The Python wrapper folk/ops/visibility.py defines the semantics, checks every input once and
// prepares the frames on the host:
//   cam    (F, 12) float32  world-to-camera [R | t], row-major, inverted from the poses in float64
//   intr   (F, 4)  float32  fx, fy, cx, cy of the depth images
//   valid  (F,)    uint8    0 for frames whose pose was not finite: nothing is visible there
//   depths (F, H, W) float32 metres, 0 = invalid
// Proposal membership is CSR: proposal q holds the point indices indices[offsets[q]:offsets[q+1]],
// strictly increasing. Pixel ids are flat row-major: v * W + u.
#pragma once

#include <cstdint>

#include "pixel_csr.h"

namespace pybind11 {
class module_;
}

namespace folk::visibility {

struct FrameSet {
  const float* cam;
  const float* intr;
  const uint8_t* valid;
  const float* depths;
  int64_t num_frames;
  int32_t height;
  int32_t width;
};

struct Membership {
  const int64_t* offsets;  // (Q + 1)
  const int32_t* indices;  // (offsets[Q])
  int64_t num_proposals;
};

// Per (frame, proposal): visible points and distinct pixels they hit, both (F, Q) row-major.
// Every output element is written.
void counts_cpu(const float* points, int64_t num_points, const FrameSet& frames,
                const Membership& members, float delta, int32_t* out_counts,
                int32_t* out_pixels);

// For each (proposal, frame) pair (pairs: P x 2 int64, row = proposal, frame), the distinct
// pixels hit by the proposal's visible points, ascending. Returns CSR (offsets P+1, pixels).
PixelCsr pair_pixels_cpu(const float* points, int64_t num_points, const FrameSet& frames,
                         const Membership& members, const int64_t* pairs, int64_t num_pairs,
                         float delta);

// folk._C.visibility_counts / visibility_pair_pixels, and folk._C._testing.visible_pixel_ids.
void register_visibility(pybind11::module_& m, pybind11::module_& testing);

}  // namespace folk::visibility
