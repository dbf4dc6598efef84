"""The teacher's geometry kernels, the segment mean and the superpoints: compiled kernels
(folk._C on the CPU, folk._cuda on a GPU), one Python wrapper per op, NumPy references in
:mod:`folk.ops.reference`.

Compiled ops are laid out PyTorch3D-style: ``csrc/<op>/`` holds the C++ kernel and the
per-element code it shares with the CUDA kernel in ``cuda/<op>/`` (visibility, mask
completion; segment mean and the superpoints' segmentator, ``csrc/segmentator/``, are C++
only), and ``folk.ops.<op>`` checks the inputs and picks the device. View selection is
vectorised NumPy (:mod:`folk.ops.views`).
"""

from folk.ops.extensions import cpu_extension, cuda_available, cuda_extension
from folk.ops.mask_completion import complete_masks
from folk.ops.segment_mean import segment_mean, segment_mean_torch
from folk.ops.superpoints import mesh_superpoints, point_superpoints
from folk.ops.views import select_views
from folk.ops.visibility import (
    PixelLists,
    VisibilityCounts,
    visibility_counts,
    visible_pixels,
)

__all__ = ["PixelLists", "VisibilityCounts", "complete_masks",
           "cpu_extension", "cuda_available", "cuda_extension", "mesh_superpoints",
           "point_superpoints", "segment_mean", "segment_mean_torch", "select_views",
           "visibility_counts", "visible_pixels"]
