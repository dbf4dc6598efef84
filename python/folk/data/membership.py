"""Which points belong to which proposal: the one compact membership type of folk.

:class:`ProposalMembership` is the CSR (compressed sparse rows) form of a scene's proposals:
for proposal ``q`` the point indices ``indices[offsets[q]:offsets[q + 1]]``. Every kernel that
loops over proposals (visibility, segment mean, NMS) takes it, so that no dense ``N × Q``
matrix has to be built; :meth:`ProposalMembership.from_masks` and
:meth:`ProposalMembership.to_masks` convert from and to the ``(N, Q)`` bool masks of
:class:`~folk.data.scene.Proposals`.

Rules (checked by :meth:`ProposalMembership.validate`):

* ``offsets``: ``(Q + 1,) int64``, ``offsets[0] = 0``, never decreasing, ``offsets[Q] = nnz``.
* ``indices``: ``(nnz,) int32`` in ``[0, num_points)``, **strictly increasing within each
  proposal**: a proposal is a set of points (sorted, no repeats). A point may belong to
  several proposals.
* **Empty proposals are allowed** (``offsets[q] == offsets[q + 1]``): an empty set is a valid
  membership. Its size is 0, its mask column is all False, its IoU with anything is 0 and it
  is visible in no frame. An operation that is undefined on an empty set — the mean point
  feature of a proposal (segment mean) — rejects it, naming the proposal
  (``validate(..., nonempty=True)``). Proposal *files* with an empty column are rejected when
  read (:func:`folk.data.inputs.read_proposals`), since Mask3D never writes one.

Arrays are NumPy arrays or torch tensors (any device, both of one kind); the constructors and
:meth:`~ProposalMembership.to` / :meth:`~ProposalMembership.numpy` keep or move them. Importing
this module does not import torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from folk.errors import FolkInputError


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _host(x: Any) -> np.ndarray:
    """``x`` as a NumPy array (a torch tensor is copied to the host)."""
    return x.detach().cpu().numpy() if _is_torch(x) else np.asarray(x)


def _dtype_name(a: Any) -> str:
    return str(a.dtype).split(".")[-1]


def check_csr(offsets: Any, values: Any, name: str, values_name: str, rows: str) -> None:
    """Shape, dtype and offsets checks of a CSR pair (``offsets`` int64, ``values`` int32),
    NumPy or torch; raises :class:`FolkInputError` naming ``name.offsets`` /
    ``name.<values_name>``. ``rows`` spells the expected offsets length, e.g. ``"Q+1"``."""
    if offsets.ndim != 1 or offsets.shape[0] < 1:
        raise FolkInputError(f"{name}.offsets must have shape ({rows},), got "
                             f"{tuple(offsets.shape)}")
    if values.ndim != 1:
        raise FolkInputError(f"{name}.{values_name} must be 1-D, got shape "
                             f"{tuple(values.shape)}")
    if _dtype_name(offsets) != "int64":
        raise FolkInputError(f"{name}.offsets must be int64, got {offsets.dtype}")
    if _dtype_name(values) != "int32":
        raise FolkInputError(f"{name}.{values_name} must be int32, got {values.dtype}")
    n = int(values.shape[0])
    if (int(offsets[0]) != 0 or int(offsets[-1]) != n
            or bool((offsets[1:] < offsets[:-1]).any())):
        raise FolkInputError(f"{name}.offsets must start at 0, never decrease and end at "
                             f"len({values_name}) = {n}")


@dataclass(frozen=True)
class ProposalMembership:
    """The points of each of ``Q`` proposals over ``num_points`` points, in CSR form.

    Proposal ``q`` holds the point indices ``indices[offsets[q]:offsets[q + 1]]``, strictly
    increasing; ``offsets`` is ``(Q + 1,) int64``, ``indices`` ``(nnz,) int32``. Empty
    proposals are allowed (see the module docstring for the rules). Memory is
    ``O(Q + nnz)`` instead of the dense ``N × Q`` masks.
    """

    offsets: Any
    indices: Any
    num_points: int

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def from_masks(cls, masks: Any) -> ProposalMembership:
        """From dense ``(N, Q)`` masks (column ``q`` = proposal ``q``; bool, or numbers read
        as ``!= 0``), NumPy or torch; the result lives where the masks did."""
        if masks.ndim != 2:
            raise FolkInputError(f"proposal masks must have shape (N, Q), got "
                                 f"{tuple(masks.shape)}")
        n, q = (int(s) for s in masks.shape)
        if n >= 2**31:
            raise FolkInputError(f"{n} points: more than int32 can index")
        if _is_torch(masks):
            import torch

            cols = masks.bool().t()  # (Q, N): nonzero walks proposals, then points ascending
            qi, pi = torch.nonzero(cols, as_tuple=True)
            offsets = torch.zeros(q + 1, dtype=torch.int64, device=masks.device)
            torch.cumsum(torch.bincount(qi, minlength=q), 0, out=offsets[1:])
            return cls(offsets, pi.to(torch.int32), n)
        masks = np.asarray(masks)
        # Flat indices into the (Q, N) transpose come grouped by proposal, points ascending.
        flat = np.flatnonzero(np.ascontiguousarray(masks.T if masks.dtype == bool
                                                   else masks.T != 0))
        counts = (np.bincount(flat // n, minlength=q) if flat.size
                  else np.zeros(q, np.int64))
        offsets = np.zeros(q + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(offsets, (flat % max(n, 1)).astype(np.int32), n)

    @classmethod
    def from_lists(cls, lists: list, num_points: int) -> ProposalMembership:
        """From one array of point indices per proposal (sorted and deduplicated here)."""
        arrays = [np.unique(np.asarray(a, dtype=np.int64).reshape(-1)) for a in lists]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum([a.size for a in arrays], out=offsets[1:])
        flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= num_points):
            raise FolkInputError(f"proposal point indices must lie in [0, {num_points})")
        return cls(offsets, flat.astype(np.int32), int(num_points))

    # ---- shape ----------------------------------------------------------------------------

    @property
    def num_proposals(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def sizes(self) -> Any:
        """Points per proposal, ``(Q,) int64`` (0 for an empty proposal)."""
        return self.offsets[1:] - self.offsets[:-1]

    def segment_ids(self) -> Any:
        """``(nnz,) int64``: the proposal each entry of ``indices`` belongs to."""
        if _is_torch(self.offsets):
            import torch

            ids = torch.arange(self.num_proposals, device=self.offsets.device)
            return torch.repeat_interleave(ids, self.sizes)
        return np.repeat(np.arange(self.num_proposals, dtype=np.int64), self.sizes)

    # ---- conversions ----------------------------------------------------------------------

    def select(self, proposals: Any) -> ProposalMembership:
        """The membership of the proposals ``proposals`` (indices into this one, repeats
        allowed), in that order (NumPy)."""
        offsets_in, indices_in = _host(self.offsets), _host(self.indices)
        proposals = np.asarray(_host(proposals), dtype=np.int64).reshape(-1)
        sizes = (offsets_in[1:] - offsets_in[:-1])[proposals]
        offsets = np.zeros(proposals.shape[0] + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        starts = offsets_in[proposals]
        # Position of every output entry in the input: start of its segment + rank within it.
        take = np.repeat(starts - offsets[:-1], sizes) + np.arange(offsets[-1])
        return ProposalMembership(offsets, indices_in[take], self.num_points)

    def to_masks(self) -> np.ndarray:
        """Dense ``(N, Q)`` bool masks (NumPy), column ``q`` = proposal ``q``."""
        offsets, indices = _host(self.offsets), _host(self.indices)
        masks = np.zeros((self.num_points, self.num_proposals), dtype=bool)
        cols = np.repeat(np.arange(self.num_proposals), np.diff(offsets))
        masks[indices, cols] = True
        return masks

    def to_scipy(self):
        """``scipy.sparse.csr_matrix`` of shape ``(Q, N)`` with ones at the members."""
        import scipy.sparse as sp

        offsets, indices = _host(self.offsets), _host(self.indices)
        data = np.ones(indices.shape[0], dtype=np.int32)
        return sp.csr_matrix((data, indices, offsets),
                             shape=(self.num_proposals, self.num_points))

    def numpy(self) -> ProposalMembership:
        """The same membership with NumPy arrays (itself when it has them already)."""
        if not _is_torch(self.offsets) and not _is_torch(self.indices):
            return self
        return ProposalMembership(_host(self.offsets), _host(self.indices), self.num_points)

    def to(self, device: Any) -> ProposalMembership:
        """The same membership as torch tensors on ``device`` (imports torch)."""
        import torch

        def move(a: Any):
            t = a if _is_torch(a) else torch.from_numpy(np.ascontiguousarray(a))
            return t.to(device).contiguous()

        return ProposalMembership(move(self.offsets), move(self.indices), self.num_points)

    # ---- checks ---------------------------------------------------------------------------

    def validate(self, num_points: int | None = None, name: str = "membership", *,
                 nonempty: bool = False) -> ProposalMembership:
        """Raise :class:`FolkInputError` unless this is well-formed CSR (the module's rules)
        over ``num_points`` points (default: its own). ``nonempty``: also reject empty
        proposals, naming the first. Returns ``self``."""
        if num_points is not None and self.num_points != num_points:
            raise FolkInputError(f"{name} covers {self.num_points} points but there are "
                                 f"{num_points} points")
        num_points = self.num_points
        check_csr(self.offsets, self.indices, name, "indices", "Q+1")
        off, idx = self.offsets, self.indices
        if nonempty:
            empty = _host(off[1:] == off[:-1]).nonzero()[0]
            if empty.size:
                raise FolkInputError(
                    f"{name}: {empty.size} proposal(s) have no points (e.g. proposal "
                    f"{int(empty[0])}), and this operation is undefined on an empty proposal")
        nnz = int(idx.shape[0])
        if nnz == 0:
            return self
        if int(idx.min()) < 0 or int(idx.max()) >= num_points:
            raise FolkInputError(f"{name}.indices must lie in [0, {num_points})")
        increasing = idx[1:] > idx[:-1]
        starts = off[1:-1]
        starts = starts[(starts > 0) & (starts < nnz)]
        increasing[starts - 1] = True  # a new proposal may start lower
        if not bool(increasing.all()):
            raise FolkInputError(f"{name}.indices must be strictly increasing within each "
                                 "proposal (sorted, no repeated point)")
        return self
