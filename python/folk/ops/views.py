"""Multi-view selection (docs/method.md §2), vectorised over proposals with NumPy.

For each proposal ``q``:

1. Candidates are the frames with at least ``min_visible`` visible points (and a finite
   rotation), ranked by visible count, descending; equal counts rank the lower frame index
   first.
2. The top ``k`` candidates are pre-selected.
3. Rotation pruning: walk the pre-selected frames in rank order and keep a frame only if its
   rotation differs from every frame already kept by at least ``θ``, where
   ``angle(Rᵢ, Rⱼ) = arccos(clamp((trace(RᵢᵀRⱼ) − 1)/2, −1, 1))`` (float64; Huynh 2009), with
   ``R`` the 3×3 rotation block of the camera-to-world pose. The first candidate is always kept.
4. The kept frame indices (row indices of ``counts``), in rank order, padded with −1 to ``k``.

With ``refill=True`` (ours, off by default) the walk continues past the top ``k`` down the whole
ranked list until ``k`` frames are kept, instead of stopping after the pre-selection.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from folk.errors import FolkInputError
from folk.ops.arrays import to_numpy

DEFAULT_K = 5
DEFAULT_THETA_DEG = 15.0
DEFAULT_MIN_VISIBLE = 1


def rotation_angles(ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """Geodesic angles (radians) between rotations ``ra (..., 3, 3)`` and ``rb (..., 3, 3)``:
    ``arccos(clamp((trace(raᵀ rb) − 1)/2, −1, 1))`` with ``trace(aᵀb) = Σ a ⊙ b``."""
    ra = np.asarray(ra, dtype=np.float64)
    rb = np.asarray(rb, dtype=np.float64)
    trace = (ra * rb).sum(axis=(-2, -1))
    return np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0))


def _rotations(poses: Any, num_frames: int) -> np.ndarray:
    poses = to_numpy(poses, "poses")
    if poses.ndim != 3 or poses.shape[0] != num_frames or poses.shape[1:] not in ((4, 4),
                                                                                   (3, 3)):
        raise FolkInputError(f"poses must have shape (F, 4, 4) or (F, 3, 3) with F = "
                             f"{num_frames} (the rows of counts), got {tuple(poses.shape)}")
    if poses.dtype.kind not in "fiu":
        raise FolkInputError(f"poses must be numeric, got dtype {poses.dtype}")
    return np.asarray(poses[:, :3, :3], dtype=np.float64)


def select_views(counts: Any, poses: Any, *, k: int = DEFAULT_K,
                 theta_deg: float = DEFAULT_THETA_DEG, min_visible: int = DEFAULT_MIN_VISIBLE,
                 refill: bool = False) -> np.ndarray:
    """The views of each proposal (see the module docstring).

    Args:
        counts: ``(F, Q)`` visible-point counts (:func:`folk.ops.visibility.visibility_counts`).
        poses: ``(F, 4, 4)`` camera-to-world poses or ``(F, 3, 3)`` rotations of those frames.
        k: views per proposal (pre-selection size and output width).
        theta_deg: minimum rotation difference θ between kept views, degrees (0 keeps all).
        min_visible: frames with fewer visible points are never candidates (>= 1).
        refill: keep walking the ranked list past the top ``k`` until ``k`` views are kept.

    Returns:
        ``(Q, k) int64`` frame indices into ``counts``' rows, rank order, −1 padded (NumPy).
    """
    counts = to_numpy(counts, "counts")
    if counts.ndim != 2:
        raise FolkInputError(f"counts must have shape (F, Q), got {tuple(counts.shape)}")
    if counts.dtype.kind not in "iu":
        raise FolkInputError(f"counts must be integer, got dtype {counts.dtype}")
    f, q = counts.shape
    rot = _rotations(poses, f)
    if int(k) != k or k < 1:
        raise FolkInputError(f"k must be a positive integer, got {k}")
    if int(min_visible) != min_visible or min_visible < 1:
        raise FolkInputError(f"min_visible must be an integer >= 1, got {min_visible}")
    if not (math.isfinite(theta_deg) and 0.0 <= theta_deg <= 180.0):
        raise FolkInputError(f"theta_deg must lie in [0, 180], got {theta_deg}")
    k = int(k)
    theta = math.radians(theta_deg)
    out = np.full((q, k), -1, dtype=np.int64)
    if f == 0 or q == 0:
        return out

    finite = np.isfinite(rot).all(axis=(1, 2))
    eligible = (counts.T.astype(np.int64) >= min_visible) & finite[None, :]  # (Q, F)
    # Rank: descending count, ties by lower frame index (a stable sort of -count).
    keys = np.where(eligible, -counts.T.astype(np.int64), np.iinfo(np.int64).max)
    order = np.argsort(keys, axis=1, kind="stable")  # (Q, F)
    num_candidates = eligible.sum(axis=1)  # (Q,)
    depth = f if refill else min(k, f)
    ranked = order[:, :depth]
    is_candidate = np.arange(depth)[None, :] < num_candidates[:, None]

    kept = np.full((q, k), -1, dtype=np.int64)
    num_kept = np.zeros(q, dtype=np.int64)
    rows = np.arange(q)
    for j in range(depth):
        active = is_candidate[:, j] & (num_kept < k)
        if not active.any():
            if not is_candidate[:, j:].any() or (num_kept >= k).all():
                break
            continue
        frame = ranked[:, j]
        ok = active.copy()
        for i in range(k):
            # Compare with the i-th kept frame where there is one.
            has = active & (num_kept > i)
            if not has.any():
                break
            other = np.where(has, kept[:, i], 0)
            angles = rotation_angles(rot[frame[has]], rot[other[has]])
            ok[has] &= angles >= theta
        take = rows[ok]
        kept[take, num_kept[take]] = frame[take]
        num_kept[take] += 1
    out[:] = kept
    return out
