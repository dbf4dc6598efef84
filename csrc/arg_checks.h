// Checks of kernel arguments at the Python boundary, shared by the C++ bindings (csrc/*_bind.cpp,
// NumPy arrays) and the CUDA bindings (cuda/array_view.*, __cuda_array_interface__). A failed
// check raises a Python exception whose message names the function and the argument, e.g.
//   visibility_counts: 'cam' must have shape (4, 12), got (3, 12)
// Only O(1) checks live here (dtype, shape, layout); index ranges are checked by the Python
// wrappers in folk/ops/.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace folk {

// A dimension of any size in an expected shape.
constexpr int64_t kAnySize = -1;

// "(3, 12)", "(5,)"; kAnySize prints as "*".
inline std::string shape_string(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ", ";
    s += dims[i] == kAnySize ? std::string("*") : std::to_string(dims[i]);
  }
  return s + (dims.size() == 1 ? ",)" : ")");
}

// "fn: 'arg' " -- the start of every message.
inline std::string arg_prefix(const char* function, const char* arg) {
  return std::string(function) + ": '" + arg + "' ";
}

// Raises ValueError unless `dims` has len(want) entries, each equal to want's (or want's is
// kAnySize).
inline void check_shape(const char* function, const char* arg, const std::vector<int64_t>& dims,
                        std::initializer_list<int64_t> want) {
  const std::vector<int64_t> expected(want);
  bool ok = dims.size() == expected.size();
  for (size_t i = 0; ok && i < dims.size(); ++i) {
    ok = expected[i] == kAnySize || expected[i] == dims[i];
  }
  if (!ok) {
    throw pybind11::value_error(arg_prefix(function, arg) + "must have shape " +
                                shape_string(expected) + ", got " + shape_string(dims));
  }
}

// Raises ValueError unless the flat pixel ids y * width + x of the image fit in int32.
inline void check_image_size(const char* function, const char* arg, int64_t height,
                             int64_t width) {
  if (height < 0 || width < 0 || height * width >= (int64_t{1} << 31)) {
    throw pybind11::value_error(arg_prefix(function, arg) + "images of " +
                                std::to_string(height) + "x" + std::to_string(width) +
                                " pixels are too large (H*W >= 2^31)");
  }
}

}  // namespace folk
