"""Class-agnostic proposals from geometry alone, for scans with no Mask3D output.

1. Structure removal: planes are found one after another by RANSAC (NumPy, seeded: the same
   scan always gives the same planes). A plane is *structure* — floor, ceiling or wall — when
   it is horizontal at the bottom or top of the scene, or vertical and at least
   ``min_wall_height`` × ``min_wall_width`` in extent. Structure inliers are removed unless
   their own normal is far from the plane's (``|cos| < normal_agreement``: surfaces crossing
   the plane, like the legs of a chair standing on the floor or the sides of a box); other
   planes (table tops) are kept and only excluded from the further plane search.
2. Clustering: the remaining points are grouped by connected components of occupied voxels
   (26-neighbourhood) at each voxel size of ``voxel_sizes``; components with fewer than
   ``min_points`` points are dropped. Several voxel sizes give a multi-scale set (duplicates
   removed by NMS at IoU 0.9).

Every proposal scores 1. Defaults are ours, tuned for indoor scans in metres with z up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from folk.data.scene import Proposals, Scene
from folk.errors import FolkInputError
from folk.proposals.nms import DEFAULT_IOU, mask_nms


@dataclass(frozen=True)
class GeometricProposalConfig:
    plane_threshold: float = 0.03  # metres, RANSAC inlier distance
    ransac_iterations: int = 400
    ransac_sample: int = 20000  # points scored per hypothesis
    max_planes: int = 12
    min_plane_fraction: float = 0.02  # a plane needs this fraction of the scene's points
    angle_tolerance_deg: float = 15.0  # horizontal / vertical tolerance
    floor_margin: float = 0.25  # metres above the lowest points still counted as floor
    ceiling_margin: float = 0.3
    min_wall_height: float = 1.2  # metres
    min_wall_width: float = 1.0
    normal_agreement: float = 0.5  # structure inliers with |cos(normal, plane normal)| >= this
    normal_k: int = 16
    voxel_sizes: tuple[float, ...] = (0.05,)
    min_points: int = 100  # the ScanNet evaluator ignores smaller instances
    nms_iou: float = DEFAULT_IOU
    seed: int = 0

    def validate(self) -> GeometricProposalConfig:
        if not self.voxel_sizes or min(self.voxel_sizes) <= 0:
            raise FolkInputError(f"voxel_sizes must be positive, got {self.voxel_sizes}")
        if self.plane_threshold <= 0 or self.ransac_iterations < 1 or self.min_points < 1:
            raise FolkInputError("plane_threshold, ransac_iterations and min_points must be > 0")
        return self


@dataclass(frozen=True)
class Plane:
    normal: np.ndarray  # (3,) unit
    offset: float  # n·p + offset = 0
    inliers: np.ndarray  # indices into the scene's points
    kind: str  # "floor", "ceiling", "wall" or "other"


def _fit_plane(points: np.ndarray, threshold: float, iterations: int, sample: int,
               rng: np.random.Generator) -> tuple[np.ndarray, float] | None:
    n = points.shape[0]
    if n < 3:
        return None
    sub = points[rng.choice(n, size=min(n, sample), replace=False)]
    tri = rng.integers(0, sub.shape[0], size=(iterations, 3))
    a, b, c = sub[tri[:, 0]], sub[tri[:, 1]], sub[tri[:, 2]]
    normals = np.cross(b - a, c - a)
    norm = np.linalg.norm(normals, axis=1)
    ok = norm > 1e-9
    if not ok.any():
        return None
    normals = normals[ok] / norm[ok, None]
    offsets = -np.einsum("ij,ij->i", normals, a[ok])
    best, best_count = 0, -1
    for start in range(0, normals.shape[0], 64):
        dist = np.abs(sub @ normals[start:start + 64].T + offsets[start:start + 64])
        counts = (dist < threshold).sum(axis=0)
        i = int(np.argmax(counts))
        if counts[i] > best_count:
            best, best_count = start + i, int(counts[i])
    normal, offset = normals[best], float(offsets[best])
    # Least-squares refinement on the inliers among all points.
    inl = points[np.abs(points @ normal + offset) < threshold]
    if inl.shape[0] >= 3:
        centre = inl.mean(axis=0)
        _, _, vt = np.linalg.svd(inl - centre, full_matrices=False)
        normal = vt[2] / np.linalg.norm(vt[2])
        offset = -float(normal @ centre)
    return normal, offset


def _classify(points: np.ndarray, normal: np.ndarray, z_low: float, z_high: float,
              config: GeometricProposalConfig) -> str:
    tol = math.radians(config.angle_tolerance_deg)
    nz = abs(float(normal[2]))
    if nz >= math.cos(tol):
        z = float(np.median(points[:, 2]))
        if z <= z_low + config.floor_margin:
            return "floor"
        if z >= z_high - config.ceiling_margin:
            return "ceiling"
        return "other"
    if nz <= math.sin(tol):
        horizontal = np.array([-normal[1], normal[0], 0.0])
        horizontal /= max(np.linalg.norm(horizontal), 1e-12)
        along = points @ horizontal
        width = np.percentile(along, 99) - np.percentile(along, 1)
        height = np.percentile(points[:, 2], 99) - np.percentile(points[:, 2], 1)
        if height >= config.min_wall_height and width >= config.min_wall_width:
            return "wall"
    return "other"


def find_structure(points: np.ndarray, normals: np.ndarray | None = None,
                   config: GeometricProposalConfig | None = None) -> list[Plane]:
    """The large planes of a scan, in the order found, each classified (see module doc)."""
    config = (config or GeometricProposalConfig()).validate()
    points = np.asarray(points, dtype=np.float64)
    rng = np.random.default_rng(config.seed)
    z_low, z_high = np.percentile(points[:, 2], [1.0, 99.0])
    min_support = max(3, int(config.min_plane_fraction * points.shape[0]))
    searchable = np.ones(points.shape[0], dtype=bool)
    planes: list[Plane] = []
    for _ in range(config.max_planes):
        candidates = np.flatnonzero(searchable)
        if candidates.size < min_support:
            break
        fit = _fit_plane(points[candidates], config.plane_threshold, config.ransac_iterations,
                         config.ransac_sample, rng)
        if fit is None:
            break
        normal, offset = fit
        near = candidates[np.abs(points[candidates] @ normal + offset) < config.plane_threshold]
        if near.size < min_support:
            break
        kind = _classify(points[near], normal, float(z_low), float(z_high), config)
        inliers = near
        if kind != "other" and normals is not None:
            agree = np.abs(normals[near] @ normal) >= config.normal_agreement
            inliers = near[agree]
        planes.append(Plane(normal, offset, inliers, kind))
        searchable[near] = False
    return planes


def voxel_components(points: np.ndarray, voxel_size: float) -> np.ndarray:
    """``(N,) int64`` component id of each point: points in the same or 26-adjacent occupied
    voxels share a component. Ids are numbered in order of the lowest voxel key."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    points = np.asarray(points, dtype=np.float64)
    if points.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    coords = np.floor((points - points.min(axis=0)) / voxel_size).astype(np.int64) + 1
    dims = coords.max(axis=0) + 2
    lin = (coords[:, 0] * dims[1] + coords[:, 1]) * dims[2] + coords[:, 2]
    keys, inverse = np.unique(lin, return_inverse=True)
    vc = np.stack([keys // (dims[1] * dims[2]), (keys // dims[2]) % dims[1], keys % dims[2]], 1)
    src, dst = [np.arange(keys.size)], [np.arange(keys.size)]
    offsets = [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)
               if (dx, dy, dz) > (0, 0, 0)]
    for off in offsets:
        nb = vc + np.array(off)
        nb_lin = (nb[:, 0] * dims[1] + nb[:, 1]) * dims[2] + nb[:, 2]
        pos = np.searchsorted(keys, nb_lin)
        pos_c = np.minimum(pos, keys.size - 1)
        hit = keys[pos_c] == nb_lin
        src.append(np.flatnonzero(hit))
        dst.append(pos_c[hit])
    s, d = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(s.size, dtype=np.int8), (s, d)), shape=(keys.size, keys.size))
    _, labels = connected_components(graph, directed=False)
    return labels[inverse.reshape(-1)].astype(np.int64)


def geometric_proposals(scene: Scene | np.ndarray,
                        config: GeometricProposalConfig | None = None) -> Proposals:
    """Class-agnostic proposals of a scan (a :class:`Scene` or ``(N, 3)`` points)."""
    from folk.features.geometric import local_shape

    config = (config or GeometricProposalConfig()).validate()
    points = scene.points if isinstance(scene, Scene) else np.asarray(scene, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 3 or points.shape[0] == 0:
        raise FolkInputError(f"points must be (N, 3) with N > 0, got {points.shape}")
    n = points.shape[0]
    normals = local_shape(points, config.normal_k).normals
    structure = np.zeros(n, dtype=bool)
    for plane in find_structure(points, normals, config):
        if plane.kind != "other":
            structure[plane.inliers] = True
    rest = np.flatnonzero(~structure)
    columns = []
    for voxel in config.voxel_sizes:
        labels = voxel_components(points[rest], voxel)
        counts = np.bincount(labels)
        for comp in np.flatnonzero(counts >= config.min_points):
            columns.append(rest[labels == comp])
    masks = np.zeros((n, len(columns)), dtype=bool)
    for q, idx in enumerate(columns):
        masks[idx, q] = True
    scores = np.ones(len(columns), dtype=np.float32)
    if len(config.voxel_sizes) > 1 and columns:
        keep = np.sort(mask_nms(masks, scores, config.nms_iou))
        masks, scores = masks[:, keep], scores[keep]
    return Proposals(masks, scores)
