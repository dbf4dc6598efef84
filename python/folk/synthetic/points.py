"""The scene's point set: area-weighted uniform samples of every surface, each carrying its
instance, then with the samples that no camera could ever see removed (support surface under a
solid base; parts of a plant's foliage buried inside another blob)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folk.synthetic.config import SceneConfig
from folk.synthetic.layout import Layout
from folk.synthetic.render import SceneGeometry, surface_color


@dataclass
class PointSet:
    points: np.ndarray  # (N, 3) float32
    normals: np.ndarray  # (N, 3) float32
    colors: np.ndarray  # (N, 3) uint8
    instance: np.ndarray  # (N,) int64 instance index
    gt: np.ndarray  # (N,) int64 label_id * 1000 + instance + 1


def _inside_quad(xy: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Points strictly inside a convex quadrilateral given counter-clockwise."""
    inside = np.ones(len(xy), dtype=bool)
    for k in range(4):
        a, b = corners[k], corners[(k + 1) % 4]
        cross = (b[0] - a[0]) * (xy[:, 1] - a[1]) - (b[1] - a[1]) * (xy[:, 0] - a[0])
        inside &= cross > 0
    return inside


def _buried(geom: SceneGeometry, placed, tri: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Samples of an object lying inside another ellipsoid part of the same object."""
    ells = placed.model.mesh.ellipsoids if placed.model is not None else []
    out = np.zeros(len(tri), dtype=bool)
    if len(ells) < 2:
        return out
    local = np.einsum("nk,nki->ni", bary, geom.local_vertices[geom.triangles[tri]])
    own = tri - geom.inst_first_tri[placed.index]
    for c, r, a, b in ells:
        inside = (((local - c) / r) ** 2).sum(axis=1) < 0.97
        out |= inside & ((own < a) | (own >= b))
    return out


def sample_points(geom: SceneGeometry, layout: Layout, cfg: SceneConfig,
                  rng: np.random.Generator) -> PointSet:
    """Area-weighted samples: ``object_density`` points per m^2 on objects (at least
    ``min_object_points`` each), ``structure_density`` on walls and floor."""
    tri_all, bary_all = [], []
    last = np.append(geom.inst_first_tri[1:], len(geom.triangles))
    for placed in layout.instances:
        k = placed.index
        lo, hi = int(geom.inst_first_tri[k]), int(last[k])
        area = geom.tri_area[lo:hi]
        total = float(area.sum())
        if total <= 0:
            continue
        if placed.is_object:
            n = max(round(total * cfg.object_density), cfg.min_object_points)
        else:
            n = round(total * cfg.structure_density)
        tris, barys, have = [], [], 0
        for _ in range(4):  # top up when buried samples were dropped
            tri = lo + rng.choice(hi - lo, size=n, p=area / total)
            r1, r2 = rng.random(n), rng.random(n)
            sq = np.sqrt(r1)
            bary = np.stack([1 - sq, sq * (1 - r2), sq * r2], axis=1)
            keep = ~_buried(geom, placed, tri, bary)
            tris.append(tri[keep])
            barys.append(bary[keep])
            have += int(keep.sum())
            if not placed.is_object or have >= cfg.min_object_points or not keep.any():
                break
            n = int(np.ceil((cfg.min_object_points - have) / keep.mean() * 1.2))
        tri_all += tris
        bary_all += barys
    tri = np.concatenate(tri_all)
    bary = np.concatenate(bary_all)
    corners = geom.vertices[geom.triangles[tri]]  # (N, 3, 3)
    points = np.einsum("nk,nki->ni", bary, corners)
    inst = geom.tri_instance[tri].astype(np.int64)
    normals = geom.tri_normal[tri]

    # the support's samples under a solid base are hidden
    keep = np.ones(len(points), dtype=bool)
    for p in layout.objects:
        if not p.bases:
            continue
        near = (np.abs(points[:, 2] - p.base_z) < 0.01) & (normals[:, 2] > 0.9)
        near &= inst != p.index
        idx = np.flatnonzero(near)
        for rect in p.bases:
            if len(idx):
                keep[idx[_inside_quad(points[idx, :2], rect)]] = False

    # the wall's samples right behind furniture standing against it are hidden
    wall = np.flatnonzero(~geom.inst_is_object[inst] & (np.abs(normals[:, 2]) < 0.1))
    for p in layout.objects:
        if not p.model.backs or p.support is not None or not len(wall):
            continue
        local = (points[wall] - p.translation) @ p.rotation  # world -> object frame
        hy = p.model.half[1]
        near = (local[:, 1] > hy - 0.005) & (local[:, 1] < hy + 0.1)
        for x0, x1, z0, z1 in p.model.backs:
            hidden = near & (local[:, 0] > x0) & (local[:, 0] < x1) & (local[:, 2] > z0) & (
                local[:, 2] < z1)
            keep[wall[hidden]] = False

    order = np.flatnonzero(keep)[rng.permutation(int(keep.sum()))]
    points, normals, tri, inst, bary = (a[order] for a in (points, normals, tri, inst, bary))
    colors = np.clip(np.rint(surface_color(geom, tri, bary[:, 1].astype(np.float32),
                                           bary[:, 2].astype(np.float32))), 0,
                     255).astype(np.uint8)
    gt = geom.inst_label[inst] * 1000 + inst + 1
    return PointSet(points.astype(np.float32), normals.astype(np.float32), colors, inst, gt)
