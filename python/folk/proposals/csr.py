"""Proposal membership as CSR (compressed sparse rows): for each proposal the indices of its
points. Kernels that loop over proposals (segment mean, visibility) take this form, so that
no N x Q dense float matrix is ever built."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folk.errors import FolkInputError


@dataclass(frozen=True)
class ProposalCSR:
    """Proposal ``q`` holds the points ``indices[offsets[q]:offsets[q + 1]]`` (ascending).

    offsets: ``(Q + 1,) int64``, starting at 0; indices: ``(K,) int32``.
    """

    offsets: np.ndarray
    indices: np.ndarray
    num_points: int

    @property
    def num_proposals(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def sizes(self) -> np.ndarray:
        """``(Q,) int64`` points per proposal."""
        return np.diff(self.offsets)

    def segment_ids(self) -> np.ndarray:
        """``(K,) int64``: the proposal each entry of ``indices`` belongs to."""
        return np.repeat(np.arange(self.num_proposals, dtype=np.int64), self.sizes)

    def select(self, proposals: np.ndarray) -> ProposalCSR:
        """The CSR of the proposals ``proposals`` (indices into this one), in that order."""
        proposals = np.asarray(proposals, dtype=np.int64).reshape(-1)
        sizes = self.sizes[proposals]
        offsets = np.zeros(proposals.shape[0] + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        starts = self.offsets[proposals]
        # Position of every output entry in the input: start of its segment + rank within it.
        take = np.repeat(starts - offsets[:-1], sizes) + np.arange(offsets[-1])
        return ProposalCSR(offsets, self.indices[take], self.num_points)

    def to_masks(self) -> np.ndarray:
        """``(N, Q) bool`` masks."""
        masks = np.zeros((self.num_points, self.num_proposals), dtype=bool)
        masks[self.indices, self.segment_ids()] = True
        return masks

    def to_scipy(self):
        """``scipy.sparse.csr_matrix`` of shape ``(Q, N)`` with ones at the members."""
        import scipy.sparse as sp

        data = np.ones(self.indices.shape[0], dtype=np.int32)
        return sp.csr_matrix((data, self.indices, self.offsets),
                             shape=(self.num_proposals, self.num_points))


def masks_to_csr(masks: np.ndarray) -> ProposalCSR:
    """CSR of an ``(N, Q)`` boolean mask matrix (column ``q`` = proposal ``q``)."""
    masks = np.asarray(masks)
    if masks.ndim != 2:
        raise FolkInputError(f"proposal masks must be (N, Q), got shape {masks.shape}")
    n, q = masks.shape
    if n >= 2**31:
        raise FolkInputError(f"{n} points: more than int32 can index")
    # Flat indices into the (Q, N) transpose come grouped by proposal, points ascending.
    flat = np.flatnonzero(np.ascontiguousarray(masks.T if masks.dtype == bool else masks.T != 0))
    counts = np.bincount(flat // max(n, 1), minlength=q) if flat.size else np.zeros(q, np.int64)
    offsets = np.zeros(q + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return ProposalCSR(offsets, (flat % max(n, 1)).astype(np.int32), int(n))
