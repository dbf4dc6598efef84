#pragma once

namespace folk::cuda {
// Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int device_count();
// Raises std::runtime_error ("folk._cuda: <what> failed: ...") when the last launch failed.
void check_launch(const char* what);
}  // namespace folk::cuda
