// CPU segment mean: OpenMP over proposals (segments), one double accumulator row per segment.
#include <algorithm>
#include <vector>

#include "segment_mean/segment_mean.h"

namespace folk::segment_mean {

void segment_mean_cpu(const float* features, int64_t /*num_points*/, int64_t dim,
                      const int64_t* offsets, const int32_t* indices, int64_t num_segments,
                      float* out) {
#ifdef FOLK_HAVE_OPENMP
#pragma omp parallel
#endif
  {
    std::vector<double> acc(static_cast<size_t>(dim));
#ifdef FOLK_HAVE_OPENMP
#pragma omp for schedule(dynamic, 4)
#endif
    for (int64_t q = 0; q < num_segments; ++q) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const int64_t begin = offsets[q];
      const int64_t end = offsets[q + 1];
      for (int64_t k = begin; k < end; ++k) {
        const float* row = features + static_cast<int64_t>(indices[k]) * dim;
        for (int64_t c = 0; c < dim; ++c) acc[c] += row[c];
      }
      const double inv = end > begin ? 1.0 / static_cast<double>(end - begin) : 0.0;
      float* dst = out + q * dim;
      for (int64_t c = 0; c < dim; ++c) dst[c] = static_cast<float>(acc[c] * inv);
    }
  }
}

}  // namespace folk::segment_mean
