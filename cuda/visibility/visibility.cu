// CUDA kernels for projection and visibility (docs/method.md §1). Each point's projection and
// depth test is csrc/visibility/projection.h's visible_pixel(), the code the C++ kernel runs
// (and the CPU tests check bit for bit against the NumPy reference); only the parallel
// scaffolding below is CUDA's.
//
// One thread block per (proposal, frame) pair, looping over pairs with a grid stride. The block
// projects the proposal's points on the fly, counts the visible ones and counts distinct pixels
// with an H*W-bit bitmap of its own in global memory, which it clears again before its next pair.
// Memory: num_blocks * H*W/8 bytes of scratch, independent of the number of frames and proposals.
#include <cuda_runtime.h>

#include "device.h"
#include "visibility/projection.h"
#include "visibility/visibility_cuda.h"

namespace folk::cuda::visibility {

namespace {

constexpr int kThreads = 256;

using folk::visibility::visible_pixel;

// The proposal q and frame f of pair k; false when either is out of range (nothing visible).
__device__ __forceinline__ bool pair_at(const PairArgs& a, int64_t k, int64_t* q, int64_t* f) {
  if (a.pairs != nullptr) {
    *q = a.pairs[2 * k];
    *f = a.pairs[2 * k + 1];
  } else {
    *f = k / a.num_proposals;
    *q = k % a.num_proposals;
  }
  return *q >= 0 && *q < a.num_proposals && *f >= 0 && *f < a.num_frames;
}

// The visible pixel of point `point` in frame f, or -1 (also for an out-of-range point).
__device__ __forceinline__ int32_t pixel_of(const PairArgs& a, int64_t f, int32_t point) {
  if (point < 0 || point >= a.num_points) return -1;
  const float* p = a.points + 3 * static_cast<int64_t>(point);
  const float* depth = a.depths + f * static_cast<int64_t>(a.height) * a.width;
  return visible_pixel(a.cam + 12 * f, a.intr + 4 * f, depth, a.height, a.width, a.delta, p[0],
                       p[1], p[2]);
}

__device__ __forceinline__ int64_t clamp_index(int64_t i, int64_t size) {
  return i < 0 ? 0 : (i > size ? size : i);
}

// Sum over the block; the result is valid in every thread.
__device__ int32_t block_sum(int32_t value, int32_t* shared) {
  for (int o = 16; o > 0; o >>= 1) value += __shfl_down_sync(0xffffffffu, value, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) shared[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < (blockDim.x >> 5) ? shared[lane] : 0;
    for (int o = 16; o > 0; o >>= 1) value += __shfl_down_sync(0xffffffffu, value, o);
    if (lane == 0) shared[0] = value;
  }
  __syncthreads();
  const int32_t total = shared[0];
  __syncthreads();
  return total;
}

// kWrite = false: counts; kWrite = true: pixel lists.
template <bool kWrite>
__global__ void pairs_kernel(PairArgs a, int32_t* out_counts, int32_t* out_pixels,
                             const int64_t* out_offsets, int64_t out_size) {
  __shared__ int32_t reduce[kThreads / 32];
  __shared__ int32_t cursor;
  const int64_t num_pixels = static_cast<int64_t>(a.height) * a.width;
  const int64_t words = (num_pixels + 31) / 32;
  uint32_t* bitmap = a.bitmaps + static_cast<int64_t>(blockIdx.x) * words;
  for (int64_t k = blockIdx.x; k < a.num_pairs; k += gridDim.x) {
    int64_t q, f;
    const bool in_range = pair_at(a, k, &q, &f);
    if (!in_range || num_pixels == 0 || !a.valid[f]) {  // block-uniform branch
      if (!kWrite && threadIdx.x == 0) {
        out_counts[k] = 0;
        out_pixels[k] = 0;
      }
      continue;
    }
    const int64_t begin = clamp_index(a.offsets[q], a.num_indices);
    const int64_t end = clamp_index(a.offsets[q + 1], a.num_indices);
    if (kWrite && threadIdx.x == 0) cursor = 0;
    __syncthreads();
    int32_t visible = 0, fresh = 0;
    for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
      const int32_t pix = pixel_of(a, f, a.indices[j]);
      if (pix < 0) continue;
      ++visible;
      const uint32_t bit = 1u << (pix & 31);
      const uint32_t old = atomicOr(bitmap + (pix >> 5), bit);
      if (!(old & bit)) {
        ++fresh;
        if (kWrite) {
          const int64_t at = out_offsets[k] + atomicAdd(&cursor, 1);
          if (at >= 0 && at < out_size) out_pixels[at] = pix;
        }
      }
    }
    if (!kWrite) {
      visible = block_sum(visible, reduce);
      fresh = block_sum(fresh, reduce);
      if (threadIdx.x == 0) {
        out_counts[k] = visible;
        out_pixels[k] = fresh;
      }
    }
    __syncthreads();
    // Clear the bits this pair set: the whole bitmap when that is cheaper than re-projecting.
    if (end - begin > words) {
      for (int64_t w = threadIdx.x; w < words; w += blockDim.x) bitmap[w] = 0u;
    } else {
      for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
        const int32_t pix = pixel_of(a, f, a.indices[j]);
        if (pix >= 0) bitmap[pix >> 5] = 0u;
      }
    }
    __syncthreads();
  }
}

}  // namespace

void launch_counts(const PairArgs& args, int32_t* out_counts, int32_t* out_pixels,
                   void* stream) {
  if (args.num_pairs == 0 || args.num_blocks <= 0) return;
  pairs_kernel<false><<<args.num_blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      args, out_counts, out_pixels, nullptr, 0);
  check_launch("visibility counts kernel");
}

void launch_pixels(const PairArgs& args, const int64_t* out_offsets, int32_t* out_pixels,
                   int64_t out_size, void* stream) {
  if (args.num_pairs == 0 || args.num_blocks <= 0) return;
  pairs_kernel<true><<<args.num_blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      args, nullptr, out_pixels, out_offsets, out_size);
  check_launch("visibility pixels kernel");
}

}  // namespace folk::cuda::visibility
