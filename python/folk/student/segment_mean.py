"""Segment mean: the mean point feature of each proposal (METHOD.md §6, ``mean_{i∈q} X_i``).

Proposals arrive as CSR (:class:`~folk.proposals.ProposalCSR`: per proposal its point indices),
so no N × Q dense float matrix is ever built. Two paths compute the same thing:

- :func:`segment_mean`: NumPy in, NumPy out, the C++/OpenMP kernel of ``folk._C`` (sums in
  double, independent of the thread count). For frozen features — inference, and pooling the
  frozen Mask3D features once before distillation.
- :func:`segment_mean_torch`: a differentiable PyTorch path (``index_select`` + ``index_add_``),
  on any device, for training through a learnable feature source.

Overlapping proposals are fine; a proposal without points is an error (its mean is undefined).
"""

from __future__ import annotations

import numpy as np

from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkInputError
from folk.proposals.csr import ProposalCSR, masks_to_csr


def check_segments(segments: ProposalCSR, num_points: int) -> ProposalCSR:
    """``segments`` with offsets int64 and indices int32, C-contiguous; raises
    :class:`FolkInputError` naming what is wrong (bad offsets, out-of-range index, empty
    proposal)."""
    offsets = np.ascontiguousarray(segments.offsets, dtype=np.int64)
    indices = np.asarray(segments.indices)
    if offsets.ndim != 1 or offsets.shape[0] < 1:
        raise FolkInputError(f"segment offsets must be 1-D with Q + 1 entries, got {offsets.shape}")
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        raise FolkInputError(f"segment indices must be a 1-D integer array, got "
                             f"{indices.dtype} {indices.shape}")
    if offsets[0] != 0 or offsets[-1] != indices.shape[0]:
        raise FolkInputError(f"segment offsets must start at 0 and end at len(indices) = "
                             f"{indices.shape[0]}, got {offsets[0]} ... {offsets[-1]}")
    sizes = np.diff(offsets)
    if (sizes < 0).any():
        raise FolkInputError("segment offsets must be non-decreasing")
    empty = np.flatnonzero(sizes == 0)
    if empty.size:
        raise FolkInputError(f"{empty.size} proposal(s) have no points (e.g. proposal "
                             f"{int(empty[0])}): the mean of an empty proposal is undefined")
    if indices.size and (indices.min() < 0 or indices.max() >= num_points):
        raise FolkInputError(f"segment indices must lie in [0, {num_points}), got "
                             f"[{int(indices.min())}, {int(indices.max())}]")
    return ProposalCSR(offsets, np.ascontiguousarray(indices, dtype=np.int32), int(num_points))


def segment_mean(features: np.ndarray, segments: ProposalCSR) -> np.ndarray:
    """``(Q, C) float32`` mean of ``features`` ``(N, C)`` over each segment (C++ kernel)."""
    from folk.ops.extensions import cpu_extension

    features = np.asarray(features)
    if features.ndim != 2:
        raise FolkInputError(f"features must be (N, C), got shape {features.shape}")
    if segments.num_points != features.shape[0]:
        raise FolkInputError(f"features cover {features.shape[0]} points but the proposals "
                             f"cover {segments.num_points}")
    segments = check_segments(segments, features.shape[0])
    features = np.ascontiguousarray(features, dtype=np.float32)
    return cpu_extension().segment_mean(features, segments.offsets, segments.indices)


def segment_mean_torch(features, segments: ProposalCSR):
    """Differentiable ``(Q, C)`` segment mean of a ``(N, C)`` tensor, on its device."""
    import torch

    if features.ndim != 2:
        raise FolkInputError(f"features must be (N, C), got shape {tuple(features.shape)}")
    if segments.num_points != features.shape[0]:
        raise FolkInputError(f"features cover {features.shape[0]} points but the proposals "
                             f"cover {segments.num_points}")
    segments = check_segments(segments, features.shape[0])
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
    return segment_mean(x, masks_to_csr(proposals.masks))
