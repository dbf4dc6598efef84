// See array_view.h.
#include "array_view.h"

#include <cuda_runtime.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace folk::cuda {

namespace {

std::string type_name_of(py::handle obj) {
  return py::str(py::type::handle_of(obj).attr("__qualname__")).cast<std::string>();
}

// Integers of a tuple from __cuda_array_interface__; false when it is not a tuple of ints.
bool int_tuple(py::handle obj, std::vector<int64_t>* out) {
  if (!py::isinstance<py::tuple>(obj)) return false;
  for (py::handle item : py::reinterpret_borrow<py::tuple>(obj)) {
    if (!py::isinstance<py::int_>(item)) return false;
    out->push_back(item.cast<int64_t>());
  }
  return true;
}

// typestr = byte order ('<' little, '|' not applicable, '=' native) + kind + item size.
bool typestr_matches(const std::string& typestr, const char* code) {
  if (typestr.size() != 3 || typestr.compare(1, 2, code) != 0) return false;
  return typestr[0] == '<' || typestr[0] == '|' || typestr[0] == '=';
}

}  // namespace

std::vector<py::handle> CudaArgs::items(py::handle obj, const char* name, size_t count,
                                        const char* layout) const {
  if (!py::isinstance<py::tuple>(obj) && !py::isinstance<py::list>(obj)) {
    throw py::type_error(arg_prefix(function_, name) + "must be a tuple " + layout + ", got " +
                         type_name_of(obj));
  }
  const py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  if (seq.size() != count) {
    throw py::value_error(arg_prefix(function_, name) + "must be a tuple " + layout + " of " +
                          std::to_string(count) + " items, got " + std::to_string(seq.size()));
  }
  std::vector<py::handle> out;
  for (size_t i = 0; i < count; ++i) out.push_back(seq[i]);
  return out;
}

void CudaArgs::fail(const char* name, const std::string& what) const {
  throw py::value_error(arg_prefix(function_, name) + what);
}

CudaArgs::Parsed CudaArgs::parse(py::handle obj, const char* name, ElementType type,
                                 std::initializer_list<int64_t> want, bool writable) {
  const std::string prefix = arg_prefix(function_, name);
  py::object iface;
  try {
    iface = py::getattr(obj, "__cuda_array_interface__", py::none());
  } catch (py::error_already_set& e) {  // e.g. a torch tensor that requires grad
    throw py::type_error(prefix + "has no usable __cuda_array_interface__: " + e.what());
  }
  if (iface.is_none()) {
    throw py::type_error(prefix + "must be a CUDA array (an object with "
                         "__cuda_array_interface__, e.g. a torch CUDA tensor), got " +
                         type_name_of(obj));
  }
  if (!py::isinstance<py::dict>(iface)) {
    throw py::type_error(prefix + "has a __cuda_array_interface__ that is not a dict");
  }
  const py::dict d = py::reinterpret_borrow<py::dict>(iface);
  auto field = [&](const char* key) -> py::object {
    if (!d.contains(key)) {
      throw py::value_error(prefix + "has no '" + key + "' in its __cuda_array_interface__");
    }
    return d[key];
  };

  const py::object typestr = field("typestr");
  const std::string ts = py::isinstance<py::str>(typestr) ? typestr.cast<std::string>() : "?";
  if (!typestr_matches(ts, type.code)) {
    throw py::type_error(prefix + "must be " + type.name + ", got " + ts);
  }

  Parsed p;
  if (!int_tuple(field("shape"), &p.shape)) {
    throw py::value_error(prefix + "has a __cuda_array_interface__ shape that is not a tuple "
                          "of ints");
  }
  check_shape(function_, name, p.shape, want);
  int64_t size = 1;
  for (const int64_t s : p.shape) size *= s;

  py::object strides = py::none();
  if (d.contains("strides")) strides = d["strides"];
  if (!strides.is_none() && size > 0) {
    std::vector<int64_t> got;
    if (!int_tuple(strides, &got) || got.size() != p.shape.size()) {
      fail(name, "has __cuda_array_interface__ strides that do not match its shape");
    }
    int64_t expected = std::atoi(type.code + 1);  // item size in bytes
    for (size_t i = p.shape.size(); i-- > 0;) {
      if (p.shape[i] > 1 && got[i] != expected) {
        fail(name, "must be C-contiguous, got strides " + shape_string(got) + " for shape " +
                       shape_string(p.shape));
      }
      expected *= p.shape[i];
    }
  }
  if (d.contains("mask") && !d["mask"].is_none()) {
    fail(name, "must not be a masked array");
  }

  const py::object data = field("data");
  if (!py::isinstance<py::tuple>(data) || py::len(data) != 2) {
    fail(name, "has __cuda_array_interface__ data that is not (pointer, read_only)");
  }
  const py::tuple pointer_readonly = py::reinterpret_borrow<py::tuple>(data);
  if (!py::isinstance<py::int_>(pointer_readonly[0])) {
    fail(name, "has a __cuda_array_interface__ data pointer that is not an int");
  }
  p.data = reinterpret_cast<void*>(pointer_readonly[0].cast<uintptr_t>());
  if (writable && PyObject_IsTrue(pointer_readonly[1].ptr()) == 1) fail(name, "must be writable");
  if (size > 0 && p.data == nullptr) fail(name, "has a null data pointer");
  if (size > 0) taken_.push_back(Taken{name, p.data});
  return p;
}

void CudaArgs::check_devices() const {
  int current = -1;
  cudaError_t err = cudaGetDevice(&current);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the error: it is reported as a Python exception
    throw py::value_error(std::string(function_) + ": no CUDA device to run on (" +
                          cudaGetErrorString(err) + ")");
  }
  for (const Taken& t : taken_) {
    cudaPointerAttributes attr{};
    err = cudaPointerGetAttributes(&attr, t.data);
    std::string where;
    if (err != cudaSuccess) {
      cudaGetLastError();
      where = cudaGetErrorString(err);
    } else if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged) {
      where = "host or unknown memory";
    } else if (attr.device != current) {
      where = "memory of cuda:" + std::to_string(attr.device);
    } else {
      continue;
    }
    fail(t.name, "is not memory of the current CUDA device cuda:" + std::to_string(current) +
                     " (" + where + ")");
  }
}

int64_t read_int64(const int64_t* device_array, int64_t index, void* stream,
                   const char* function) {
  int64_t value = 0;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  cudaError_t err = cudaMemcpyAsync(&value, device_array + index, sizeof(value),
                                    cudaMemcpyDeviceToHost, s);
  if (err == cudaSuccess) err = cudaStreamSynchronize(s);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string(function) + ": reading a device value failed: " +
                             cudaGetErrorString(err));
  }
  return value;
}

}  // namespace folk::cuda
