// Thin pybind11 binding of the CPU segment mean. Arguments arrive checked and converted by
// folk/student/segment_mean.py (dtype, C order, shapes, index ranges); here they are unpacked.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "segment_mean/segment_mean.h"

namespace py = pybind11;

namespace folk::segment_mean {

namespace {

template <typename T>
using carray = py::array_t<T, py::array::c_style>;

carray<float> segment_mean(const carray<float>& features, const carray<int64_t>& offsets,
                           const carray<int32_t>& indices) {
  if (features.ndim() != 2 || offsets.ndim() != 1 || indices.ndim() != 1 || offsets.shape(0) < 1)
    throw py::value_error("segment_mean: expected features (N, C), offsets (Q+1), indices (K)");
  const int64_t n = features.shape(0);
  const int64_t c = features.shape(1);
  const int64_t q = offsets.shape(0) - 1;
  carray<float> out({q, c});
  const float* f = features.data();
  const int64_t* o = offsets.data();
  const int32_t* i = indices.data();
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    segment_mean_cpu(f, n, c, o, i, q, dst);
  }
  return out;
}

}  // namespace

void register_segment_mean(py::module_& m) {
  m.def("segment_mean", &segment_mean, py::arg("features"), py::arg("offsets"),
        py::arg("indices"),
        "(Q, C) float32 mean of the features of each CSR segment (see "
        "folk.student.segment_mean).");
}

}  // namespace folk::segment_mean
