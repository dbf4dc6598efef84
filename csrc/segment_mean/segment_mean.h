// Segment mean (docs/method.md §6): the mean of the point features inside each proposal, from the
// proposals' point lists, never from an N x Q dense matrix. The Python wrapper
// folk/ops/segment_mean.py defines the semantics and checks every input once:
//   features (N, C) float32, row-major
//   offsets  (Q + 1) int64, offsets[0] = 0, non-decreasing, offsets[Q] = len(indices),
//            and every segment non-empty (offsets[q + 1] > offsets[q])
//   indices  int32, each in [0, N): proposal q holds indices[offsets[q]:offsets[q+1]]
// Proposals may overlap and a point may appear in any number of them.
#pragma once

#include <cstdint>

namespace pybind11 {
class module_;
}

namespace folk::segment_mean {

// out (Q, C) float32: out[q] = mean of features[indices[offsets[q]:offsets[q+1]]]. The sums are
// accumulated in double in index order, so the result does not depend on the thread count.
void segment_mean_cpu(const float* features, int64_t num_points, int64_t dim,
                      const int64_t* offsets, const int32_t* indices, int64_t num_segments,
                      float* out);

void register_segment_mean(pybind11::module_& m);

}  // namespace folk::segment_mean
