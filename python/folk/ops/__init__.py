"""Compiled kernels (folk._C on the CPU, folk._cuda on a GPU) and their Python wrappers."""

from folk.ops.extensions import cpu_extension, cuda_available, cuda_extension
from folk.ops.mask_completion import complete_masks
from folk.ops.views import select_views
from folk.ops.visibility import (
    PixelLists,
    ProposalMembership,
    VisibilityCounts,
    visibility_counts,
    visible_pixels,
)

__all__ = ["PixelLists", "ProposalMembership", "VisibilityCounts", "complete_masks",
           "cpu_extension", "cuda_available", "cuda_extension", "select_views",
           "visibility_counts", "visible_pixels"]
