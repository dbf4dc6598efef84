"""Training-free proposals by merging superpoints: multi-scale, overlapping, scored.

The input is a scan's points and an over-segmentation of them (superpoint ids, e.g.
:func:`folk.ops.mesh_superpoints` on a mesh or :func:`folk.ops.point_superpoints` on a bare
point cloud). This module takes the ids as an array rather than computing them: proposals sit
below ``folk.ops`` in :mod:`folk.layers`, so whoever calls it (``folk proposals``) makes the
superpoints first.

1. **Segment statistics.** Per superpoint: point count, centroid, covariance (PCA normal,
   planarity, extent), mean colour. A segment normal is oriented by the mesh's vertex normals
   when faces are given, by the points' normals when a point cloud has oriented ones (then a
   segment within ``up_prior_angle`` of vertical is turned up: a scan sees the tops of
   things, and propagated orientations are wrong on about half of the thin horizontal parts),
   else away from the centroid of its adjacent segments (after step 3), which lets a bare
   point cloud use the convexity cue too.
2. **Structure removal.** A superpoint is *structure* when it lies on a floor / wall /
   ceiling plane found among the superpoints (:mod:`folk.proposals.segment_planes`), or when
   it is a large horizontal segment at floor height (a floor piece the plane missed).
   Structure segments take part in no proposal.
3. **Region adjacency graph** of the remaining superpoints: two segments are adjacent when
   they are in *contact*: a mesh edge joins a point of each (faces given) or, for a point
   cloud, one point of each is among the other's ``knn`` nearest neighbours within
   ``adjacency_radius`` (the caller's k-NN query, ``neighbours``, when it passes one:
   :func:`folk.ops.superpoints.point_neighbours`).
4. **Edge affinity** in [0, 1] from geometric cues: a convex or near-coplanar junction (the
   local convexity criterion ``(n_i − n_j)·(c_i − c_j) ≥ 0``) keeps a high affinity, a concave
   fold lowers it in proportion to its angle; colour difference lowers it; so does a crease
   *at the boundary itself*: the affinity is multiplied by ``1 − boundary_normal_weight ·
   (1 − m)``, ``m`` the mean ``|n_p·n_q|`` of the point normals (the mesh's, or the caller's,
   signed or not) over the pair's contacts, whatever the two segments' mean normals say; a
   tiny superpoint (below ``small_segment``, off by default) is attached at affinity 1.
5. **Merging.** Edges are joined in decreasing affinity (single linkage, union–find); the
   components present at each threshold of ``thresholds`` are the proposals, so the set is
   multi-scale and nested. A component's score is its separation: one minus the highest
   affinity joining it to anything else (a component that meets the rest only across concave
   folds, colour edges or removed structure scores high, however late it forms).
   Components under ``min_points`` points or wider than ``max_extent`` are dropped;
   duplicates (IoU > ``dedup_iou``, computed on superpoint weights) keep the higher score.

Defaults are ours, tuned on one real ScanNet scan and on synthetic scenes (docs/proposals.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from folk.data.scene import Proposals
from folk.errors import FolkInputError
from folk.proposals.segment_planes import SegmentPlaneConfig, structure_from_segments


@dataclass(frozen=True)
class SuperpointMergingConfig:
    """Parameters of :func:`superpoint_proposals` (scene units: metres, z up).

    Defaults: tuned on one real ScanNet scan and synthetic scenes (docs/proposals.md).

    thresholds: affinity levels at which components become proposals (high → small parts).
    concave_gain: affinity lost per unit of ``1 − cos`` across a concave junction.
    convex_gain: affinity lost per unit of ``1 − cos`` across a convex junction.
    colour_sigma: colour distance (RGB in [0, 1], Euclidean) that costs ``colour_weight``.
    colour_weight: the most affinity a colour difference can take away.
    boundary_normal_weight: the most affinity a crease along the pair's contacts can take
        away (point normals needed: faces, or ``normals``).
    up_prior_angle: degrees; with oriented point normals and no faces, segments whose normal
        is this close to vertical are turned to face up (0: off).
    small_segment: superpoints with fewer points join neighbours at affinity 1.
    planes: how floor, walls and ceiling are found among the superpoints
        (:mod:`folk.proposals.segment_planes`).
    floor_band: horizontal segments whose centroid is this close to the floor height (1st
        percentile) are structure when larger than ``min_structure_area`` (m², ~ 4σ × 4σ).
    knn / adjacency_radius: the point-cloud adjacency (neighbours per point, metres).
    min_points: smaller proposals are dropped (ScanNet's evaluator ignores them).
    max_extent: components wider than this (metres, horizontal) are not proposed.
    dedup_iou: proposals overlapping more than this keep only the higher-scored one.
    """

    thresholds: tuple[float, ...] = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4, 0.3)
    concave_gain: float = 2.5
    convex_gain: float = 0.05
    colour_sigma: float = 0.25
    colour_weight: float = 0.5
    boundary_normal_weight: float = 0.5
    up_prior_angle: float = 45.0
    small_segment: int = 0
    planes: SegmentPlaneConfig = field(default_factory=SegmentPlaneConfig)
    floor_band: float = 0.1
    min_structure_area: float = 0.5
    knn: int = 8
    adjacency_radius: float = 0.05
    min_points: int = 100
    max_extent: float = 4.0
    dedup_iou: float = 0.9

    def validate(self) -> SuperpointMergingConfig:
        if not self.thresholds or not all(0.0 <= t <= 1.0 for t in self.thresholds):
            raise FolkInputError(f"thresholds must lie in [0, 1], got {self.thresholds}")
        if self.min_points < 1 or self.knn < 1 or self.adjacency_radius <= 0:
            raise FolkInputError("min_points, knn and adjacency_radius must be positive")
        if not 0.0 < self.dedup_iou <= 1.0:
            raise FolkInputError(f"dedup_iou must be in (0, 1], got {self.dedup_iou}")
        for name in ("colour_weight", "boundary_normal_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise FolkInputError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.up_prior_angle <= 90.0:
            raise FolkInputError(f"up_prior_angle must be in [0, 90] degrees, got "
                                 f"{self.up_prior_angle}")
        return self


@dataclass(frozen=True)
class SegmentStats:
    """Per-superpoint geometry: ``count`` (S,), ``centroid`` (S, 3), ``normal`` (S, 3) unit
    and oriented, ``eigenvalues`` (S, 3) ascending, ``colour`` (S, 3) in [0, 1]."""

    count: np.ndarray
    centroid: np.ndarray
    normal: np.ndarray
    eigenvalues: np.ndarray
    colour: np.ndarray


def _check_inputs(points, superpoints, colors, faces):
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or points.shape[0] == 0:
        raise FolkInputError(f"points must be (N, 3) with N > 0, got {points.shape}")
    if not np.isfinite(points).all():
        raise FolkInputError("points contain NaN or inf")
    n = points.shape[0]
    sp = np.asarray(superpoints)
    if sp.shape != (n,) or sp.dtype.kind not in "iu":
        raise FolkInputError(f"superpoints must be ({n},) integers, got {sp.shape} {sp.dtype}")
    if sp.min() < 0:
        raise FolkInputError("superpoint ids must be >= 0")
    _, sp = np.unique(sp, return_inverse=True)
    if colors is not None:
        colors = np.asarray(colors, dtype=np.float64)
        if colors.shape != (n, 3):
            raise FolkInputError(f"colors must be ({n}, 3), got {colors.shape}")
        if colors.max(initial=0.0) > 1.0:
            colors = colors / 255.0
    if faces is not None:
        faces = np.asarray(faces)
        if faces.size == 0:
            faces = None
        elif faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu" \
                or faces.min() < 0 or faces.max() >= n:
            raise FolkInputError(f"faces must be (F, 3) vertex indices in [0, {n})")
    return points, sp.reshape(-1).astype(np.int64), colors, faces


def _check_neighbours(neighbours, n: int, knn: int) -> np.ndarray:
    """``neighbours`` as an ``(n, k ≥ knn)`` integer array of point indices in ``[0, n)``
    (``k`` may be ``n − 1`` when that is smaller)."""
    neighbours = np.asarray(neighbours)
    if neighbours.ndim != 2 or neighbours.shape[0] != n or neighbours.dtype.kind not in "iu" \
            or neighbours.shape[1] < min(knn, n - 1) \
            or (neighbours.size and (neighbours.min() < 0 or neighbours.max() >= n)):
        raise FolkInputError(f"neighbours must be ({n}, k >= {knn}) point indices in [0, {n}), "
                             f"got {neighbours.shape} {neighbours.dtype}")
    return neighbours


def vertex_normals(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(N, 3)`` area-weighted vertex normals of a triangle mesh (zero on isolated
    vertices)."""
    a, b, c = points[faces[:, 0]], points[faces[:, 1]], points[faces[:, 2]]
    face_n = np.cross(b - a, c - a)
    out = np.zeros_like(points)
    for k in range(3):
        out[:, k] = np.bincount(faces.reshape(-1), weights=np.repeat(face_n[:, k], 3),
                                minlength=points.shape[0])
    return out


def segment_stats(points: np.ndarray, sp: np.ndarray, colors: np.ndarray | None,
                  orient: np.ndarray | None) -> SegmentStats:
    """Statistics of every superpoint; ``orient`` (N, 3) or None (see the module doc)."""
    s = int(sp.max()) + 1
    count = np.bincount(sp, minlength=s).astype(np.float64)
    centroid = np.stack([np.bincount(sp, points[:, k], s) for k in range(3)], 1) / count[:, None]
    d = points - centroid[sp]
    cov = np.empty((s, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            cov[:, i, j] = cov[:, j, i] = np.bincount(sp, d[:, i] * d[:, j], s) / count
    eigenvalues, vectors = np.linalg.eigh(cov)
    normal = vectors[:, :, 0]
    if orient is not None:
        ref = np.stack([np.bincount(sp, orient[:, k], s) for k in range(3)], 1)
        flip = np.einsum("ij,ij->i", normal, ref) < 0
        normal[flip] *= -1.0
    if colors is None:
        colour = np.zeros((s, 3))
    else:
        colour = np.stack([np.bincount(sp, colors[:, k], s) for k in range(3)], 1) \
            / count[:, None]
    return SegmentStats(count, centroid, normal, eigenvalues, colour)


def orient_by_neighbours(stats: SegmentStats, pairs: np.ndarray) -> None:
    """Orient unoriented segment normals (in place) away from the count-weighted centroid of
    their adjacent segments: on an object, the neighbours of a face lie on its inner side."""
    s = stats.count.shape[0]
    i, j = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
    w = stats.count[j]
    total = np.bincount(i, w, s)
    mean = np.stack([np.bincount(i, w * stats.centroid[j, k], s) for k in range(3)], 1)
    ref = stats.centroid - mean / np.maximum(total, 1e-12)[:, None]
    ref[total == 0] = (0.0, 0.0, 1.0)
    flip = np.einsum("ij,ij->i", stats.normal, ref) < 0
    stats.normal[flip] *= -1.0


def turn_up(stats: SegmentStats, max_angle: float) -> None:
    """Turn the segment normals within ``max_angle`` degrees of vertical to face up (+z), in
    place."""
    vertical = np.abs(stats.normal[:, 2]) > math.cos(math.radians(max_angle))
    stats.normal[vertical & (stats.normal[:, 2] < 0)] *= -1.0


def mesh_contacts(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pa, pb)``: the two points of every mesh edge (an edge of two faces twice)."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return e[:, 0], e[:, 1]


def knn_contacts(points: np.ndarray, k: int, radius: float,
                 neighbours: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(pa, pb)``: every point and each of its ``k`` nearest neighbours within ``radius``:
    the first ``k`` columns of ``neighbours`` ``(N, ≥k)`` (indices, nearest first, the point
    itself excluded) when given, else a k-d tree query."""
    from scipy.spatial import cKDTree

    k = min(k, points.shape[0] - 1)
    if k < 1:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if neighbours is None:
        _, neighbours = cKDTree(points).query(points, k=k + 1, workers=-1)
        neighbours = neighbours[:, 1:]
    else:
        neighbours = neighbours[:, :k]
    rows = np.broadcast_to(np.arange(points.shape[0])[:, None], neighbours.shape)
    gap = points[rows] - points[neighbours]
    ok = np.einsum("nki,nki->nk", gap, gap) <= radius * radius
    return rows[ok], neighbours[ok]


@dataclass(frozen=True)
class Contacts:
    """The point contacts between different superpoints and the pairs they make: contact
    ``c`` joins points ``pa[c]``, ``pb[c]`` of the superpoint pair ``pairs[pair_index[c]]``;
    ``pairs`` ``(E, 2)`` holds each adjacent pair once, ``i < j``, sorted."""

    pa: np.ndarray
    pb: np.ndarray
    pairs: np.ndarray
    pair_index: np.ndarray

    @classmethod
    def between(cls, sp: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> Contacts:
        keep = sp[pa] != sp[pb]
        pa, pb = pa[keep], pb[keep]
        a, b = sp[pa], sp[pb]
        s = int(sp.max()) + 1
        keys = np.minimum(a, b).astype(np.int64) * s + np.maximum(a, b)
        order = np.argsort(keys, kind="stable")  # a sort: NumPy 2's np.unique hashes, slower
        ordered = keys[order]
        first = np.ones(keys.size, dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        pair_index = np.empty(keys.size, dtype=np.int64)
        pair_index[order] = np.cumsum(first) - 1
        unique = ordered[first]
        return cls(pa, pb, np.stack([unique // s, unique % s], axis=1), pair_index)

    def normal_agreement(self, normals: np.ndarray) -> np.ndarray:
        """``(E,)``: the mean ``|n_p·n_q|`` over each pair's contacts (signs do not matter)."""
        unit = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        dots = np.abs(np.einsum("ij,ij->i", unit[self.pa], unit[self.pb]))
        e = self.pairs.shape[0]
        return np.bincount(self.pair_index, dots, e) \
            / np.maximum(np.bincount(self.pair_index, None, e), 1)


def structure_segments(points: np.ndarray, sp: np.ndarray, stats: SegmentStats,
                       config: SuperpointMergingConfig) -> np.ndarray:
    """``(S,) bool``: the superpoints that are floor, walls or ceiling (module doc, step 2)."""
    structure = structure_from_segments(points, sp, stats.count, stats.centroid, stats.normal,
                                        stats.eigenvalues, config.planes)
    z_low = np.percentile(points[:, 2], 1.0)
    horizontal = np.abs(stats.normal[:, 2]) > math.cos(math.radians(15.0))
    area = 16.0 * np.sqrt(np.maximum(stats.eigenvalues[:, 1] * stats.eigenvalues[:, 2], 0))
    low = stats.centroid[:, 2] < z_low + config.floor_band
    structure |= horizontal & low & (area >= config.min_structure_area)
    return structure


def edge_affinity(pairs: np.ndarray, stats: SegmentStats, config: SuperpointMergingConfig,
                  agreement: np.ndarray | None = None) -> np.ndarray:
    """``(E,)`` affinity in [0, 1] of each adjacent pair (module doc, step 4); ``agreement``
    ``(E,)``: the pairs' boundary normal agreement (:meth:`Contacts.normal_agreement`), or
    None when there are no point normals."""
    i, j = pairs[:, 0], pairs[:, 1]
    ni, nj = stats.normal[i], stats.normal[j]
    cos = np.clip(np.einsum("ij,ij->i", ni, nj), -1.0, 1.0)
    convex = np.einsum("ij,ij->i", ni - nj, stats.centroid[i] - stats.centroid[j]) >= 0
    bend = 1.0 - cos
    geo = np.where(convex, 1.0 - config.convex_gain * bend, 1.0 - config.concave_gain * bend)
    colour_d = np.linalg.norm(stats.colour[i] - stats.colour[j], axis=1)
    colour = config.colour_weight * (1.0 - np.exp(-(colour_d / config.colour_sigma) ** 2))
    aff = np.clip(geo, 0.0, 1.0) * (1.0 - colour)
    if agreement is not None:
        aff = aff * (1.0 - config.boundary_normal_weight * (1.0 - agreement))
    small = np.minimum(stats.count[i], stats.count[j]) < config.small_segment
    return np.where(small, 1.0, aff)


def _find(parent: np.ndarray, x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def merge_hierarchy(num_segments: int, pairs: np.ndarray, affinity: np.ndarray,
                    active: np.ndarray, thresholds: tuple[float, ...]
                    ) -> list[tuple[int, ...]]:
    """The distinct components (sorted superpoint tuples, active segments only) present at
    any of the thresholds, in the order they first appear (highest threshold first)."""
    order = np.argsort(-affinity, kind="stable")
    parent = np.arange(num_segments)
    seen: dict[tuple[int, ...], None] = {}
    e = 0
    members = np.flatnonzero(active)
    if members.size == 0:  # everything is structure (an empty room)
        return []
    for t in sorted(thresholds, reverse=True):
        while e < order.size and affinity[order[e]] >= t:
            a, b = pairs[order[e]]
            ra, rb = _find(parent, int(a)), _find(parent, int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
            e += 1
        roots = np.array([_find(parent, int(m)) for m in members])
        sorter = np.argsort(roots, kind="stable")
        split = np.flatnonzero(np.diff(roots[sorter])) + 1
        for group in np.split(members[sorter], split):
            key = tuple(int(g) for g in group)
            seen.setdefault(key, None)
    return list(seen)


def superpoint_proposals(points, superpoints, *, colors=None, faces=None, normals=None,
                         oriented: bool | None = None, neighbours=None,
                         config: SuperpointMergingConfig | None = None) -> Proposals:
    """Class-agnostic proposals of a scan from its superpoints (see the module doc).

    points: (N, 3); superpoints: (N,) integer ids; colors: (N, 3) in [0, 1] or [0, 255];
    faces: (F, 3) mesh faces (adjacency and normals from the mesh) or None for a point cloud
    (k-NN adjacency); normals: (N, 3) point normals of a point cloud, optional (ignored when
    ``faces`` are given: the mesh's own normals are used), with ``oriented`` saying which
    kind: signed ones (``oriented=True``, e.g. :func:`folk.ops.superpoints.orient_normals`)
    also orient the segments, unsigned ones (``oriented=False``, e.g.
    :func:`folk.ops.superpoints.pca_normals`) weigh only the boundaries (step 4);
    neighbours: (N, k) indices of each point's nearest neighbours, nearest first, itself
    excluded (:func:`folk.ops.superpoints.point_neighbours`), optional: a point cloud's
    adjacency then reuses the first ``config.knn`` columns instead of querying a k-d tree
    (``k`` must be at least ``config.knn``). Scores lie in [0, 1].
    """
    config = (config or SuperpointMergingConfig()).validate()
    points, sp, colors, faces = _check_inputs(points, superpoints, colors, faces)
    n = points.shape[0]
    if faces is not None:
        point_normals = vertex_normals(points, faces)
    elif normals is not None:
        if oriented is None:
            raise FolkInputError("normals given without saying whether they are signed: pass "
                                 "oriented=True (consistently oriented) or oriented=False")
        point_normals = np.asarray(normals, dtype=np.float64)
        if point_normals.shape != (n, 3) or not np.isfinite(point_normals).all():
            raise FolkInputError(f"normals must be finite, ({n}, 3), got {point_normals.shape}")
    else:
        point_normals = None
    orient = point_normals if faces is not None or oriented else None
    stats = segment_stats(points, sp, colors, orient)
    s = stats.count.shape[0]
    structure = structure_segments(points, sp, stats, config)
    if faces is not None:
        contacts = Contacts.between(sp, *mesh_contacts(faces))
    else:
        if neighbours is not None:
            neighbours = _check_neighbours(neighbours, n, config.knn)
        contacts = Contacts.between(
            sp, *knn_contacts(points, config.knn, config.adjacency_radius, neighbours))
    inner = ~structure[contacts.pairs[:, 0]] & ~structure[contacts.pairs[:, 1]]
    pairs = contacts.pairs[inner]
    if orient is None:
        orient_by_neighbours(stats, pairs)
    elif faces is None and config.up_prior_angle > 0:
        turn_up(stats, config.up_prior_angle)
    agreement = None if point_normals is None \
        else contacts.normal_agreement(point_normals)[inner]
    affinity = edge_affinity(pairs, stats, config, agreement)
    components = merge_hierarchy(s, pairs, affinity, ~structure, config.thresholds)
    keys = _filter_components(components, stats, config)
    if not keys:
        return Proposals(np.zeros((n, 0), dtype=bool), np.zeros(0, dtype=np.float32))
    scores = _scores(keys, pairs, affinity, s)
    keep = _dedup(keys, scores, stats.count, config.dedup_iou)
    membership = np.zeros((s, len(keep)), dtype=bool)
    for q, k in enumerate(keep):
        membership[list(keys[k]), q] = True
    return Proposals(membership[sp], scores[keep].astype(np.float32))


def _filter_components(components, stats: SegmentStats, config: SuperpointMergingConfig):
    keys = []
    for key in components:
        idx = np.asarray(key)
        if stats.count[idx].sum() < config.min_points:
            continue
        c = stats.centroid[idx]
        spread = np.sqrt(np.max(stats.eigenvalues[idx, 2])) * 4.0
        extent = max(float(np.ptp(c[:, 0]) if idx.size > 1 else 0.0),
                     float(np.ptp(c[:, 1]) if idx.size > 1 else 0.0), spread)
        if extent > config.max_extent:
            continue
        keys.append(key)
    return keys


def _scores(keys, pairs, affinity, s) -> np.ndarray:
    """Separation of each component: one minus the highest affinity of an edge leaving it
    (1 when it is isolated), so a component whose every boundary edge is weak scores high.

    Persistence (birth minus that affinity) ranked worse on every scene measured: a whole
    object formed at a low threshold is as likely an object as a part formed at a high one
    (docs/proposals.md)."""
    inside = np.zeros(s, dtype=bool)
    death = np.zeros(len(keys))
    for q, key in enumerate(keys):
        inside[:] = False
        inside[list(key)] = True
        leaving = inside[pairs[:, 0]] != inside[pairs[:, 1]]
        if leaving.any():
            death[q] = float(affinity[leaving].max())
    return np.clip(1.0 - death, 0.0, 1.0)


def _dedup(keys, scores, count, iou: float) -> list[int]:
    """Indices of the proposals kept by greedy NMS at ``iou`` (weights: point counts)."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    kept_sets: list[tuple[set[int], float]] = []
    for q in order:
        members = set(keys[q])
        size = float(count[list(members)].sum())
        duplicate = False
        for other, other_size in kept_sets:
            inter = float(count[list(members & other)].sum()) if members & other else 0.0
            if inter and inter / (size + other_size - inter) > iou:
                duplicate = True
                break
        if not duplicate:
            kept.append(int(q))
            kept_sets.append((members, size))
    return kept
