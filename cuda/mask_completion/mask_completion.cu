// CUDA kernels of density-guided mask completion (docs/method.md §3). The algorithm is
// csrc/mask_completion/completion.h's -- mask_crop() for the crops and complete_crop() for the
// completion, the code the C++ kernel runs (and the CPU tests check bit for bit against the NumPy
// reference). Only the parallel scaffolding is CUDA's: one thread block per mask, whose threads
// share each pass of complete_crop() (BlockExec) over the mask's crop.
#include <cuda_runtime.h>

#include "device.h"
#include "mask_completion/mask_completion_cuda.h"

namespace folk::cuda::mask_completion {

namespace {

using namespace folk::mask_completion;  // NOLINT: the shared steps

constexpr int kThreads = 512;
constexpr int64_t kMaxGrid = 65535;

// complete_crop()'s executor on the GPU: a pass is a block-stride loop, sync() a barrier.
struct BlockExec {
  template <class F>
  __device__ void for_each_pixel(int32_t w, int32_t h, F f) const {
    const int64_t n = static_cast<int64_t>(w) * h;
    for (int64_t p = threadIdx.x; p < n; p += blockDim.x) {
      f(static_cast<int32_t>(p % w), static_cast<int32_t>(p / w), p);
    }
  }
  template <class F>
  __device__ void for_each(int64_t n, F f) const {
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) f(i);
  }
  __device__ void sync() const { __syncthreads(); }
};

// Pixel range of mask k, clipped to the pixel list.
__device__ __forceinline__ void mask_range(const MaskList& m, int64_t k, int64_t* begin,
                                           int64_t* end) {
  const int64_t b = m.offsets[k], e = m.offsets[k + 1];
  *begin = b < 0 ? 0 : (b > m.num_pixels ? m.num_pixels : b);
  *end = e < *begin ? *begin : (e > m.num_pixels ? m.num_pixels : e);
}

// One block per mask (grid stride): the threads' partial bounding boxes meet in shared memory.
__global__ void crops_kernel(MaskList m, int32_t height, int32_t width, int64_t margin,
                             int32_t* crops) {
  __shared__ int32_t box[4];
  for (int64_t k = blockIdx.x; k < m.num_masks; k += gridDim.x) {
    if (threadIdx.x == 0) {
      const Box e = empty_box();
      box[0] = e.xmin;
      box[1] = e.ymin;
      box[2] = e.xmax;
      box[3] = e.ymax;
    }
    __syncthreads();
    int64_t begin, end;
    mask_range(m, k, &begin, &end);
    Box mine = empty_box();
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      box_include(mine, m.pixels[i], width);
    }
    if (mine.xmax >= 0) {
      atomicMin(&box[0], mine.xmin);
      atomicMin(&box[1], mine.ymin);
      atomicMax(&box[2], mine.xmax);
      atomicMax(&box[3], mine.ymax);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      const Crop c = crop_of(Box{box[0], box[1], box[2], box[3]}, height, width, margin);
      crops[4 * k] = c.x0;
      crops[4 * k + 1] = c.y0;
      crops[4 * k + 2] = c.width;
      crops[4 * k + 3] = c.height;
    }
    __syncthreads();
  }
}

// One block per mask: complete_crop() on the mask's slice of the buffers.
__global__ void complete_kernel(CompleteArgs a) {
  const int64_t k = blockIdx.x;
  const Crop crop{a.crops[4 * k], a.crops[4 * k + 1], a.crops[4 * k + 2], a.crops[4 * k + 3]};
  const int64_t base = a.crop_offsets[k];
  const int64_t n = static_cast<int64_t>(crop.width) * crop.height;
  // Block-uniform: empty crops, and crops that do not fit the buffers, are skipped.
  if (crop.width <= 0 || crop.height <= 0 || base < 0 || base + n > a.buffer_size) return;
  int64_t begin, end;
  mask_range(a.masks, k, &begin, &end);
  const CropBuffers buf{a.out + base, a.grown + base, a.tmp + base, a.rho + base};
  complete_crop(BlockExec{}, a.masks.pixels + begin, end - begin, a.width, crop, a.params, buf);
}

}  // namespace

void launch_crops(const MaskList& masks, int32_t height, int32_t width, int32_t radius,
                  int32_t iterations, int32_t* crops, void* stream) {
  if (masks.num_masks == 0) return;
  const int64_t blocks = masks.num_masks < kMaxGrid ? masks.num_masks : kMaxGrid;
  crops_kernel<<<static_cast<unsigned int>(blocks), 256, 0, static_cast<cudaStream_t>(stream)>>>(
      masks, height, width, crop_margin(radius, iterations), crops);
  check_launch("mask crops kernel");
}

void launch_complete(const CompleteArgs& args, void* stream) {
  if (args.masks.num_masks == 0) return;
  complete_kernel<<<static_cast<unsigned int>(args.masks.num_masks), kThreads, 0,
                    static_cast<cudaStream_t>(stream)>>>(args);
  check_launch("mask completion kernel");
}

}  // namespace folk::cuda::mask_completion
