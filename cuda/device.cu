#include "device.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace folk::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error: no driver / no device is not fatal here
    return 0;
  }
  return n;
}

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("folk._cuda: ") + what + " failed: " +
                             cudaGetErrorString(err));
  }
}

}  // namespace folk::cuda
