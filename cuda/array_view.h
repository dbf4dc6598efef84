// Typed, checked device-array arguments of the CUDA bindings, without libtorch: any object that
// exposes __cuda_array_interface__ (a torch CUDA tensor, a CuPy or Numba array) is accepted.
//
// A binding makes one CudaArgs for its call, takes each array through input() or output() --
// which check the dtype (typestr), the shape, C-contiguity and, for outputs, writability, and raise
// TypeError / ValueError naming the function and the argument, e.g.
//   visibility_counts: 'depths' must be float32, got <i4
// without touching CUDA -- and then calls check_devices(), which checks that every non-empty
// array is memory of the current CUDA device. Only then may it launch. Index ranges inside the
// arrays are the Python wrappers' to check (folk/ops/); the kernels skip what is out of range.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "arg_checks.h"

namespace folk::cuda {

// The typestr code (without the byte-order character) and the name of an element type.
struct ElementType {
  const char* code;
  const char* name;
};

template <typename T>
constexpr ElementType element_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, int32_t> ||
                    std::is_same_v<T, int64_t> || std::is_same_v<T, uint8_t>,
                "not an element type of the kernels");
  if constexpr (std::is_same_v<T, float>) return {"f4", "float32"};
  if constexpr (std::is_same_v<T, int32_t>) return {"i4", "int32"};
  if constexpr (std::is_same_v<T, int64_t>) return {"i8", "int64"};
  return {"u1", "uint8"};
}

// A checked array argument: its device pointer and shape.
template <typename T>
struct DeviceArray {
  T* data;
  std::vector<int64_t> shape;
  int64_t dim(size_t i) const { return shape[i]; }
};

class CudaArgs {
 public:
  explicit CudaArgs(const char* function) : function_(function) {}

  // An input array of element type T and shape `want` (kAnySize: any size).
  template <typename T>
  DeviceArray<const T> input(pybind11::handle obj, const char* name,
                             std::initializer_list<int64_t> want) {
    const Parsed p = parse(obj, name, element_type<T>(), want, false);
    return DeviceArray<const T>{static_cast<const T*>(p.data), p.shape};
  }

  // An output array: as input(), and it must be writable.
  template <typename T>
  DeviceArray<T> output(pybind11::handle obj, const char* name,
                        std::initializer_list<int64_t> want) {
    const Parsed p = parse(obj, name, element_type<T>(), want, true);
    return DeviceArray<T>{static_cast<T*>(p.data), p.shape};
  }

  // The `count` items of a tuple (or list) argument, e.g. frames = (cam, intr, valid, depths);
  // `layout` names them in the message when the count is wrong.
  std::vector<pybind11::handle> items(pybind11::handle obj, const char* name, size_t count,
                                      const char* layout) const;

  // ValueError unless every non-empty array taken so far is memory of the current CUDA device
  // (plain device memory or managed memory). The first call of the binding that touches CUDA.
  void check_devices() const;

  // ValueError "function: 'name' <what>".
  [[noreturn]] void fail(const char* name, const std::string& what) const;

  const char* function() const { return function_; }

 private:
  struct Parsed {
    void* data;
    std::vector<int64_t> shape;
  };
  struct Taken {
    const char* name;
    const void* data;
  };

  Parsed parse(pybind11::handle obj, const char* name, ElementType type,
               std::initializer_list<int64_t> want, bool writable);

  const char* function_;
  std::vector<Taken> taken_;
};

// The value at index `index` of a device int64 array, read on `stream` (which is then
// synchronised), for checks that need one number of an array the GPU computed.
int64_t read_int64(const int64_t* device_array, int64_t index, void* stream,
                   const char* function);

}  // namespace folk::cuda
