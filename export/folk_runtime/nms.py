"""Greedy mask NMS on CSR proposal membership, with NumPy only (no ``N × Q`` array).

Same rule and same result as ``folk.proposals.nms.mask_nms`` (tested against it):
proposals are visited by descending score (ties: lower index first); a visited proposal that no
kept proposal suppressed is kept, and suppresses every proposal whose mask IoU with it is
**strictly greater** than ``iou_threshold``. IoU is ``|A ∩ B| / (|A| + |B| - |A ∩ B|)`` in
float64 (0 when both are empty); ``iou_threshold >= 1`` keeps everything. The kept indices come
back in visiting order (highest score first).

How intersections are counted without ``N × Q``, cheapest test first. Every test is an upper
bound ``U >= |A ∩ B|`` put into the IoU's own float64 formula; IoU grows with the intersection
and rounding is monotone, so a pair with ``U / (|A| + |B| - U) <= thr`` never has IoU > thr
and is dropped without changing the result:

1. sizes: ``U = min(|A|, |B|)``. At IoU 0.9 most pairs differ too much in size.
2. point-id histograms: the points are cut into :data:`BUCKETS` ranges of ids; per proposal,
   its count in each range (``Q × BUCKETS``, from one binary search over the sorted entry keys
   ``proposal × N + point``); ``U = Σ_ranges min(count_A, count_B)``. Rules out similar-sized
   proposals that are not near each other in id space, or not the same points (e.g. many
   disjoint objects of one size).
3. greedy, for a kept proposal and its remaining candidates: its points are marked in an
   ``N``-byte array; a strided sample of each candidate, about as many points as the misses
   IoU > thr still allows, bounds its misses from below (``U = |B| - sampled misses``); the
   candidates left (near-duplicates) are counted exactly.
"""

from __future__ import annotations

import numpy as np

from folk_runtime.csr import Membership, check_membership
from folk_runtime.errors import RuntimeInputError

#: The paper's NMS threshold (FOLK, App. B), as folk's.
DEFAULT_IOU = 0.9
#: Point-id ranges of the histogram bound (stage 2).
BUCKETS = 64
#: Pairs per chunk of the histogram bound (bounds its memory to ~ CHUNK × BUCKETS × 8 bytes).
CHUNK = 16384


def check_scores(scores: object, num_proposals: int) -> np.ndarray:
    """``(Q,) float64`` finite scores, or :class:`RuntimeInputError`."""
    scores = np.asarray(scores)
    if scores.ndim != 1 or scores.shape[0] != num_proposals:
        raise RuntimeInputError(f"scores must have shape ({num_proposals},) (one per "
                                f"proposal), got {scores.shape}")
    if not (np.issubdtype(scores.dtype, np.number) or scores.size == 0) \
            or np.issubdtype(scores.dtype, np.complexfloating):
        raise RuntimeInputError(f"scores must be real numbers, got {scores.dtype}")
    scores = scores.astype(np.float64, copy=False)
    if not np.isfinite(scores).all():
        raise RuntimeInputError("scores contain NaN or inf")
    return scores


def nms_csr(offsets: object, indices: object, scores: object, num_points: int,
            iou_threshold: float = DEFAULT_IOU) -> np.ndarray:
    """Kept proposal indices ``(K,) int64``, highest score first (the module's rule).

    ``offsets`` ``(Q + 1,)`` / ``indices`` ``(M,)``: the CSR membership of ``Q`` proposals over
    ``num_points`` points (:mod:`folk_runtime.csr`'s rules, checked here); ``scores`` ``(Q,)``.
    """
    membership = check_membership(offsets, indices, int(num_points))
    return greedy_nms(membership, check_scores(scores, membership.num_proposals),
                      iou_threshold)


def greedy_nms(membership: Membership, scores: np.ndarray, iou_threshold: float,
               ) -> np.ndarray:
    """:func:`nms_csr` on an already checked membership and ``(Q,) float64`` finite scores."""
    thr = float(iou_threshold)
    if not thr >= 0.0:  # also rejects NaN
        raise RuntimeInputError(f"iou_threshold must be >= 0, got {iou_threshold}")
    q = membership.num_proposals
    order = np.argsort(-scores, kind="stable")
    if q == 0 or thr >= 1.0:
        return order.astype(np.int64)
    candidates = _candidate_pairs(membership, order, thr)
    if candidates is None:  # no pair can reach the threshold
        return order.astype(np.int64)
    pair_start, pair_other = candidates
    offsets, indices, sizes = membership.offsets, membership.indices, membership.sizes
    marker = np.zeros(membership.num_points, dtype=bool)
    over_fraction = thr / (1.0 + thr)  # IoU > thr  <=>  |A ∩ B| > thr / (1 + thr) (|A| + |B|)
    suppressed = np.zeros(q, dtype=bool)
    keep = np.zeros(q, dtype=bool)  # by visiting rank
    starts, ends = offsets[:-1].tolist(), offsets[1:].tolist()
    pair_start = pair_start.tolist()
    for rank, i in enumerate(order.tolist()):
        if suppressed[i]:
            continue
        keep[rank] = True
        lo, hi = pair_start[rank], pair_start[rank + 1]
        if lo == hi:
            continue
        others = pair_other[lo:hi]
        others = others[~suppressed[others]]
        if others.size == 0:
            continue
        own = indices[starts[i]:ends[i]]
        marker[own] = True
        size_i = ends[i] - starts[i]
        if others.size <= 4:  # few candidates: a call per candidate is cheapest
            for j in others.tolist():
                suppressed[j] = _over(marker, indices[starts[j]:ends[j]], size_i, thr,
                                      over_fraction)
        else:
            suppressed[_over_many(marker, indices, offsets, sizes, others, size_i, thr,
                                  over_fraction)] = True
        marker[own] = False
    return order[keep].astype(np.int64)


def _iou_above(inter, size_a, size_b, thr: float):
    """``inter / (size_a + size_b - inter) > thr`` in float64 (scalars or arrays); with an
    upper bound of the intersection as ``inter``: False means IoU <= thr for sure."""
    return inter / (size_a + size_b - inter) > thr


def _sample_step(size_j, size_i: int, over_fraction: float):
    """Stride of the sample of a candidate of ``size_j`` points: about ``allowed misses + 2``
    points, where ``allowed misses = size_j - over_fraction * (size_i + size_j)`` is the most
    points outside the marked proposal that still allow IoU > thr (scalar or array)."""
    allowed = np.maximum(size_j - over_fraction * (size_i + size_j), 0.0)
    return np.maximum(size_j // (allowed + 2.0), 1).astype(np.int64)


def _over(marker: np.ndarray, points: np.ndarray, size_i: int, thr: float,
          over_fraction: float) -> bool:
    """Whether ``IoU > thr`` between the marked proposal (``size_i`` points) and ``points``:
    the strided sample's bound (stage 3), then the exact count when the bound is not enough."""
    size_j = points.shape[0]
    step = int(_sample_step(size_j, size_i, over_fraction))
    if step > 1:
        sample = points[::step]
        upper = size_j - (sample.shape[0] - int(np.count_nonzero(marker[sample])))
        if not _iou_above(upper, size_i, size_j, thr):
            return False
    inter = int(np.count_nonzero(marker[points]))
    return bool(_iou_above(inter, size_i, size_j, thr))


def _over_many(marker: np.ndarray, indices: np.ndarray, offsets: np.ndarray,
               sizes: np.ndarray, others: np.ndarray, size_i: int, thr: float,
               over_fraction: float) -> np.ndarray:
    """:func:`_over` for several candidates ``others`` at once (the samples in a few NumPy
    calls); returns the ones with IoU > thr."""
    size_o = sizes[others]
    step = _sample_step(size_o, size_i, over_fraction)
    count = (size_o + step - 1) // step  # sample sizes: len(range(0, size, step))
    first = np.cumsum(count) - count
    owner = np.repeat(np.arange(others.shape[0]), count)
    within = np.arange(int(first[-1] + count[-1])) - first[owner]
    hits = np.add.reduceat(marker[indices[offsets[others][owner] + within * step[owner]]],
                           first, dtype=np.int64)
    upper = size_o - (count - hits)  # exact where step == 1
    maybe = _iou_above(upper, size_i, size_o, thr)
    over = maybe & (step == 1)
    for k in np.flatnonzero(maybe & (step > 1)).tolist():  # near-duplicates: count them all
        j = int(others[k])
        inter = int(np.count_nonzero(marker[indices[offsets[j]:offsets[j + 1]]]))
        over[k] = _iou_above(inter, size_i, int(size_o[k]), thr)
    return others[over]


def _candidate_pairs(membership: Membership, order: np.ndarray, thr: float,
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """The pairs stages 1 and 2 cannot rule out, for the greedy pass: for each visiting rank
    ``r``, the candidates later in the visiting order than proposal ``order[r]``, as CSR
    ``(start (Q + 1,) by rank, candidate proposal ids)``; None when there is none."""
    sizes = membership.sizes
    q = sizes.shape[0]
    a, b = _size_compatible(sizes, thr)
    if a.size == 0:
        return None
    a, b = _histogram_compatible(membership, a, b, thr)
    if a.size == 0:
        return None
    rank = np.empty(q, dtype=np.int64)
    rank[order] = np.arange(q)
    a_first = rank[a] < rank[b]
    earlier, later = np.where(a_first, a, b), np.where(a_first, b, a)
    sort = np.lexsort((rank[later], rank[earlier]))  # by earlier's rank, then later's
    start = np.zeros(q + 1, dtype=np.int64)
    np.cumsum(np.bincount(rank[earlier], minlength=q), out=start[1:])
    return start, later[sort]


def _size_compatible(sizes: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1: all pairs ``(a, b)`` with ``|a| <= |b|`` and ``fl(|a| / |b|) > thr``."""
    q = sizes.shape[0]
    by_size = np.argsort(sizes, kind="stable")
    sorted_sizes = sizes[by_size]
    # Window of larger-or-equal partners: sizes in [s, s / thr] (a superset: exact test below).
    upper = sorted_sizes / thr if thr > 0 else np.full(q, np.inf)
    hi = np.searchsorted(sorted_sizes, np.floor(upper * (1 + 1e-12)) + 1, side="left")
    count = hi - np.arange(q) - 1
    count[sorted_sizes == 0] = 0  # an empty proposal has IoU 0 with everything
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first = np.repeat(np.arange(q), count)
    second = first + 1 + (np.arange(total) - np.repeat(np.cumsum(count) - count, count))
    a, b = by_size[first], by_size[second]
    keep = _iou_above(sizes[a], sizes[a], sizes[b], thr)  # U = min = |a|: U/(|a|+|b|-U)
    return a[keep], b[keep]


def _histogram_compatible(membership: Membership, a: np.ndarray, b: np.ndarray, thr: float,
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2: the pairs of ``(a, b)`` that the point-id histogram bound cannot rule out."""
    if a.size < 2 * membership.num_proposals:  # few pairs: stage 3 is cheaper than histograms
        return a, b
    involved = np.unique(np.concatenate([a, b]))
    n, q, sizes = membership.num_points, membership.num_proposals, membership.sizes
    bounds = (np.arange(BUCKETS + 1, dtype=np.int64) * n) // BUCKETS
    width = int(np.diff(bounds).max())  # the most points a proposal has in one range
    hist = np.zeros((q, BUCKETS), dtype=np.int16 if width <= np.iinfo(np.int16).max else np.int32)
    # Entry keys proposal × N + point: ascending over the whole CSR (proposals in order, points
    # sorted within each), so one binary search finds every (proposal, range) boundary.
    base = np.arange(q, dtype=np.int64) * n
    keys = np.repeat(base, sizes)
    keys += membership.indices
    edges = np.searchsorted(keys, (base[involved, None] + bounds).ravel())
    hist[involved] = np.diff(edges.reshape(involved.shape[0], BUCKETS + 1), axis=1)
    keep = np.zeros(a.shape[0], dtype=bool)
    for lo in range(0, a.shape[0], CHUNK):
        pa, pb = a[lo:lo + CHUNK], b[lo:lo + CHUNK]
        upper = np.minimum(np.take(hist, pa, axis=0),  # np.take: faster than hist[pa]
                           np.take(hist, pb, axis=0)).sum(axis=1, dtype=np.int64)
        keep[lo:lo + CHUNK] = _iou_above(upper, sizes[pa], sizes[pb], thr)
    return a[keep], b[keep]
