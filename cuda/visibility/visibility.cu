// CUDA kernels for projection and visibility (METHOD.md §1); CPU twin in csrc/visibility/.
//
// One thread block per (proposal, frame) pair, looping over pairs with a grid stride. The block
// projects the proposal's points on the fly (csrc/visibility/projection.h, bit-identical to the
// CPU and the NumPy reference), counts the visible ones and counts distinct pixels with an
// H*W-bit bitmap of its own in global memory, which it clears again before its next pair.
// Memory: num_blocks * H*W/8 bytes of scratch, independent of the number of frames and proposals.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "visibility/projection.h"
#include "visibility/visibility_cuda.h"

namespace folk::cuda::visibility {

namespace {

constexpr int kThreads = 256;

using folk::visibility::visible_pixel;

__device__ __forceinline__ void pair_at(const PairArgs& a, int64_t k, int64_t* q, int64_t* f) {
  if (a.pairs != nullptr) {
    *q = a.pairs[2 * k];
    *f = a.pairs[2 * k + 1];
  } else {
    *f = k / a.num_proposals;
    *q = k % a.num_proposals;
  }
}

__device__ __forceinline__ int32_t pixel_of(const PairArgs& a, int64_t f, int32_t point) {
  const float* p = a.points + 3 * static_cast<int64_t>(point);
  const float* depth = a.depths + f * static_cast<int64_t>(a.height) * a.width;
  return visible_pixel(a.cam + 12 * f, a.intr + 4 * f, depth, a.height, a.width, a.delta, p[0],
                       p[1], p[2]);
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
                             const int64_t* out_offsets) {
  __shared__ int32_t reduce[kThreads / 32];
  __shared__ int32_t cursor;
  const int64_t words = (static_cast<int64_t>(a.height) * a.width + 31) / 32;
  uint32_t* bitmap = a.bitmaps + static_cast<int64_t>(blockIdx.x) * words;
  for (int64_t k = blockIdx.x; k < a.num_pairs; k += gridDim.x) {
    int64_t q, f;
    pair_at(a, k, &q, &f);
    const int64_t begin = a.offsets[q], end = a.offsets[q + 1];
    if (!a.valid[f]) {  // block-uniform branch
      if (!kWrite && threadIdx.x == 0) {
        out_counts[k] = 0;
        out_pixels[k] = 0;
      }
      continue;
    }
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
        if (kWrite) out_pixels[out_offsets[k] + atomicAdd(&cursor, 1)] = pix;
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

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("folk._cuda: ") + what + " failed: " +
                             cudaGetErrorString(err));
  }
}

}  // namespace

void launch_counts(const PairArgs& args, int32_t* out_counts, int32_t* out_pixels,
                   void* stream) {
  if (args.num_pairs == 0 || args.num_blocks <= 0) return;
  pairs_kernel<false><<<args.num_blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      args, out_counts, out_pixels, nullptr);
  check_launch("visibility counts kernel");
}

void launch_pixels(const PairArgs& args, const int64_t* out_offsets, int32_t* out_pixels,
                   void* stream) {
  if (args.num_pairs == 0 || args.num_blocks <= 0) return;
  pairs_kernel<true><<<args.num_blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      args, nullptr, out_pixels, out_offsets);
  check_launch("visibility pixels kernel");
}

}  // namespace folk::cuda::visibility
