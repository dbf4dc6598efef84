// Density-guided completion of one sparse 2-D mask (docs/method.md §3), written once for the C++
// kernel (csrc/mask_completion/mask_completion_cpu.cpp) and the CUDA kernel
// (cuda/mask_completion/mask_completion.cu): every per-pixel step is a FOLK_HD function below,
// and complete_crop() strings them together. The two kernels differ only in the executor that
// runs complete_crop's passes (a serial loop on the CPU, a thread block on the GPU) and in how
// crops and outputs are laid out. All arithmetic is integer, so both agree bit for bit with each
// other and with folk.ops.reference.complete_mask.
//
// A mask is computed on its crop: its bounding box padded by crop_margin(), clipped to the
// image. Inside the crop, images are row-major, w = crop width, h = crop height, pixel
// p = y * w + x, and everything outside the crop counts as 0 (the result can never reach the
// crop's border, unless the border is the image's).
#pragma once

#include <cstdint>

#include "host_device.h"

namespace folk::mask_completion {

FOLK_HD int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
FOLK_HD int32_t max_i32(int32_t a, int32_t b) { return a > b ? a : b; }

// ---- parameters ---------------------------------------------------------------------------

// Parameters in fixed point, prepared by folk/ops/mask_completion.py (KERNEL_SUM = 2^12).
struct Params {
  int32_t radius;         // r: dilation / fill squares are (2r+1)^2, steps are r * d
  int32_t kernel_size;    // s: odd Gaussian size
  const int32_t* kernel;  // s separable 1-D weights summing to 2^12 (device memory on the GPU),
                          // so the 2-D density rho * 2^24 is an exact int32
  int64_t threshold;      // seeds: rho * 2^24 > threshold = floor(tau * 2^24)
  int32_t directions;     // m
  int32_t iterations;     // T
};

// ---- crops --------------------------------------------------------------------------------

// Bounding box of a mask's pixels, inclusive; empty while xmax < 0.
struct Box {
  int32_t xmin, ymin, xmax, ymax;
};

FOLK_HD Box empty_box() { return Box{0x7fffffff, 0x7fffffff, -1, -1}; }

FOLK_HD void box_include(Box& box, int32_t pixel, int32_t image_width) {
  const int32_t x = pixel % image_width, y = pixel / image_width;
  box.xmin = min_i32(box.xmin, x);
  box.xmax = max_i32(box.xmax, x);
  box.ymin = min_i32(box.ymin, y);
  box.ymax = max_i32(box.ymax, y);
}

FOLK_HD Box bounding_box(const int32_t* pixels, int64_t count, int32_t image_width) {
  Box box = empty_box();
  for (int64_t i = 0; i < count; ++i) box_include(box, pixels[i], image_width);
  return box;
}

// The window a mask is completed in, in image pixels; width = height = 0 for an empty mask.
struct Crop {
  int32_t x0, y0, width, height;
};

// Margin around the bounding box that the result can never leave: dilation adds r, each
// iteration's fills reach at most r*d + r = 2r further. int64: r + 2rT may exceed int32.
FOLK_HD int64_t crop_margin(int32_t radius, int32_t iterations) {
  return static_cast<int64_t>(radius) * (1 + 2 * static_cast<int64_t>(iterations));
}

// The box padded by margin on every side, clipped to the image [0, width) x [0, height).
FOLK_HD Crop crop_of(const Box& box, int32_t image_height, int32_t image_width, int64_t margin) {
  if (box.xmax < 0) return Crop{0, 0, 0, 0};
  const int64_t x0 = box.xmin - margin < 0 ? 0 : box.xmin - margin;
  const int64_t y0 = box.ymin - margin < 0 ? 0 : box.ymin - margin;
  const int64_t x1 = box.xmax + margin > image_width - 1 ? image_width - 1 : box.xmax + margin;
  const int64_t y1 = box.ymax + margin > image_height - 1 ? image_height - 1 : box.ymax + margin;
  return Crop{static_cast<int32_t>(x0), static_cast<int32_t>(y0), static_cast<int32_t>(x1 - x0 + 1),
              static_cast<int32_t>(y1 - y0 + 1)};
}

// The crop of the mask made of pixels[0:count].
FOLK_HD Crop mask_crop(const int32_t* pixels, int64_t count, int32_t image_height,
                       int32_t image_width, int64_t margin) {
  return crop_of(bounding_box(pixels, count, image_width), image_height, image_width, margin);
}

// ---- step 1: coarse mask, the sparse pixels dilated by a (2r+1)^2 square (separable) -------

// Row pass at column x: OR of row[x-r .. x+r] inside [0, w).
template <typename T>
FOLK_HD uint8_t dilate_row_at(const T* row, int32_t w, int32_t x, int32_t r) {
  uint8_t any = 0;
  for (int32_t j = max_i32(0, x - r); j <= min_i32(w - 1, x + r); ++j) any |= row[j] != 0;
  return any;
}

// Column pass at (x, y): OR of image[y-r .. y+r][x] inside [0, h).
template <typename T>
FOLK_HD uint8_t dilate_col_at(const T* image, int32_t w, int32_t h, int32_t x, int32_t y,
                              int32_t r) {
  uint8_t any = 0;
  for (int32_t i = max_i32(0, y - r); i <= min_i32(h - 1, y + r); ++i) {
    any |= image[static_cast<int64_t>(i) * w + x] != 0;
  }
  return any;
}

// ---- step 2: density rho * 2^24 = sum_ij g_i g_j M(y+i, x+j), zero outside (separable) -----

// Row pass at column x: sum_j g[j] * row[x + j - s/2] inside [0, w).
FOLK_HD int32_t gaussian_row_at(const uint8_t* row, int32_t w, int32_t x, const int32_t* kernel,
                                int32_t size) {
  const int32_t half = size / 2;
  int32_t acc = 0;
  for (int32_t j = max_i32(-half, -x); j <= min_i32(half, w - 1 - x); ++j) {
    acc += kernel[j + half] * row[x + j];
  }
  return acc;
}

// Column pass at (x, y) over the row sums: sum_i g[i] * rows[y + i - s/2][x] inside [0, h).
FOLK_HD int32_t gaussian_col_at(const int32_t* rows, int32_t w, int32_t h, int32_t x, int32_t y,
                                const int32_t* kernel, int32_t size) {
  const int32_t half = size / 2;
  int32_t acc = 0;
  for (int32_t i = max_i32(-half, -y); i <= min_i32(half, h - 1 - y); ++i) {
    acc += kernel[i + half] * rows[static_cast<int64_t>(y + i) * w + x];
  }
  return acc;
}

// ---- steps 3-4: seeds grow towards their top-m denser directions ---------------------------

// Step 3: a seed is a pixel of the mask whose density exceeds the threshold.
FOLK_HD bool is_seed(uint8_t in_mask, int32_t rho, int64_t threshold) {
  return in_mask != 0 && static_cast<int64_t>(rho) > threshold;
}

// The 8 directions d = (dx, dy) in the order that breaks ties between equal density gains:
// E, SE, S, SW, W, NW, N, NE (image coordinates: x right, y down).
constexpr int kNumDirections = 8;
FOLK_HD int dir_dx(int k) {
  constexpr int dx[kNumDirections] = {1, 1, 0, -1, -1, -1, 0, 1};
  return dx[k];
}
FOLK_HD int dir_dy(int k) {
  constexpr int dy[kNumDirections] = {0, 1, 1, 1, 0, -1, -1, -1};
  return dy[k];
}

// Bit k set for each of the top-m directions with gain[k] > 0: larger gain first, equal gains
// in direction order. Fewer than m when fewer gains are positive.
FOLK_HD uint32_t select_directions(const int32_t gain[kNumDirections], int32_t m) {
  uint32_t chosen = 0u;
  for (int32_t pick = 0; pick < m; ++pick) {
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

// Gain of direction k at (x, y): rho(p + r*d_k) - rho(p), rho = 0 outside [0, w) x [0, h).
FOLK_HD int32_t direction_gain(const int32_t* rho, int32_t w, int32_t h, int32_t x, int32_t y,
                               int32_t r, int k) {
  const int32_t qx = x + r * dir_dx(k), qy = y + r * dir_dy(k);
  const bool inside = qx >= 0 && qx < w && qy >= 0 && qy < h;
  const int32_t there = inside ? rho[static_cast<int64_t>(qy) * w + qx] : 0;
  return there - rho[static_cast<int64_t>(y) * w + x];
}

// Sets the (2r+1)^2 square centred at (cx, cy), clipped to [0, w) x [0, h).
FOLK_HD void fill_square(uint8_t* image, int32_t w, int32_t h, int32_t cx, int32_t cy,
                         int32_t r) {
  for (int32_t yy = max_i32(0, cy - r); yy <= min_i32(h - 1, cy + r); ++yy) {
    uint8_t* row = image + static_cast<int64_t>(yy) * w;
    for (int32_t xx = max_i32(0, cx - r); xx <= min_i32(w - 1, cx + r); ++xx) row[xx] = 1;
  }
}

// Step 4 for the seed at (x, y): fills into `grown` the squares centred at p + r*d for each
// chosen direction d.
FOLK_HD void grow_seed(const int32_t* rho, uint8_t* grown, int32_t w, int32_t h, int32_t x,
                       int32_t y, int32_t r, int32_t m) {
  int32_t gain[kNumDirections];
  for (int k = 0; k < kNumDirections; ++k) gain[k] = direction_gain(rho, w, h, x, y, r, k);
  const uint32_t chosen = select_directions(gain, m);
  for (int k = 0; k < kNumDirections; ++k) {
    if ((chosen >> k) & 1u) fill_square(grown, w, h, x + r * dir_dx(k), y + r * dir_dy(k), r);
  }
}

// ---- the whole mask -----------------------------------------------------------------------

// Scratch of one crop, each buffer at least width * height entries. The completed crop ends up
// in `mask` (1 = in the mask).
struct CropBuffers {
  uint8_t* mask;
  uint8_t* grown;
  int32_t* tmp;
  int32_t* rho;
};

// Completes the mask made of pixels[0:count] (flat image ids, any order, duplicates allowed)
// inside `crop` (mask_crop() of the pixels; pixels outside it would be ignored). Exec runs the
// passes and separates them:
//   exec.for_each_pixel(w, h, f)  calls f(x, y, p) once for every pixel of a w x h image
//   exec.for_each(n, f)           calls f(i) for i in [0, n)
//   exec.sync()                   returns once every call of the passes before it has returned
// Within a pass, calls may run in any order or concurrently: each writes only its own pixel,
// except the growth pass, whose fills only ever set pixels of `grown` to 1.
template <class Exec>
FOLK_HD void complete_crop(const Exec& exec, const int32_t* pixels, int64_t count,
                           int32_t image_width, const Crop& crop, const Params& prm,
                           const CropBuffers& buf) {
  const int32_t w = crop.width, h = crop.height, r = prm.radius;
  uint8_t* M = buf.mask;
  uint8_t* G = buf.grown;
  int32_t* T = buf.tmp;
  int32_t* R = buf.rho;

  // 1. The sparse pixels into G, dilated into M.
  exec.for_each_pixel(w, h, [&](int32_t, int32_t, int64_t p) { G[p] = 0; });
  exec.sync();
  exec.for_each(count, [&](int64_t i) {
    const int32_t x = pixels[i] % image_width - crop.x0, y = pixels[i] / image_width - crop.y0;
    if (x >= 0 && x < w && y >= 0 && y < h) G[static_cast<int64_t>(y) * w + x] = 1;
  });
  exec.sync();
  exec.for_each_pixel(w, h, [&](int32_t x, int32_t, int64_t p) {
    T[p] = dilate_row_at(G + (p - x), w, x, r);
  });
  exec.sync();
  exec.for_each_pixel(w, h, [&](int32_t x, int32_t y, int64_t p) {
    M[p] = dilate_col_at(T, w, h, x, y, r);
  });
  exec.sync();

  for (int32_t it = 0; it < prm.iterations; ++it) {
    // 2. Density of M; G starts as a copy of M.
    exec.for_each_pixel(w, h, [&](int32_t x, int32_t, int64_t p) {
      T[p] = gaussian_row_at(M + (p - x), w, x, prm.kernel, prm.kernel_size);
    });
    exec.sync();
    exec.for_each_pixel(w, h, [&](int32_t x, int32_t y, int64_t p) {
      R[p] = gaussian_col_at(T, w, h, x, y, prm.kernel, prm.kernel_size);
      G[p] = M[p];
    });
    exec.sync();
    // 3-4. Seeds and densities come from M, fills go to G: the result is order-independent.
    exec.for_each_pixel(w, h, [&](int32_t x, int32_t y, int64_t p) {
      if (is_seed(M[p], R[p], prm.threshold)) grow_seed(R, G, w, h, x, y, r, prm.directions);
    });
    exec.sync();
    uint8_t* swap = M;
    M = G;
    G = swap;
  }
  // After an odd number of iterations the result sits in buf.grown.
  if (M != buf.mask) {
    exec.for_each_pixel(w, h, [&](int32_t, int32_t, int64_t p) { buf.mask[p] = M[p]; });
    exec.sync();
  }
}

}  // namespace folk::mask_completion
