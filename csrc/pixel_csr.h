// Pixel lists of many masks as CSR, the output of the kernels that produce one list per mask:
// mask k holds pixels[offsets[k]:offsets[k+1]].
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace folk {

struct PixelCsr {
  std::vector<int64_t> offsets;  // (P + 1), offsets[0] = 0
  std::vector<int32_t> pixels;   // (offsets[P])
};

// The lists one after another.
inline PixelCsr concatenate(const std::vector<std::vector<int32_t>>& lists) {
  PixelCsr csr;
  csr.offsets.assign(lists.size() + 1, 0);
  for (size_t k = 0; k < lists.size(); ++k) {
    csr.offsets[k + 1] = csr.offsets[k] + static_cast<int64_t>(lists[k].size());
  }
  csr.pixels.resize(static_cast<size_t>(csr.offsets.back()));
  for (size_t k = 0; k < lists.size(); ++k) {
    std::copy(lists[k].begin(), lists[k].end(), csr.pixels.begin() + csr.offsets[k]);
  }
  return csr;
}

}  // namespace folk
