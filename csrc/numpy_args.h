// NumPy arrays in and out of the C++ bindings (csrc/*_bind.cpp). Arrays arrive as C-contiguous
// arrays of the kernel's dtype (pybind11 converts or rejects them); shapes are checked with
// arg_checks.h so that a wrong call raises ValueError instead of reading out of bounds.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "arg_checks.h"
#include "pixel_csr.h"

namespace folk {

template <typename T>
using carray = pybind11::array_t<T, pybind11::array::c_style>;

template <typename T>
std::vector<int64_t> dims_of(const carray<T>& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// check_shape() of a NumPy argument.
template <typename T>
void check_array(const char* function, const char* arg, const carray<T>& a,
                 std::initializer_list<int64_t> want) {
  check_shape(function, arg, dims_of(a), want);
}

// (offsets int64, pixels int32) NumPy arrays of a CSR result.
inline pybind11::tuple to_numpy(const PixelCsr& csr) {
  carray<int64_t> offsets(static_cast<pybind11::ssize_t>(csr.offsets.size()), csr.offsets.data());
  carray<int32_t> pixels(static_cast<pybind11::ssize_t>(csr.pixels.size()), csr.pixels.data());
  return pybind11::make_tuple(offsets, pixels);
}

}  // namespace folk
