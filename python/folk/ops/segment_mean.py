"""Segment mean: the mean point feature of each proposal (docs/method.md §6, ``mean_{i∈q} X_i``).

Proposals arrive as CSR (:class:`~folk.data.membership.ProposalMembership`: per proposal its
point indices), so no N × Q dense float matrix is ever built. Two paths compute the same thing
(:func:`folk.ops.reference.segment_mean` is the dense definition both are tested against):

- :func:`segment_mean`: NumPy in, NumPy out, the C++/OpenMP kernel of ``folk._C``
  (``csrc/segment_mean/``; sums in double, independent of the thread count). For frozen
  features — inference, and pooling the frozen Mask3D features once before distillation.
- :func:`segment_mean_torch`: a differentiable PyTorch path (``index_select`` + ``index_add``),
  on any device, for training through a learnable feature source.

Overlapping proposals are fine; a proposal without points is an error (its mean is undefined),
and so is a point listed twice in one proposal (a proposal is a set).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from folk.data.membership import ProposalMembership
from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkInputError
from folk.ops.extensions import cpu_extension


def check_segments(segments: ProposalMembership, num_points: int) -> ProposalMembership:
    """``segments`` as NumPy CSR (offsets int64, indices int32, C-contiguous), checked by
    :meth:`~folk.data.membership.ProposalMembership.validate` with ``nonempty=True``: raises
    :class:`FolkInputError` naming what is wrong (bad offsets, out-of-range or repeated index,
    empty proposal, whose mean is undefined)."""
    offsets, indices = np.asarray(segments.offsets), np.asarray(segments.indices)
    for name, a in (("offsets", offsets), ("indices", indices)):
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise FolkInputError(f"segments.{name} must be a 1-D integer array, got "
                                 f"{a.dtype} {a.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= num_points):
        raise FolkInputError(f"segments.indices must lie in [0, {num_points})")
    checked = ProposalMembership(np.ascontiguousarray(offsets, dtype=np.int64),
                                 np.ascontiguousarray(indices, dtype=np.int32),
                                 int(segments.num_points))
    return checked.validate(num_points, "segments", nonempty=True)


def _checked(features: Any, segments: ProposalMembership) -> ProposalMembership:
    """Checks ``features (N, C)`` against ``segments``; returns :func:`check_segments`'s."""
    if features.ndim != 2:
        raise FolkInputError(f"features must be (N, C), got shape {tuple(features.shape)}")
    if segments.num_points != features.shape[0]:
        raise FolkInputError(f"features cover {features.shape[0]} points but the proposals "
                             f"cover {segments.num_points}")
    return check_segments(segments, features.shape[0])


def segment_mean(features: np.ndarray, segments: ProposalMembership) -> np.ndarray:
    """``(Q, C) float32`` mean of ``features`` ``(N, C)`` over each segment (C++ kernel)."""
    features = np.asarray(features)
    segments = _checked(features, segments)
    features = np.ascontiguousarray(features, dtype=np.float32)
    return cpu_extension().segment_mean(features, segments.offsets, segments.indices)


def segment_mean_torch(features, segments: ProposalMembership):
    """Differentiable ``(Q, C)`` segment mean of a ``(N, C)`` tensor, on its device."""
    import torch

    segments = _checked(features, segments)
    device = features.device
    sizes = torch.from_numpy(np.diff(segments.offsets)).to(device)
    idx = torch.from_numpy(segments.indices.astype(np.int64)).to(device)
    seg = torch.repeat_interleave(torch.arange(sizes.shape[0], device=device), sizes)
    sums = features.new_zeros((sizes.shape[0], features.shape[1]))
    sums = sums.index_add(0, seg, features.index_select(0, idx))
    return sums / sizes.to(features.dtype)[:, None]


def pool_proposals(features: PointFeatures | np.ndarray, proposals: Proposals) -> np.ndarray:
    """``(Q, C) float32``: the mean feature of every proposal (the student's input)."""
    x = features.features if isinstance(features, PointFeatures) else np.asarray(features)
    if x.ndim != 2 or x.shape[0] != proposals.num_points:
        raise FolkInputError(f"point features {x.shape} do not match the proposals over "
                             f"{proposals.num_points} points")
    if proposals.num_proposals == 0:
        return np.zeros((0, x.shape[1]), dtype=np.float32)
    return segment_mean(x, ProposalMembership.from_masks(proposals.masks))


__all__ = ["check_segments", "pool_proposals", "segment_mean", "segment_mean_torch"]
