"""Proposal membership in CSR form, as the runtime takes it (NumPy only).

Proposal ``q`` holds the points ``indices[offsets[q]:offsets[q + 1]]`` (the layout of folk's
``ProposalMembership``):

* ``offsets``: ``(Q + 1,)`` integers, ``offsets[0] = 0``, never decreasing,
  ``offsets[Q] = len(indices)``;
* ``indices``: ``(M,)`` integers in ``[0, num_points)``, strictly increasing within each
  proposal (a proposal is a set of points). A point may belong to several proposals; a
  proposal may be empty.

:func:`check_membership` validates and normalises a pair; :func:`graph_inputs` turns the
membership of selected proposals into the graph's ``point_index`` / ``proposal_index`` /
``proposal_size`` inputs. Nothing here builds an ``N × Q`` array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folk_runtime.errors import RuntimeInputError


@dataclass(frozen=True)
class Membership:
    """A checked CSR membership: ``offsets (Q + 1,) int64``, ``indices (M,) int64``."""

    offsets: np.ndarray
    indices: np.ndarray
    num_points: int

    @property
    def num_proposals(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def sizes(self) -> np.ndarray:
        """``(Q,) int64`` points per proposal."""
        return np.diff(self.offsets)


def _integer_vector(name: str, a: object) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1 or not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
        raise RuntimeInputError(f"{name} must be a 1-D integer array, got {a.dtype} "
                                f"{a.shape}")
    return np.ascontiguousarray(a, dtype=np.int64)


def check_membership(offsets: object, indices: object, num_points: int) -> Membership:
    """``offsets`` / ``indices`` checked against the module's rules over ``num_points`` points
    (int64 copies only where the input is of another dtype). Raises
    :class:`~folk_runtime.errors.RuntimeInputError` naming what is wrong."""
    offsets = _integer_vector("offsets", offsets)
    indices = _integer_vector("indices", indices)
    m = indices.shape[0]
    if offsets.shape[0] < 1:
        raise RuntimeInputError("offsets must have Q + 1 >= 1 entries, got none")
    if offsets[0] != 0 or offsets[-1] != m:
        raise RuntimeInputError(f"offsets must start at 0 and end at len(indices) = {m}, got "
                                f"{int(offsets[0])} ... {int(offsets[-1])}")
    steps = np.diff(offsets)
    if steps.size and steps.min() < 0:
        q = int(np.flatnonzero(steps < 0)[0])
        raise RuntimeInputError(f"offsets must never decrease (monotone CSR), but offsets[{q}]"
                                f" = {int(offsets[q])} > offsets[{q + 1}] = "
                                f"{int(offsets[q + 1])}")
    if m:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= num_points:
            bad = low if low < 0 else high
            raise RuntimeInputError(f"indices must lie in [0, {num_points}) (the number of "
                                    f"points of the features), found {bad}")
        increasing = indices[1:] > indices[:-1]
        starts = offsets[1:-1]
        increasing[starts[(starts > 0) & (starts < m)] - 1] = True  # a proposal may start lower
        if not increasing.all():
            entry = int(np.flatnonzero(~increasing)[0]) + 1
            q = int(np.searchsorted(offsets, entry, side="right")) - 1
            raise RuntimeInputError(f"indices must be strictly increasing within each proposal "
                                    f"(sorted, no repeated point); proposal {q} is not")
    return Membership(offsets, indices, int(num_points))


def masks_to_membership(masks: object) -> Membership:
    """The CSR membership of dense ``(N, Q)`` boolean masks (column ``q`` = proposal ``q``).

    For files that store masks; the runtime itself never builds masks."""
    masks = np.asarray(masks)
    if masks.ndim != 2:
        raise RuntimeInputError(f"masks must be (N, Q), got shape {masks.shape}")
    n, q = masks.shape
    flat = np.flatnonzero(np.ascontiguousarray((masks != 0).T))  # grouped by proposal
    offsets = np.zeros(q + 1, dtype=np.int64)
    if flat.size:
        np.cumsum(np.bincount(flat // n, minlength=q), out=offsets[1:])
    return Membership(offsets, (flat % max(n, 1)).astype(np.int64), int(n))


@dataclass(frozen=True)
class GraphInputs:
    """The graph's membership inputs for ``Q'`` selected proposals (in the selection order)."""

    point_index: np.ndarray  # (M',) int64, the point of each entry
    proposal_index: np.ndarray  # (M',) int64, ascending: the selected proposal of each entry
    proposal_size: np.ndarray  # (Q',) float32, member count of each selected proposal


def graph_inputs(membership: Membership, selected: np.ndarray) -> GraphInputs:
    """:class:`GraphInputs` of the proposals ``selected`` (indices into ``membership``,
    non-empty ones, in the order the graph's rows will have)."""
    selected = np.asarray(selected, dtype=np.int64)
    sizes = membership.sizes[selected]
    offsets, indices = membership.offsets, membership.indices
    if np.array_equal(selected, np.arange(membership.num_proposals)):
        point_index = indices  # every proposal, in order: the entries as they are (no copy)
    else:
        # One slice copy per proposal (memcpy speed) beats a gather through computed positions.
        parts = [indices[offsets[q]:offsets[q + 1]] for q in selected.tolist()]
        point_index = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return GraphInputs(point_index=point_index.astype(np.int64, copy=False),
                       proposal_index=np.repeat(np.arange(selected.shape[0], dtype=np.int64),
                                                sizes),
                       proposal_size=sizes.astype(np.float32))
