"""Floor, walls and ceiling of a scan found among its superpoints (no per-point RANSAC).

Every planar superpoint proposes a plane (its centroid and PCA normal). A hypothesis gathers
the superpoints whose normal agrees with it (``|cos| ≥ cos(angle_tolerance_deg)``) and whose
centroid lies within ``distance`` of it; its support is their point count. The best-supported
plane is taken, classified, its superpoints leave the pool, and the search repeats (at most
``max_planes`` times, while a plane holds ``min_plane_fraction`` of the points):

* horizontal, covering at least ``min_horizontal_share`` of the scan's horizontal bounding
  box, at the bottom of the scan (within ``floor_margin`` of its 1st percentile of height) →
  floor; at the top (``ceiling_margin`` of the 99th) → ceiling (a scan without a ceiling
  keeps the tops of its tallest furniture, which cover less);
* vertical, at least ``min_wall_height`` × ``min_wall_width`` (1st–99th percentile extents
  of its points), with at most ``wall_outside`` of the scan's points behind it (a wall bounds
  the room; a cabinet front has the room on both sides) → wall;
* anything else (a table top) → not structure.

Working on superpoints makes the search exhaustive (every hypothesis is scored) and
deterministic, and costs O(S²) for S superpoints instead of RANSAC over points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SegmentPlaneConfig:
    """Parameters of :func:`structure_from_segments` (metres, z up); see the module doc."""

    distance: float = 0.08
    angle_tolerance_deg: float = 15.0
    max_planes: int = 16
    min_plane_fraction: float = 0.01
    max_planarity: float = 0.05  # λ0 / λ1 of a superpoint allowed to propose a plane
    floor_margin: float = 0.25
    ceiling_margin: float = 0.3
    min_wall_height: float = 1.2
    min_wall_width: float = 1.0
    wall_outside: float = 0.05
    min_horizontal_share: float = 0.25


def structure_from_segments(points: np.ndarray, sp: np.ndarray, count: np.ndarray,
                            centroid: np.ndarray, normal: np.ndarray, eigenvalues: np.ndarray,
                            config: SegmentPlaneConfig | None = None) -> np.ndarray:
    """``(S,) bool``: superpoints on a floor, wall or ceiling plane (see the module doc).

    ``sp`` (N,) ids 0..S-1 of ``points``; ``count``, ``centroid``, ``normal`` (unit) and
    ``eigenvalues`` (ascending) are the per-superpoint statistics."""
    config = config or SegmentPlaneConfig()
    s = count.shape[0]
    n_points = points.shape[0]
    z_low, z_high = np.percentile(points[:, 2], [1.0, 99.0])
    cos_tol = math.cos(math.radians(config.angle_tolerance_deg))
    planar = eigenvalues[:, 0] <= config.max_planarity * np.maximum(eigenvalues[:, 1], 1e-12)
    agree = np.abs(normal @ normal.T) >= cos_tol  # (S hyp, S seg)
    offset = np.einsum("ij,ij->i", normal, centroid)
    near = np.abs(centroid @ normal.T - offset[None, :]).T <= config.distance  # (hyp, seg)
    inlier = agree & near
    pool = np.ones(s, dtype=bool)
    structure = np.zeros(s, dtype=bool)
    for _ in range(config.max_planes):
        hyp = planar & pool
        if not hyp.any():
            break
        support = (inlier & pool[None, :]).astype(np.float64) @ count
        support[~hyp] = -1.0
        best = int(np.argmax(support))
        if support[best] < config.min_plane_fraction * n_points:
            break
        members = inlier[best] & pool
        pool &= ~members
        if _is_structure(points, sp, members, normal[best], centroid[best], z_low, z_high,
                         cos_tol, config):
            structure |= members
    return structure


def _is_structure(points, sp, members, n, c, z_low, z_high, cos_tol,
                  config: SegmentPlaneConfig) -> bool:
    inl = points[members[sp]]
    nz = abs(float(n[2]))
    if nz >= cos_tol:
        span = np.ptp(points[:, :2], axis=0)
        cover = np.ptp(inl[:, :2], axis=0)
        if cover[0] * cover[1] < config.min_horizontal_share * span[0] * span[1]:
            return False
        z = float(np.median(inl[:, 2]))
        return z <= z_low + config.floor_margin or z >= z_high - config.ceiling_margin
    if nz > math.sqrt(1.0 - cos_tol ** 2):
        return False
    horizontal = np.array([-n[1], n[0], 0.0])
    horizontal /= max(float(np.linalg.norm(horizontal)), 1e-12)
    width = np.subtract(*np.percentile(inl @ horizontal, [99, 1]))
    height = np.subtract(*np.percentile(inl[:, 2], [99, 1]))
    if height < config.min_wall_height or width < config.min_wall_width:
        return False
    side = (points - c) @ n
    behind = min(float((side < -config.distance).mean()), float((side > config.distance).mean()))
    return behind <= config.wall_outside
