// CPU kernel of density-guided mask completion; see mask_completion.h and
// folk/ops/mask_completion.py for the semantics.
#include "mask_completion/mask_completion.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace folk::mask_completion {

namespace {

// Scratch buffers of one thread, grown as needed and reused across masks.
struct Workspace {
  std::vector<uint8_t> mask, grown, tmp8;
  std::vector<int32_t> tmp32, rho;
  void resize(size_t n) {
    for (auto* v : {&mask, &grown, &tmp8}) {
      if (v->size() < n) v->resize(n);
    }
    for (auto* v : {&tmp32, &rho}) {
      if (v->size() < n) v->resize(n);
    }
  }
};

// Completes one mask inside the crop [x0, x0+cw) x [y0, y0+ch); appends its pixels (ascending)
// to `out`.
void complete_one(const int32_t* pix, int64_t count, int32_t width, int32_t x0, int32_t y0,
                  int32_t cw, int32_t ch, const Params& prm, Workspace& ws,
                  std::vector<int32_t>& out) {
  const size_t n = static_cast<size_t>(cw) * ch;
  ws.resize(n);
  uint8_t* M = ws.mask.data();
  uint8_t* G = ws.grown.data();
  uint8_t* S = ws.tmp8.data();
  int32_t* T = ws.tmp32.data();
  int32_t* R = ws.rho.data();
  const int r = prm.radius;
  const int h = prm.kernel_size / 2;

  // 1. Coarse mask: the sparse pixels dilated by a (2r+1)^2 square (separable, zero outside).
  std::fill(S, S + n, uint8_t{0});
  for (int64_t i = 0; i < count; ++i) {
    const int32_t x = pix[i] % width - x0, y = pix[i] / width - y0;
    S[static_cast<size_t>(y) * cw + x] = 1;
  }
  for (int y = 0; y < ch; ++y) {
    const uint8_t* s = S + static_cast<size_t>(y) * cw;
    uint8_t* t = G + static_cast<size_t>(y) * cw;
    for (int x = 0; x < cw; ++x) {
      uint8_t any = 0;
      for (int j = std::max(0, x - r); j <= std::min(cw - 1, x + r); ++j) any |= s[j];
      t[x] = any;
    }
  }
  for (int y = 0; y < ch; ++y) {
    for (int x = 0; x < cw; ++x) {
      uint8_t any = 0;
      for (int i = std::max(0, y - r); i <= std::min(ch - 1, y + r); ++i) {
        any |= G[static_cast<size_t>(i) * cw + x];
      }
      M[static_cast<size_t>(y) * cw + x] = any;
    }
  }

  for (int it = 0; it < prm.iterations; ++it) {
    // 2. Density in fixed point: rho * 2^24 = sum_ij g_i g_j M(y+i, x+j), zero outside.
    for (int y = 0; y < ch; ++y) {
      const uint8_t* m = M + static_cast<size_t>(y) * cw;
      int32_t* t = T + static_cast<size_t>(y) * cw;
      for (int x = 0; x < cw; ++x) {
        int32_t acc = 0;
        for (int j = std::max(-h, -x); j <= std::min(h, cw - 1 - x); ++j) {
          acc += prm.kernel[j + h] * m[x + j];
        }
        t[x] = acc;
      }
    }
    for (int y = 0; y < ch; ++y) {
      for (int x = 0; x < cw; ++x) {
        int32_t acc = 0;
        for (int i = std::max(-h, -y); i <= std::min(h, ch - 1 - y); ++i) {
          acc += prm.kernel[i + h] * T[static_cast<size_t>(y + i) * cw + x];
        }
        R[static_cast<size_t>(y) * cw + x] = acc;
      }
    }
    // 3-4. Seeds grow towards their top-m denser directions; fills go to a copy.
    std::copy(M, M + n, G);
    for (int y = 0; y < ch; ++y) {
      for (int x = 0; x < cw; ++x) {
        const size_t p = static_cast<size_t>(y) * cw + x;
        if (!M[p] || static_cast<int64_t>(R[p]) <= prm.threshold) continue;
        int32_t gain[kNumDirections];
        for (int k = 0; k < kNumDirections; ++k) {
          const int qx = x + r * dir_dx(k), qy = y + r * dir_dy(k);
          const bool inside = qx >= 0 && qx < cw && qy >= 0 && qy < ch;
          gain[k] = (inside ? R[static_cast<size_t>(qy) * cw + qx] : 0) - R[p];
        }
        const uint32_t chosen = select_directions(gain, prm.directions);
        for (int k = 0; k < kNumDirections; ++k) {
          if (!((chosen >> k) & 1u)) continue;
          const int cx = x + r * dir_dx(k), cy = y + r * dir_dy(k);
          for (int yy = std::max(0, cy - r); yy <= std::min(ch - 1, cy + r); ++yy) {
            uint8_t* g = G + static_cast<size_t>(yy) * cw;
            for (int xx = std::max(0, cx - r); xx <= std::min(cw - 1, cx + r); ++xx) g[xx] = 1;
          }
        }
      }
    }
    std::swap(M, G);
  }

  for (int y = 0; y < ch; ++y) {
    for (int x = 0; x < cw; ++x) {
      if (M[static_cast<size_t>(y) * cw + x]) out.push_back((y0 + y) * width + (x0 + x));
    }
  }
}

}  // namespace

std::pair<std::vector<int64_t>, std::vector<int32_t>> complete_masks_cpu(
    const int64_t* offsets, const int32_t* pixels, int64_t num_masks, int32_t height,
    int32_t width, const Params& prm) {
  std::vector<std::vector<int32_t>> results(static_cast<size_t>(num_masks));
  const int32_t margin = crop_margin(prm.radius, prm.iterations);
#pragma omp parallel
  {
    Workspace ws;
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < num_masks; ++k) {
      const int32_t* pix = pixels + offsets[k];
      const int64_t count = offsets[k + 1] - offsets[k];
      if (count == 0) continue;
      int32_t xmin = std::numeric_limits<int32_t>::max(), ymin = xmin, xmax = -1, ymax = -1;
      for (int64_t i = 0; i < count; ++i) {
        const int32_t x = pix[i] % width, y = pix[i] / width;
        xmin = std::min(xmin, x);
        xmax = std::max(xmax, x);
        ymin = std::min(ymin, y);
        ymax = std::max(ymax, y);
      }
      const int32_t x0 = std::max(0, xmin - margin), x1 = std::min(width - 1, xmax + margin);
      const int32_t y0 = std::max(0, ymin - margin), y1 = std::min(height - 1, ymax + margin);
      complete_one(pix, count, width, x0, y0, x1 - x0 + 1, y1 - y0 + 1, prm, ws, results[k]);
    }
  }
  std::vector<int64_t> out_offsets(static_cast<size_t>(num_masks) + 1, 0);
  for (int64_t k = 0; k < num_masks; ++k) {
    out_offsets[k + 1] = out_offsets[k] + static_cast<int64_t>(results[k].size());
  }
  std::vector<int32_t> flat(static_cast<size_t>(out_offsets[num_masks]));
  for (int64_t k = 0; k < num_masks; ++k) {
    std::copy(results[k].begin(), results[k].end(), flat.begin() + out_offsets[k]);
  }
  return {std::move(out_offsets), std::move(flat)};
}

}  // namespace folk::mask_completion
