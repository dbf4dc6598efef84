// pybind11 binding of the CPU segment mean. Arguments arrive checked and converted by
// folk/ops/segment_mean.py (dtype, C order, shapes, index ranges); shapes are checked again here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "numpy_args.h"
#include "segment_mean/segment_mean.h"

namespace py = pybind11;

namespace folk::segment_mean {

namespace {

carray<float> segment_mean(const carray<float>& features, const carray<int64_t>& offsets,
                           const carray<int32_t>& indices) {
  const char* fn = "segment_mean";
  check_array(fn, "features", features, {kAnySize, kAnySize});
  check_array(fn, "offsets", offsets, {kAnySize});
  check_array(fn, "indices", indices, {kAnySize});
  if (offsets.shape(0) < 1 || offsets.at(offsets.shape(0) - 1) != indices.shape(0)) {
    throw py::value_error(arg_prefix(fn, "offsets") + "must have Q + 1 entries ending at " +
                          "len(indices)");
  }
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
        "(Q, C) float32 mean of the features of each CSR segment (see folk.ops.segment_mean).");
}

}  // namespace folk::segment_mean
