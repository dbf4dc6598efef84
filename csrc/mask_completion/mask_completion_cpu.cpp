// CPU kernel of density-guided mask completion: OpenMP over masks, each completed by
// complete_crop() (completion.h) in scratch buffers of its thread.
#include "mask_completion/mask_completion.h"

#include <cstdint>
#include <vector>

namespace folk::mask_completion {

namespace {

// Scratch buffers of one thread, grown as needed and reused across masks.
class Workspace {
 public:
  CropBuffers buffers(int64_t n) {
    const size_t size = static_cast<size_t>(n);
    if (mask_.size() < size) {
      mask_.resize(size);
      grown_.resize(size);
      tmp_.resize(size);
      rho_.resize(size);
    }
    return CropBuffers{mask_.data(), grown_.data(), tmp_.data(), rho_.data()};
  }

 private:
  std::vector<uint8_t> mask_, grown_;
  std::vector<int32_t> tmp_, rho_;
};

}  // namespace

PixelCsr complete_masks_cpu(const int64_t* offsets, const int32_t* pixels, int64_t num_masks,
                            int32_t height, int32_t width, const Params& prm) {
  std::vector<std::vector<int32_t>> results(static_cast<size_t>(num_masks));
  const int64_t margin = crop_margin(prm.radius, prm.iterations);
#pragma omp parallel
  {
    Workspace ws;
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < num_masks; ++k) {
      const int32_t* pix = pixels + offsets[k];
      const int64_t count = offsets[k + 1] - offsets[k];
      const Crop crop = mask_crop(pix, count, height, width, margin);
      const int64_t area = static_cast<int64_t>(crop.width) * crop.height;
      if (area == 0) continue;
      const CropBuffers buf = ws.buffers(area);
      complete_crop(SerialExec{}, pix, count, width, crop, prm, buf);
      std::vector<int32_t>& out = results[k];
      SerialExec{}.for_each_pixel(crop.width, crop.height, [&](int32_t x, int32_t y, int64_t p) {
        if (buf.mask[p]) out.push_back((crop.y0 + y) * width + (crop.x0 + x));
      });
    }
  }
  return concatenate(results);
}

void mask_crops_cpu(const int64_t* offsets, const int32_t* pixels, int64_t num_masks,
                    int32_t height, int32_t width, int32_t radius, int32_t iterations,
                    int32_t* out) {
  const int64_t margin = crop_margin(radius, iterations);
  for (int64_t k = 0; k < num_masks; ++k) {
    const Crop c = mask_crop(pixels + offsets[k], offsets[k + 1] - offsets[k], height, width,
                             margin);
    out[4 * k] = c.x0;
    out[4 * k + 1] = c.y0;
    out[4 * k + 2] = c.width;
    out[4 * k + 3] = c.height;
  }
}

}  // namespace folk::mask_completion
