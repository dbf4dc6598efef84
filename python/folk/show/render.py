"""A point-splatting z-buffer renderer in NumPy: no display, no GPU, no OpenGL.

Cameras follow folk's convention (:mod:`folk.data.scene`): camera x right, y down, z forward,
pinhole intrinsics. Every point is drawn as a disc of ``radius`` pixels at its projected pixel
``(⌊u⌋, ⌊v⌋)``; where discs overlap, the point nearest the camera wins (a per-pixel z-test, done
by sorting). With normals, points facing away from the camera are culled (a room seen from
outside shows its far walls and floor, not the near walls in front) and lit by a headlight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folk.data.scene import Intrinsics
from folk.errors import FolkInputError

#: Background of rendered pictures (white).
BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: ``rotation`` (3, 3) world-to-camera (rows: right, down, forward),
    ``eye`` (3,) its position in the world, and the intrinsics of its image (pixels)."""

    rotation: np.ndarray
    eye: np.ndarray
    intrinsics: Intrinsics

    @property
    def width(self) -> int:
        return self.intrinsics.width

    @property
    def height(self) -> int:
        return self.intrinsics.height

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """``(N, 3)`` world points in camera coordinates."""
        return (np.asarray(points, np.float64) - self.eye) @ self.rotation.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(u, v, z)`` of world points: pixel coordinates (not rounded) and depth."""
        c = self.to_camera(points)
        z = c[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            k = self.intrinsics
            u = k.fx * c[:, 0] / z + k.cx
            v = k.fy * c[:, 1] / z + k.cy
        return u, v, z


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """World-to-camera rotation of a camera at ``eye`` looking at ``target``, ``up`` pointing
    up in the image (rows: right, down, forward)."""
    forward = np.asarray(target, np.float64) - np.asarray(eye, np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, np.float64))
    if np.linalg.norm(right) < 1e-9:
        raise FolkInputError("look_at: the up direction is parallel to the view direction")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def framed_camera(rotation: np.ndarray, points: np.ndarray, width: int, height: int,
                  *, distance: float = 2.5, margin: float = 0.04) -> Camera:
    """A camera with ``rotation`` looking at the centre of ``points``' bounding box from
    ``distance`` × its diagonal, its focal length and principal point chosen so that the whole
    box fills the ``width`` × ``height`` image less ``margin`` on each side."""
    if width < 8 or height < 8:
        raise FolkInputError(f"picture size must be at least 8 x 8 pixels, got {width} x {height}")
    lo, hi = points.min(axis=0).astype(np.float64), points.max(axis=0).astype(np.float64)
    centre = (lo + hi) / 2
    diagonal = max(float(np.linalg.norm(hi - lo)), 1e-6)
    eye = centre - rotation[2] * distance * diagonal
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])
    c = (corners - eye) @ rotation.T
    x, y = c[:, 0] / c[:, 2], c[:, 1] / c[:, 2]
    span_x, span_y = max(np.ptp(x), 1e-9), max(np.ptp(y), 1e-9)
    f = min(width * (1 - 2 * margin) / span_x, height * (1 - 2 * margin) / span_y)
    cx = width / 2 - f * (x.min() + x.max()) / 2
    cy = height / 2 - f * (y.min() + y.max()) / 2
    return Camera(rotation, eye, Intrinsics(f, f, cx, cy, int(width), int(height)))


def top_down_camera(points: np.ndarray, width: int, height: int) -> Camera:
    """Looking straight down (−z), +x to the right and +y up in the picture, like a map."""
    rotation = look_at(np.array([0.0, 0.0, 1.0]), np.zeros(3), np.array([0.0, 1.0, 0.0]))
    return framed_camera(rotation, points, width, height)


def oblique_camera(points: np.ndarray, width: int, height: int, *, azimuth_deg: float = -60.0,
                   elevation_deg: float = 50.0) -> Camera:
    """Looking down at ``elevation_deg`` from the direction ``azimuth_deg`` (around +z, from
    +x), z up in the picture."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    offset = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    rotation = look_at(offset, np.zeros(3), np.array([0.0, 0.0, 1.0]))
    return framed_camera(rotation, points, width, height)


#: A point's splat radius is this fraction of its :func:`point_spacing` (projected).
SPACING_TO_RADIUS = 0.8
#: The largest splat radius, pixels.
MAX_RADIUS = 10


def point_spacing(points: np.ndarray, neighbours: int = 4) -> np.ndarray:
    """``(N,)`` distance from each point to its ``neighbours``-th nearest point (metres): how
    far apart the points are where it lies (a sparsely sampled floor, a dense chair)."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, np.float64)
    if points.shape[0] <= neighbours:
        return np.full(points.shape[0], 1e-3)
    distances, _ = cKDTree(points).query(points, k=neighbours + 1)
    return distances[:, -1]


def _disc(r: int) -> list[tuple[int, int]]:
    return [(dx, dy) for dy in range(-r, r + 1) for dx in range(-r, r + 1)
            if dx * dx + dy * dy <= r * r + r]


@dataclass(frozen=True)
class Rendering:
    """A rendered picture: ``image`` (H, W, 3) uint8 and ``index`` (H, W) int64, the point
    seen at each pixel (−1: background)."""

    image: np.ndarray
    index: np.ndarray


def auto_radius(camera: Camera, points: np.ndarray) -> int:
    """A splat radius (pixels) that closes the gaps between neighbouring points: the side of
    the picture area each point would cover if the points filled their bounding box's image."""
    u, v, z = camera.project(points)
    ok = z > 0
    if ok.sum() < 2:
        return 1
    area = max(np.ptp(u[ok]) * np.ptp(v[ok]), 1.0)
    return int(np.clip(np.ceil(np.sqrt(area / ok.sum())), 1, 8))


def render_points(camera: Camera, points: np.ndarray, colors: np.ndarray, *,
                  normals: np.ndarray | None = None, radius: int | None = None,
                  spacing: np.ndarray | None = None,
                  background: tuple[int, int, int] = BACKGROUND,
                  fill_holes: int = 4) -> Rendering:
    """Splat ``points`` ``(N, 3)`` with ``colors`` ``(N, 3) uint8`` into ``camera``'s image.

    Each point covers the pixels within ``radius`` of its pixel (default :func:`auto_radius`),
    or, given ``spacing`` (N,) (:func:`point_spacing`, metres), a disc as large as the gap to
    its neighbours at its depth; per pixel the point with the smallest camera depth wins.
    With ``normals`` ``(N, 3)``, points facing away from the camera are not drawn and the
    rest are shaded by the angle between normal and view ray (a headlight). Then
    ``fill_holes`` passes of :func:`fill_hole_pass` close what gaps remain."""
    points = np.asarray(points, np.float64)
    colors = np.asarray(colors)
    if points.ndim != 2 or points.shape[1] != 3 or colors.shape != points.shape:
        raise FolkInputError(f"render_points: points {points.shape} and colours "
                             f"{colors.shape} must both be (N, 3)")
    w, h = camera.width, camera.height
    image = np.empty((h, w, 3), np.uint8)
    image[:] = background
    index = np.full((h, w), -1, np.int64)
    u, v, z = camera.project(points)
    keep = (z > 1e-6) & np.isfinite(u) & np.isfinite(v)
    shade = np.ones(points.shape[0])
    if normals is not None:
        n = np.asarray(normals, np.float64)
        rays = points - camera.eye
        rays /= np.maximum(np.linalg.norm(rays, axis=1, keepdims=True), 1e-12)
        facing = -(n * rays).sum(axis=1)
        keep &= facing > -0.05
        shade = 0.6 + 0.4 * np.clip(np.abs(facing), 0, 1)
    ids = np.flatnonzero(keep)
    if ids.size == 0:
        return Rendering(image, index)
    px, py, depth = np.floor(u[ids]).astype(np.int64), np.floor(v[ids]).astype(np.int64), z[ids]
    if spacing is not None:
        world = SPACING_TO_RADIUS * np.asarray(spacing, np.float64)[ids]
        radii = np.clip(np.ceil(camera.intrinsics.fx * world / depth), 1, MAX_RADIUS).astype(np.int64)
    else:
        r = radius if radius is not None else auto_radius(camera, points[ids])
        radii = np.full(ids.size, r, np.int64)
    cells, owners, depths = [], [], []
    for r in np.unique(radii):
        group = radii == r
        for dx, dy in _disc(int(r)):
            x, y = px[group] + dx, py[group] + dy
            inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            cells.append(y[inside] * w + x[inside])
            owners.append(ids[group][inside])
            depths.append(depth[group][inside])
    cell, owner, dep = (np.concatenate(a) for a in (cells, owners, depths))
    order = np.lexsort((dep, cell))  # by pixel, then nearest first
    cell, owner, dep = cell[order], owner[order], dep[order]
    first = np.ones(cell.size, bool)
    first[1:] = cell[1:] != cell[:-1]
    cell, owner = cell[first], owner[first]
    zbuffer = np.full(h * w, np.inf)
    zbuffer[cell] = dep[first]
    index.reshape(-1)[cell] = owner
    for _ in range(fill_holes):
        if not fill_hole_pass(index, zbuffer.reshape(h, w)):
            break
    seen = index.reshape(-1) >= 0
    owner = index.reshape(-1)[seen]
    lit = np.clip(colors[owner].astype(np.float64) * shade[owner, None], 0, 255)
    image.reshape(-1, 3)[seen] = lit.astype(np.uint8)
    return Rendering(image, index)


#: A background pixel with at least this many drawn pixels among its 8 neighbours is a hole.
HOLE_NEIGHBOURS = 5


def fill_hole_pass(index: np.ndarray, zbuffer: np.ndarray) -> int:
    """One pass of hole filling, in place: every background pixel of ``index`` (H, W) with at
    least :data:`HOLE_NEIGHBOURS` drawn neighbours takes the point of its nearest (smallest
    ``zbuffer``) neighbour. Silhouettes barely grow (a pixel outside an edge has at most 3–5
    drawn neighbours); gaps inside surfaces close. Returns the pixels filled."""
    h, w = index.shape
    pad_i = np.pad(index, 1, constant_values=-1)
    pad_z = np.pad(zbuffer, 1, constant_values=np.inf)
    count = np.zeros((h, w), np.int64)
    best_z = np.full((h, w), np.inf)
    best_i = np.full((h, w), -1, np.int64)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            ni = pad_i[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            nz = pad_z[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            count += ni >= 0
            nearer = nz < best_z
            best_z = np.where(nearer, nz, best_z)
            best_i = np.where(nearer, ni, best_i)
    holes = (index < 0) & (count >= HOLE_NEIGHBOURS)
    index[holes] = best_i[holes]
    zbuffer[holes] = best_z[holes]
    return int(holes.sum())
