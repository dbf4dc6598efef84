// Pieces of density-guided mask completion (METHOD.md §3) shared verbatim by the C++ kernel
// (csrc/mask_completion/mask_completion_cpu.cpp) and the CUDA kernel
// (cuda/mask_completion/mask_completion.cu). All arithmetic is integer, so both agree bit for bit.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FOLK_MC_HD __host__ __device__ __forceinline__
#else
#define FOLK_MC_HD inline
#endif

namespace folk::mask_completion {

// The 8 directions d = (dx, dy) in the order that breaks ties between equal density gains:
// E, SE, S, SW, W, NW, N, NE (image coordinates: x right, y down).
constexpr int kNumDirections = 8;
FOLK_MC_HD int dir_dx(int k) {
  constexpr int dx[kNumDirections] = {1, 1, 0, -1, -1, -1, 0, 1};
  return dx[k];
}
FOLK_MC_HD int dir_dy(int k) {
  constexpr int dy[kNumDirections] = {0, 1, 1, 1, 0, -1, -1, -1};
  return dy[k];
}

// Marks in `chosen` (bit k = direction k) the top-m directions with gain[k] > 0: larger gain
// first, equal gains in direction order. Fewer than m when fewer gains are positive.
FOLK_MC_HD uint32_t select_directions(const int32_t gain[kNumDirections], int m) {
  uint32_t chosen = 0u;
  for (int pick = 0; pick < m; ++pick) {
    int best = -1;
    for (int k = 0; k < kNumDirections; ++k) {
      if ((chosen >> k) & 1u) continue;
      if (gain[k] > 0 && (best < 0 || gain[k] > gain[best])) best = k;
    }
    if (best < 0) break;
    chosen |= 1u << best;
  }
  return chosen;
}

// Parameters in fixed point, prepared by folk/ops/mask_completion.py.
struct Params {
  int32_t radius;         // r: dilation / fill squares are (2r+1)^2, steps are r * d
  int32_t kernel_size;    // s: odd Gaussian size
  const int32_t* kernel;  // s separable 1-D weights summing to kKernelSum
  int64_t threshold;      // seeds: rho_fixed > threshold, threshold = floor(tau * kKernelSum^2)
  int32_t directions;     // m
  int32_t iterations;     // T
};

// The 1-D weights sum to 2^12, so the 2-D density rho * 2^24 is an exact int32.
constexpr int32_t kKernelSum = 4096;

// Margin around the bounding box of the sparse mask that the result can never leave:
// dilation adds r, each iteration's fills reach at most r*d + r = 2r further.
FOLK_MC_HD int32_t crop_margin(int32_t radius, int32_t iterations) {
  return radius + 2 * radius * iterations;
}

}  // namespace folk::mask_completion
