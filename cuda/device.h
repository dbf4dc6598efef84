#pragma once
#include <string>

namespace folk::cuda {
// Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int device_count();
// CUDA runtime version folk._cuda was built against, e.g. "13.0".
std::string runtime_version();
}  // namespace folk::cuda
