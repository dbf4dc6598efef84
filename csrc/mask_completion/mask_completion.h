// Density-guided completion of sparse 2-D masks (METHOD.md §3), CPU twin of
// cuda/mask_completion/mask_completion.cu. folk/ops/mask_completion.py defines the semantics
// and checks the inputs. Masks are CSR pixel lists over one H x W image: mask k holds the flat
// pixel ids (y * W + x) pixels[offsets[k]:offsets[k+1]] (any order, duplicates allowed).
// Each mask is completed on its bounding box padded by crop_margin(), clipped to the image.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "mask_completion/completion_common.h"

namespace pybind11 {
class module_;
}

namespace folk::mask_completion {

// Completed masks as CSR (offsets P+1, ascending pixel ids).
std::pair<std::vector<int64_t>, std::vector<int32_t>> complete_masks_cpu(
    const int64_t* offsets, const int32_t* pixels, int64_t num_masks, int32_t height,
    int32_t width, const Params& params);

void register_mask_completion(pybind11::module_& m);

}  // namespace folk::mask_completion
