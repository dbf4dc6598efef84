"""Geometric per-point features: what a scan without a learned 3D backbone still offers.

Per point, in this order (:data:`FEATURE_NAMES`; 46 values with FPFH, 13 without):

- colour ``r, g, b`` in [0, 1];
- ``|nx|, |ny|, |nz|`` of the normal of the k-NN covariance (sign-free: scans seldom orient
  normals consistently);
- ``height`` above the floor in metres, the floor being a low percentile of z (z is up, as in
  ScanNet and Replica);
- eigenvalue features of the k-NN covariance (λ1 ≥ λ2 ≥ λ3, e_i = λ_i / Σλ): linearity
  (λ1−λ2)/λ1, planarity (λ2−λ3)/λ1, scattering λ3/λ1, omnivariance (e1·e2·e3)^(1/3),
  eigenentropy −Σ e_i ln e_i / ln 3, change of curvature e3;
- optionally the 33 FPFH bins of Open3D (Rusu et al. 2009), each of the three 11-bin
  sub-histograms scaled to sum 1.

Every value is deterministic for a given point set and config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folk.data.scene import PointFeatures, Scene
from folk.errors import FolkInputError

BASE_FEATURE_NAMES: tuple[str, ...] = (
    "r", "g", "b", "abs_nx", "abs_ny", "abs_nz", "height",
    "linearity", "planarity", "scattering", "omnivariance", "eigenentropy", "curvature",
)
FPFH_FEATURE_NAMES: tuple[str, ...] = tuple(f"fpfh_{i}" for i in range(33))
FEATURE_NAMES: tuple[str, ...] = BASE_FEATURE_NAMES + FPFH_FEATURE_NAMES


@dataclass(frozen=True)
class GeometricFeatureConfig:
    """Defaults are ours (the paper uses Mask3D features instead)."""

    k: int = 16  # neighbours of the covariance (the point itself included)
    floor_percentile: float = 1.0  # floor height = this percentile of z
    fpfh: bool = True
    fpfh_radius: float = 0.10  # metres
    fpfh_max_nn: int = 30

    @property
    def dim(self) -> int:
        return len(BASE_FEATURE_NAMES) + (len(FPFH_FEATURE_NAMES) if self.fpfh else 0)

    @property
    def names(self) -> tuple[str, ...]:
        return FEATURE_NAMES if self.fpfh else BASE_FEATURE_NAMES


@dataclass(frozen=True)
class LocalShape:
    """k-NN covariance per point: unit normals ``(N, 3)`` (eigenvector of the smallest
    eigenvalue, sign arbitrary) and eigenvalues ``(N, 3)`` in descending order."""

    normals: np.ndarray
    eigenvalues: np.ndarray


def local_shape(points: np.ndarray, k: int = 16, chunk: int = 32768) -> LocalShape:
    """Eigen-decomposition of each point's k-nearest-neighbour covariance."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    n = points.shape[0]
    if points.ndim != 2 or points.shape[1] != 3 or n == 0:
        raise FolkInputError(f"points must be (N, 3) with N > 0, got {points.shape}")
    k = int(min(max(k, 1), n))
    tree = cKDTree(points)
    normals = np.empty((n, 3), dtype=np.float32)
    eigenvalues = np.empty((n, 3), dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        _, idx = tree.query(points[start:stop], k=k)
        idx = np.asarray(idx).reshape(stop - start, k)
        nb = points[idx]  # (B, k, 3)
        nb -= nb.mean(axis=1, keepdims=True)
        cov = np.einsum("bki,bkj->bij", nb, nb) / k
        w, v = np.linalg.eigh(cov)  # ascending
        eigenvalues[start:stop] = np.clip(w[:, ::-1], 0.0, None)
        normals[start:stop] = v[:, :, 0]
    return LocalShape(normals, eigenvalues)


def eigen_features(eigenvalues: np.ndarray) -> np.ndarray:
    """``(N, 6)`` linearity, planarity, scattering, omnivariance, eigenentropy, curvature from
    descending eigenvalues ``(N, 3)``; all in [0, 1], zero for degenerate neighbourhoods."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    l1, l2, l3 = lam[:, 0], lam[:, 1], lam[:, 2]
    total = lam.sum(axis=1)
    ok = l1 > 1e-12
    safe1 = np.where(ok, l1, 1.0)
    safe_total = np.where(ok, total, 1.0)
    e = lam / safe_total[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(e > 0, e * np.log(np.where(e > 0, e, 1.0)), 0.0).sum(axis=1)
    out = np.stack([
        (l1 - l2) / safe1, (l2 - l3) / safe1, l3 / safe1,
        np.cbrt(np.clip(e.prod(axis=1), 0.0, None)), entropy / np.log(3.0), e[:, 2],
    ], axis=1)
    out[~ok] = 0.0
    return np.clip(out, 0.0, 1.0)


def floor_height(points: np.ndarray, percentile: float = 1.0) -> float:
    """Height of the floor: a low percentile of z (robust to a few stray points below it)."""
    return float(np.percentile(np.asarray(points)[:, 2], percentile))


def fpfh_features(points: np.ndarray, normals: np.ndarray, radius: float, max_nn: int,
                  ) -> np.ndarray:
    """``(N, 33)`` Open3D FPFH descriptors, each of the three 11-bin sub-histograms scaled to
    sum 1 (0 for a point without neighbours). ``normals`` are oriented towards the centre of
    the point set's bounding box first, so the descriptor sees a consistent side."""
    import open3d as o3d

    points = np.asarray(points, dtype=np.float64)
    normals = np.asarray(normals, dtype=np.float64).copy()
    centre = 0.5 * (points.min(axis=0) + points.max(axis=0))
    flip = np.einsum("ij,ij->i", normals, centre - points) < 0
    normals[flip] *= -1.0
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    pcd.normals = o3d.utility.Vector3dVector(normals)
    feature = o3d.pipelines.registration.compute_fpfh_feature(
        pcd, o3d.geometry.KDTreeSearchParamHybrid(radius=float(radius), max_nn=int(max_nn)))
    hist = np.asarray(feature.data).T.reshape(-1, 3, 11)
    sums = hist.sum(axis=2, keepdims=True)
    hist = np.divide(hist, sums, out=np.zeros_like(hist), where=sums > 0)
    return hist.reshape(-1, 33).astype(np.float32)


def geometric_features(scene: Scene, config: GeometricFeatureConfig | None = None,
                       ) -> PointFeatures:
    """``(N, config.dim)`` geometric features of ``scene`` (see the module docstring)."""
    config = config or GeometricFeatureConfig()
    points = scene.points.astype(np.float64)
    shape = local_shape(points, config.k)
    colour = scene.colors.astype(np.float32) / 255.0
    height = (points[:, 2] - floor_height(points, config.floor_percentile))[:, None]
    parts = [colour, np.abs(shape.normals), height.astype(np.float32),
             eigen_features(shape.eigenvalues).astype(np.float32)]
    if config.fpfh:
        parts.append(fpfh_features(points, shape.normals, config.fpfh_radius,
                                   config.fpfh_max_nn))
    features = np.concatenate(parts, axis=1).astype(np.float32)
    if not np.isfinite(features).all():  # cannot happen for finite points; guard the seam
        raise FolkInputError(f"scene {scene.name}: geometric features are not finite")
    return PointFeatures(features)
