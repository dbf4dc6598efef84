// CPU kernels for projection and visibility; see visibility.h and folk/ops/visibility.py.
#include "visibility/visibility.h"

#include <algorithm>
#include <cmath>
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
  explicit PixelSet(int64_t num_pixels)
      : spare_((num_pixels + 31) / 32), words_(static_cast<size_t>(spare_) + 1, 0u) {}
  // True when pix was not in the set yet.
  bool insert(int32_t pix) {
    uint32_t& w = words_[pix >> 5];
    const uint32_t bit = 1u << (pix & 31);
    const bool fresh = (w & bit) == 0u;
    w |= bit;
    return fresh;
  }
  void erase_word(int32_t pix) { words_[pix >> 5] = 0u; }
  // The words and, after them, a spare word that pixel id -1 (no pixel) maps to, for the
  // branch-free loops of count_pixels().
  uint32_t* words() { return words_.data(); }
  int32_t spare() const { return static_cast<int32_t>(spare_); }

 private:
  int64_t spare_;
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

// Visible points (pixel id >= 0) among members[0:n) and the distinct pixels they hit, with
// the set `words` (spare word last) left empty again. Without branches: visibility is a coin
// toss to the branch predictor, and its mispredictions cost more than the work. An id of -1
// touches only the spare word, with an empty bit.
inline void count_pixels(const int32_t* __restrict members, int64_t n,
                         const int32_t* __restrict pix, uint32_t* __restrict words,
                         int32_t spare, int32_t* count_out, int32_t* distinct_out) {
  int32_t count = 0, distinct = 0;
  for (int64_t k = 0; k < n; ++k) {
    const int32_t px = pix[members[k]];
    const int32_t some = -static_cast<int32_t>(px >= 0);  // all ones when visible
    const int32_t word = ((px >> 5) & some) | (spare & ~some);
    const uint32_t bit = (1u << (px & 31)) & static_cast<uint32_t>(some);
    const uint32_t w = words[word];
    words[word] = w | bit;
    count -= some;
    distinct += static_cast<int32_t>((~w & bit) != 0u);
  }
  if (distinct > 0) {
    for (int64_t k = 0; k < n; ++k) {
      const int32_t px = pix[members[k]];
      const int32_t some = -static_cast<int32_t>(px >= 0);
      words[((px >> 5) & some) | (spare & ~some)] = 0u;
    }
  }
  *count_out = count;
  *distinct_out = distinct;
}

inline const float* frame_depth(const FrameSet& fr, int64_t f) {
  return fr.depths + f * static_cast<int64_t>(fr.height) * fr.width;
}

// The kGridBits bits of x, y and z interleaved: the Morton code of a cell of a kGrid^3 grid.
constexpr int kGridBits = 5;
constexpr int kGrid = 1 << kGridBits;

inline uint32_t morton_cell(uint32_t x, uint32_t y, uint32_t z) {
  uint32_t code = 0;
  for (int b = 0; b < kGridBits; ++b) {
    code |= ((x >> b) & 1u) << (3 * b) | ((y >> b) & 1u) << (3 * b + 1) |
            ((z >> b) & 1u) << (3 * b + 2);
  }
  return code;
}

// The points in a spatially coherent order: binned into a kGrid^3 grid over their bounding
// box, cells in Morton order, points within a cell in input order (a counting sort, O(N)).
// Points close in space then project to pixels close in the image, so the depth test reads
// the depth map, and the counting reads the pixel ids, mostly from cache whatever order the
// caller's points are in (points in random order took 1.4x as long before). Returns, for each
// position, the point's original index.
std::vector<int32_t> spatial_order(const float* points, int64_t num_points) {
  float lo[3] = {0.f, 0.f, 0.f}, hi[3] = {0.f, 0.f, 0.f};
  if (num_points > 0) {
    for (int c = 0; c < 3; ++c) lo[c] = hi[c] = points[c];
  }
  for (int64_t i = 0; i < num_points; ++i) {
    for (int c = 0; c < 3; ++c) {
      lo[c] = std::min(lo[c], points[3 * i + c]);
      hi[c] = std::max(hi[c], points[3 * i + c]);
    }
  }
  float scale[3];  // cells per metre; 0 when the extent is 0 or too small or large to divide
  for (int c = 0; c < 3; ++c) {
    const double s = static_cast<double>(kGrid) / (static_cast<double>(hi[c]) - lo[c]);
    scale[c] = std::isfinite(s) && s <= 3.0e38 ? static_cast<float>(s) : 0.f;
  }
  std::vector<uint32_t> cell(static_cast<size_t>(num_points));
  std::vector<int64_t> start(static_cast<size_t>(kGrid) * kGrid * kGrid + 1, 0);
  for (int64_t i = 0; i < num_points; ++i) {
    uint32_t q[3];
    for (int c = 0; c < 3; ++c) {
      const float t = (points[3 * i + c] - lo[c]) * scale[c];  // NaN (inf * 0): cell 0
      q[c] = t > 0.f ? std::min(static_cast<uint32_t>(kGrid - 1),
                                static_cast<uint32_t>(std::min(t, static_cast<float>(kGrid))))
                     : 0u;
    }
    cell[i] = morton_cell(q[0], q[1], q[2]);
    ++start[cell[i] + 1];
  }
  for (size_t k = 1; k < start.size(); ++k) start[k] += start[k - 1];
  std::vector<int32_t> order(static_cast<size_t>(num_points));
  for (int64_t i = 0; i < num_points; ++i) order[start[cell[i]]++] = static_cast<int32_t>(i);
  return order;
}

}  // namespace

void counts_cpu(const float* points, int64_t num_points, const FrameSet& fr,
                const Membership& mb, float delta, int32_t* out_counts, int32_t* out_pixels) {
  const int64_t F = fr.num_frames;
  const int64_t Q = mb.num_proposals;
  const int64_t num_pixels = static_cast<int64_t>(fr.height) * fr.width;
  // Points in spatial order (structure of arrays), and the membership renumbered to match,
  // each proposal's positions ascending: counts and distinct pixels do not depend on the
  // order, the cache misses do.
  const std::vector<int32_t> order = spatial_order(points, num_points);
  std::vector<int32_t> position(static_cast<size_t>(num_points));
  std::vector<float> coords(3 * static_cast<size_t>(num_points));
  float* X = coords.data();
  float* Y = X + num_points;
  float* Z = Y + num_points;
  for (int64_t k = 0; k < num_points; ++k) {
    const int64_t i = order[k];
    position[i] = static_cast<int32_t>(k);
    X[k] = points[3 * i];
    Y[k] = points[3 * i + 1];
    Z[k] = points[3 * i + 2];
  }
  std::vector<int32_t> members(static_cast<size_t>(mb.offsets[Q]));
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t q = 0; q < Q; ++q) {
    int32_t* out = members.data() + mb.offsets[q];
    for (int64_t j = mb.offsets[q]; j < mb.offsets[q + 1]; ++j) {
      out[j - mb.offsets[q]] = position[mb.indices[j]];
    }
    std::sort(out, members.data() + mb.offsets[q + 1]);
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
        count_pixels(members.data() + mb.offsets[q], mb.offsets[q + 1] - mb.offsets[q],
                     pix.data(), seen.words(), seen.spare(), &counts_row[q], &pixels_row[q]);
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
