// CUDA kernel of density-guided mask completion (METHOD.md §3); CPU twin in
// csrc/mask_completion/. One thread block per mask works on the mask's crop (its bounding box
// padded by crop_margin(), clipped to the image), passes separated by __syncthreads. Integer
// arithmetic only: the result is bit-identical to the CPU kernel and the NumPy reference.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "mask_completion/completion_common.h"
#include "mask_completion/mask_completion_cuda.h"

namespace folk::cuda::mask_completion {

namespace {

constexpr int kThreads = 512;

using folk::mask_completion::dir_dx;
using folk::mask_completion::dir_dy;
using folk::mask_completion::kNumDirections;
using folk::mask_completion::select_directions;

__global__ void complete_kernel(MaskArgs a) {
  const int64_t k = blockIdx.x;
  const int32_t x0 = a.crops[4 * k], y0 = a.crops[4 * k + 1];
  const int32_t cw = a.crops[4 * k + 2], ch = a.crops[4 * k + 3];
  const int64_t n = static_cast<int64_t>(cw) * ch;
  if (n == 0) return;  // block-uniform
  const int64_t base = a.crop_offsets[k];
  uint8_t* M = a.out + base;
  uint8_t* G = a.scratch8 + base;
  int32_t* T = a.scratch_a + base;
  int32_t* R = a.scratch_b + base;
  const int r = a.radius, h = a.kernel_size / 2;

  // 1. Sparse pixels into G, dilated by a (2r+1)^2 square (separable, zero outside) into M.
  for (int64_t p = threadIdx.x; p < n; p += blockDim.x) G[p] = 0;
  __syncthreads();
  for (int64_t i = a.offsets[k] + threadIdx.x; i < a.offsets[k + 1]; i += blockDim.x) {
    const int32_t pix = a.pixels[i];
    const int32_t x = pix % a.width - x0, y = pix / a.width - y0;
    G[static_cast<int64_t>(y) * cw + x] = 1;
  }
  __syncthreads();
  for (int64_t p = threadIdx.x; p < n; p += blockDim.x) {
    const int x = static_cast<int>(p % cw);
    const uint8_t* row = G + (p - x);
    int32_t any = 0;
    for (int j = max(0, x - r); j <= min(cw - 1, x + r); ++j) any |= row[j];
    T[p] = any;
  }
  __syncthreads();
  for (int64_t p = threadIdx.x; p < n; p += blockDim.x) {
    const int x = static_cast<int>(p % cw), y = static_cast<int>(p / cw);
    int32_t any = 0;
    for (int i = max(0, y - r); i <= min(ch - 1, y + r); ++i) {
      any |= T[static_cast<int64_t>(i) * cw + x];
    }
    M[p] = static_cast<uint8_t>(any);
  }
  __syncthreads();

  for (int it = 0; it < a.iterations; ++it) {
    // 2. Density in fixed point: rho * 2^24 = sum_ij g_i g_j M(y+i, x+j), zero outside.
    for (int64_t p = threadIdx.x; p < n; p += blockDim.x) {
      const int x = static_cast<int>(p % cw);
      const uint8_t* row = M + (p - x);
      int32_t acc = 0;
      for (int j = max(-h, -x); j <= min(h, cw - 1 - x); ++j) acc += a.kernel[j + h] * row[x + j];
      T[p] = acc;
    }
    __syncthreads();
    for (int64_t p = threadIdx.x; p < n; p += blockDim.x) {
      const int x = static_cast<int>(p % cw), y = static_cast<int>(p / cw);
      int32_t acc = 0;
      for (int i = max(-h, -y); i <= min(h, ch - 1 - y); ++i) {
        acc += a.kernel[i + h] * T[static_cast<int64_t>(y + i) * cw + x];
      }
      R[p] = acc;
      G[p] = M[p];
    }
    __syncthreads();
    // 3-4. Seeds grow towards their top-m denser directions; fills go to the copy G.
    for (int64_t p = threadIdx.x; p < n; p += blockDim.x) {
      if (!M[p] || static_cast<int64_t>(R[p]) <= a.threshold) continue;
      const int x = static_cast<int>(p % cw), y = static_cast<int>(p / cw);
      int32_t gain[kNumDirections];
      for (int d = 0; d < kNumDirections; ++d) {
        const int qx = x + r * dir_dx(d), qy = y + r * dir_dy(d);
        const bool inside = qx >= 0 && qx < cw && qy >= 0 && qy < ch;
        gain[d] = (inside ? R[static_cast<int64_t>(qy) * cw + qx] : 0) - R[p];
      }
      const uint32_t chosen = select_directions(gain, a.directions);
      for (int d = 0; d < kNumDirections; ++d) {
        if (!((chosen >> d) & 1u)) continue;
        const int cx = x + r * dir_dx(d), cy = y + r * dir_dy(d);
        for (int yy = max(0, cy - r); yy <= min(ch - 1, cy + r); ++yy) {
          for (int xx = max(0, cx - r); xx <= min(cw - 1, cx + r); ++xx) {
            G[static_cast<int64_t>(yy) * cw + xx] = 1;
          }
        }
      }
    }
    __syncthreads();
    uint8_t* swap = M;
    M = G;
    G = swap;
  }
  // The result belongs in a.out; after an odd number of iterations it sits in the scratch.
  if (M != a.out + base) {
    for (int64_t p = threadIdx.x; p < n; p += blockDim.x) a.out[base + p] = M[p];
  }
}

}  // namespace

void launch_complete(const MaskArgs& args, void* stream) {
  if (args.num_masks == 0) return;
  complete_kernel<<<static_cast<unsigned int>(args.num_masks), kThreads, 0,
                    static_cast<cudaStream_t>(stream)>>>(args);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("folk._cuda: mask completion kernel failed: ") +
                             cudaGetErrorString(err));
  }
}

}  // namespace folk::cuda::mask_completion
