// CPU kernels for projection and visibility; see visibility.h and folk/ops/visibility.py.
#include "visibility/visibility.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#ifdef FOLK_HAVE_OPENMP
#include <omp.h>
#endif

// The projection must round exactly like the CUDA kernel and the NumPy reference: forbid the
// compiler from contracting a*b+c into a fused multiply-add in everything below (GCC's default
// for GNU dialects is to contract whenever the target has FMA, e.g. with -march=native).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "visibility/projection.h"

namespace folk::visibility {

namespace {

// A bitmap of H*W bits, cleared again after each use by walking the bits that were set.
class PixelSet {
 public:
  explicit PixelSet(int64_t num_pixels) : words_((num_pixels + 31) / 32, 0u) {}
  // True when pix was not in the set yet.
  bool insert(int32_t pix) {
    uint32_t& w = words_[pix >> 5];
    const uint32_t bit = 1u << (pix & 31);
    const bool fresh = (w & bit) == 0u;
    w |= bit;
    return fresh;
  }
  void erase_word(int32_t pix) { words_[pix >> 5] = 0u; }

 private:
  std::vector<uint32_t> words_;
};

// Pixel and camera depth of every point in one frame; the depth test comes after, so that this
// loop over coordinate arrays (structure of arrays) vectorises.
// Compiled twice (AVX2 and baseline x86-64) and picked at load time: the same IEEE float32
// operations either way (FMA stays off), so results do not depend on the machine.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void project_frame(const float* __restrict X, const float* __restrict Y,
                   const float* __restrict Z, int64_t num_points, const float* cam_in,
                   const float* intr_in, int32_t H, int32_t W, int32_t* __restrict pix,
                   float* __restrict zbuf) {
  float cam[12], intr[4];
  std::copy(cam_in, cam_in + 12, cam);
  std::copy(intr_in, intr_in + 4, intr);
  for (int64_t i = 0; i < num_points; ++i) {
    pix[i] = project_pixel(cam, intr, H, W, X[i], Y[i], Z[i], &zbuf[i]);
  }
}

// Depth test of every projected point: pix[i] becomes -1 unless the depth at pix[i] is valid
// and within delta of zbuf[i] -- depth_tested_pixel(), the test the CUDA kernel runs too. It is
// branch-free (a gather and selects), so this loop vectorises as well.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void depth_test_frame(const float* __restrict depth, const float* __restrict zbuf,
                      int64_t num_points, float delta, int32_t* __restrict pix) {
  for (int64_t i = 0; i < num_points; ++i) {
    pix[i] = depth_tested_pixel(depth, pix[i], zbuf[i], delta);
  }
}

inline const float* frame_depth(const FrameSet& fr, int64_t f) {
  return fr.depths + f * static_cast<int64_t>(fr.height) * fr.width;
}

}  // namespace

void counts_cpu(const float* points, int64_t num_points, const FrameSet& fr,
                const Membership& mb, float delta, int32_t* out_counts, int32_t* out_pixels) {
  const int64_t F = fr.num_frames;
  const int64_t Q = mb.num_proposals;
  const int64_t num_pixels = static_cast<int64_t>(fr.height) * fr.width;
  std::vector<float> coords(3 * static_cast<size_t>(num_points));
  float* X = coords.data();
  float* Y = X + num_points;
  float* Z = Y + num_points;
  for (int64_t i = 0; i < num_points; ++i) {
    X[i] = points[3 * i];
    Y[i] = points[3 * i + 1];
    Z[i] = points[3 * i + 2];
  }
#pragma omp parallel
  {
    std::vector<int32_t> pix(static_cast<size_t>(num_points));
    std::vector<float> zbuf(static_cast<size_t>(num_points));
    PixelSet seen(num_pixels);
#pragma omp for schedule(dynamic, 1)
    for (int64_t f = 0; f < F; ++f) {
      int32_t* counts_row = out_counts + f * Q;
      int32_t* pixels_row = out_pixels + f * Q;
      if (!fr.valid[f] || num_pixels == 0) {  // nothing is visible there
        std::fill(counts_row, counts_row + Q, 0);
        std::fill(pixels_row, pixels_row + Q, 0);
        continue;
      }
      const float* cam = fr.cam + f * 12;
      const float* intr = fr.intr + f * 4;
      const float* depth = frame_depth(fr, f);
      project_frame(X, Y, Z, num_points, cam, intr, fr.height, fr.width, pix.data(),
                    zbuf.data());
      depth_test_frame(depth, zbuf.data(), num_points, delta, pix.data());
      for (int64_t q = 0; q < Q; ++q) {
        const int32_t* begin = mb.indices + mb.offsets[q];
        const int32_t* end = mb.indices + mb.offsets[q + 1];
        int32_t count = 0, distinct = 0;
        for (const int32_t* it = begin; it != end; ++it) {
          const int32_t px = pix[*it];
          if (px < 0) continue;
          ++count;
          distinct += seen.insert(px) ? 1 : 0;
        }
        if (distinct > 0) {
          for (const int32_t* it = begin; it != end; ++it) {
            if (pix[*it] >= 0) seen.erase_word(pix[*it]);
          }
        }
        counts_row[q] = count;
        pixels_row[q] = distinct;
      }
    }
  }
}

PixelCsr pair_pixels_cpu(const float* points, int64_t /*num_points*/, const FrameSet& fr,
                         const Membership& mb, const int64_t* pairs, int64_t num_pairs,
                         float delta) {
  const int64_t num_pixels = static_cast<int64_t>(fr.height) * fr.width;
  std::vector<std::vector<int32_t>> lists(static_cast<size_t>(num_pairs));
#pragma omp parallel
  {
    PixelSet seen(num_pixels);
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < num_pairs; ++k) {
      const int64_t q = pairs[2 * k];
      const int64_t f = pairs[2 * k + 1];
      if (!fr.valid[f] || num_pixels == 0) continue;
      const float* cam = fr.cam + f * 12;
      const float* intr = fr.intr + f * 4;
      const float* depth = frame_depth(fr, f);
      std::vector<int32_t>& out = lists[k];
      for (int64_t j = mb.offsets[q]; j < mb.offsets[q + 1]; ++j) {
        const float* p = points + 3 * static_cast<int64_t>(mb.indices[j]);
        const int32_t px =
            visible_pixel(cam, intr, depth, fr.height, fr.width, delta, p[0], p[1], p[2]);
        if (px >= 0 && seen.insert(px)) out.push_back(px);
      }
      for (const int32_t px : out) seen.erase_word(px);
      std::sort(out.begin(), out.end());
    }
  }
  return concatenate(lists);
}

}  // namespace folk::visibility
