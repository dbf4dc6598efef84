"""Shape grammars: one function per class builds an object from primitives (boxes, cylinders,
frusta, cones, ellipsoids made with ``open3d.geometry.TriangleMesh.create_*``), with its own
size ranges, colour family and procedural texture.

Every model is built in its local frame: z up, the footprint centred on the origin, the base on
z = 0, the front facing -y (so a model's back goes against a wall). Faces that can never be
seen (the bottom of a part that rests on something) are left out, so that neither the
renderer nor the point sampler ever puts anything there.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import open3d as o3d

# Procedural texture kinds (see ``render.pattern``).
PLAIN, STRIPES, CHECKER, WOOD, NOISE, DOTS, RIBS, PLANKS, WEAVE = range(9)
TEXTURE_NAMES = ("plain", "stripes", "checker", "wood", "noise", "dots", "ribs", "planks",
                 "weave")

_DIRS = {"-x": (-1, 0, 0), "+x": (1, 0, 0), "-y": (0, -1, 0), "+y": (0, 1, 0),
         "-z": (0, 0, -1), "+z": (0, 0, 1)}


# --------------------------------------------------------------------------- meshes
@dataclass
class Mesh:
    """A triangle soup with a base colour (albedo, 0..1) and a texture weight per triangle.
    ``ellipsoids`` remembers (centre, radii, first triangle, end triangle) of each ellipsoid
    part, so that samples of other parts buried inside it can be dropped."""

    vertices: np.ndarray  # (V, 3) float64
    triangles: np.ndarray  # (T, 3) int64
    colors: np.ndarray  # (T, 3) float64
    texw: np.ndarray  # (T,) float64
    ellipsoids: list[tuple[np.ndarray, np.ndarray, int, int]] = field(default_factory=list)

    @staticmethod
    def merge(parts: list[Mesh]) -> Mesh:
        v, t, c, w, ell = [], [], [], [], []
        nv = nt = 0
        for p in parts:
            v.append(p.vertices)
            t.append(p.triangles + nv)
            c.append(p.colors)
            w.append(p.texw)
            ell += [(cen, rad, a + nt, b + nt) for cen, rad, a, b in p.ellipsoids]
            nv += len(p.vertices)
            nt += len(p.triangles)
        return Mesh(np.concatenate(v), np.concatenate(t), np.concatenate(c),
                    np.concatenate(w), ell)

    def translated(self, offset) -> Mesh:
        offset = np.asarray(offset, dtype=np.float64)
        return Mesh(self.vertices + offset, self.triangles, self.colors, self.texw,
                    [(c + offset, r, a, b) for c, r, a, b in self.ellipsoids])


def face_normals(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals and areas of the triangles."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    cross = np.cross(b - a, c - a)
    norm = np.linalg.norm(cross, axis=1)
    return cross / np.maximum(norm, 1e-12)[:, None], 0.5 * norm


def _from_o3d(m: o3d.geometry.TriangleMesh, color, texw: float, drop=()) -> Mesh:
    v = np.asarray(m.vertices, dtype=np.float64).copy()
    t = np.asarray(m.triangles, dtype=np.int64).copy()
    return _finish(v, t, color, texw, drop)


def _finish(v: np.ndarray, t: np.ndarray, color, texw: float, drop=()) -> Mesh:
    if drop:
        n, _ = face_normals(v, t)
        keep = np.ones(len(t), dtype=bool)
        for d in drop:
            keep &= n @ np.asarray(_DIRS[d], dtype=np.float64) < 0.999
        t = t[keep]
    color = np.clip(np.asarray(color, dtype=np.float64), 0.0, 1.0)
    return Mesh(v, t, np.tile(color, (len(t), 1)), np.full(len(t), float(texw)))


def box(lo, hi, color, texw: float = 1.0, drop=()) -> Mesh:
    """Axis-aligned box from corner ``lo`` to corner ``hi``."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    size = np.maximum(hi - lo, 1e-4)
    m = o3d.geometry.TriangleMesh.create_box(*size)
    return _from_o3d(m.translate(lo), color, texw, drop)


def cylinder(cx, cy, z0, z1, r, color, texw: float = 1.0, res: int = 24, drop=(),
             sy: float = 1.0) -> Mesh:
    """Vertical cylinder (elliptic with ``sy`` != 1) from z0 to z1."""
    m = o3d.geometry.TriangleMesh.create_cylinder(radius=r, height=max(z1 - z0, 1e-4),
                                                  resolution=res, split=1)
    v = np.asarray(m.vertices, dtype=np.float64).copy()
    v[:, 1] *= sy
    v += (cx, cy, 0.5 * (z0 + z1))
    return _finish(v, np.asarray(m.triangles, dtype=np.int64).copy(), color, texw, drop)


def cone(cx, cy, z0, z1, r, color, texw: float = 1.0, res: int = 24, drop=()) -> Mesh:
    """Upright cone, base (radius r) at z0, tip at z1."""
    m = o3d.geometry.TriangleMesh.create_cone(radius=r, height=max(z1 - z0, 1e-4),
                                              resolution=res, split=1)
    return _from_o3d(m.translate((cx, cy, z0)), color, texw, drop)


def frustum(cx, cy, z0, z1, r0, r1, color, texw: float = 1.0, res: int = 24,
            caps=(True, True), sy: float = 1.0, cap_color=None) -> Mesh:
    """Truncated cone (radius r0 at z0, r1 at z1); ``caps`` = (bottom, top) closed or open."""
    ang = 2 * np.pi * np.arange(res) / res
    ring = np.stack([np.cos(ang), sy * np.sin(ang)], axis=1)
    v = np.concatenate([np.column_stack([r0 * ring, np.full(res, z0)]),
                        np.column_stack([r1 * ring, np.full(res, z1)])])
    i = np.arange(res)
    j = (i + 1) % res
    tris = [np.stack([i, j, j + res], 1), np.stack([i, j + res, i + res], 1)]
    side = _finish(v + (cx, cy, 0), np.concatenate(tris), color, texw)
    parts = [side]
    cap_color = color if cap_color is None else cap_color
    for k, (closed, z, r) in enumerate(((caps[0], z0, r0), (caps[1], z1, r1))):
        if not closed:
            continue
        cv = np.concatenate([np.column_stack([r * ring, np.full(res, z)]), [[0.0, 0.0, z]]])
        c = res
        ct = np.stack([j, i, np.full(res, c)], 1) if k == 0 else np.stack([i, j, np.full(res, c)], 1)
        parts.append(_finish(cv + (cx, cy, 0), ct, cap_color, texw))
    return Mesh.merge(parts)


def ellipsoid(center, radii, color, texw: float = 1.0, res: int = 12) -> Mesh:
    m = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=res)
    v = np.asarray(m.vertices, dtype=np.float64) * np.asarray(radii) + np.asarray(center)
    mesh = _finish(v, np.asarray(m.triangles, dtype=np.int64).copy(), color, texw)
    mesh.ellipsoids = [(np.asarray(center, dtype=np.float64),
                        np.asarray(radii, dtype=np.float64), 0, len(mesh.triangles))]
    return mesh


# --------------------------------------------------------------------------- models
@dataclass
class Texture:
    kind: int = PLAIN
    scale: float = 0.1
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    strength: float = 0.0
    color: tuple[float, float, float] = (0.0, 0.0, 0.0)
    phase: float = 0.0


@dataclass
class Surface:
    """A horizontal rectangle (local frame) other objects may stand on."""

    z: float
    cx: float
    cy: float
    hx: float
    hy: float
    accepts: tuple[str, ...]


@dataclass
class ObjectModel:
    class_name: str
    mesh: Mesh
    texture: Texture
    surfaces: list[Surface] = field(default_factory=list)
    # Rectangles (cx, cy, hx, hy) where the object rests solidly on its support: the
    # support's samples under them are hidden and dropped.
    bases: list[tuple[float, float, float, float]] = field(default_factory=list)
    # Rectangles (x0, x1, z0, z1) of the back (the +y side, which goes against a wall) that
    # hide the wall behind them: the wall's samples there are dropped.
    backs: list[tuple[float, float, float, float]] = field(default_factory=list)
    half: tuple[float, float] = (0.0, 0.0)  # footprint half extents (set by _finalize)
    height: float = 0.0


def _finalize(model: ObjectModel) -> ObjectModel:
    v = model.mesh.vertices
    lo, hi = v.min(0), v.max(0)
    c = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, 0.0])
    model.mesh = model.mesh.translated(-c)
    model.surfaces = [Surface(s.z, s.cx - c[0], s.cy - c[1], s.hx, s.hy, s.accepts)
                      for s in model.surfaces]
    model.bases = [(x - c[0], y - c[1], hx, hy) for x, y, hx, hy in model.bases]
    model.backs = [(x0 - c[0], x1 - c[0], z0, z1) for x0, x1, z0, z1 in model.backs]
    model.half = (float(hi[0] - lo[0]) / 2, float(hi[1] - lo[1]) / 2)
    model.height = float(hi[2])
    return model


def hsv(rng: np.random.Generator, h, s, v) -> np.ndarray:
    """An RGB colour (0..1) with hue ``h`` (degrees, may wrap past 360), saturation, value."""
    hue = (rng.uniform(*h) % 360.0) / 360.0
    return np.array(colorsys.hsv_to_rgb(hue, rng.uniform(*s), rng.uniform(*v)))


def _metal(rng) -> np.ndarray:
    return hsv(rng, (0, 360), (0.0, 0.08), (0.12, 0.35))


def _cap(x: float, limit: float | None, frac: float = 0.95) -> float:
    return x if limit is None else min(x, 2 * limit * frac)


SURFACE_TOP = ("box", "lamp", "plant")


# Each grammar: (rng, limit) -> ObjectModel; ``limit`` = (hx, hy) of the surface it will stand
# on (None on the floor).
def chair(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    sw, sd, sh, st = u(0.40, 0.50), u(0.40, 0.48), u(0.42, 0.48), u(0.03, 0.06)
    bh, bt = u(0.35, 0.50), u(0.03, 0.05)
    main = hsv(rng, (345, 375), (0.45, 0.8), (0.35, 0.75))
    legc = main * 0.55 if rng.random() < 0.5 else _metal(rng)
    parts = [box((-sw / 2, -sd / 2, sh - st), (sw / 2, sd / 2, sh), main)]
    r, inset, square = u(0.015, 0.025), u(0.03, 0.05), rng.random() < 0.5
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * (sw / 2 - inset), sy * (sd / 2 - inset)
            if square:
                parts.append(box((x - r, y - r, 0), (x + r, y + r, sh - st), legc, 0.0,
                                 ("-z", "+z")))
            else:
                parts.append(cylinder(x, y, 0, sh - st, r, legc, 0.0, 12, ("-z", "+z")))
    if rng.random() < 0.6:  # solid back
        parts.append(box((-sw / 2, sd / 2 - bt, sh), (sw / 2, sd / 2, sh + bh), main,
                         drop=("-z",)))
    else:  # two posts and a rail
        pw = 0.035
        for sx in (-1, 1):
            x0 = -sw / 2 if sx < 0 else sw / 2 - pw
            parts.append(box((x0, sd / 2 - bt, sh), (x0 + pw, sd / 2, sh + bh - 0.12), main,
                             drop=("-z", "+z")))
        parts.append(box((-sw / 2, sd / 2 - bt, sh + bh - 0.12), (sw / 2, sd / 2, sh + bh),
                         main))
    tex = Texture(WEAVE, u(0.015, 0.03), (1, 0, 0), 0.35, tuple(main * 0.55))
    return _finalize(ObjectModel("chair", Mesh.merge(parts), tex))


def stool(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    r, h, t = u(0.15, 0.20), u(0.45, 0.75), u(0.04, 0.06)
    main = hsv(rng, (165, 195), (0.4, 0.8), (0.4, 0.8))
    metal = _metal(rng)
    parts = [cylinder(0, 0, h - t, h, r, main, res=28)]
    bases = []
    if rng.random() < 0.5:
        lr = u(0.012, 0.02)
        n = 3 + int(rng.random() < 0.5)
        for k in range(n):
            a = 2 * np.pi * k / n + np.pi / 4
            parts.append(cylinder(0.72 * r * np.cos(a), 0.72 * r * np.sin(a), 0, h - t, lr,
                                  metal, 0.0, 10, ("-z", "+z")))
    else:
        parts.append(cylinder(0, 0, 0.03, h - t, u(0.02, 0.03), metal, 0.0, 12, ("-z", "+z")))
        br = r * u(0.8, 1.0)
        parts.append(cylinder(0, 0, 0, 0.03, br, metal, 0.0, 28, ("-z",)))
        bases.append((0.0, 0.0, 0.68 * br, 0.68 * br))
    tex = Texture(NOISE, u(0.04, 0.08), (1, 0, 0), 0.3, tuple(main * 0.7), u(0, 6.28))
    return _finalize(ObjectModel("stool", Mesh.merge(parts), tex, bases=bases))


def table(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    h, t = u(0.72, 0.78), u(0.03, 0.05)
    main = hsv(rng, (18, 38), (0.45, 0.7), (0.3, 0.6))
    dark = main * 0.6
    parts, bases = [], []
    if rng.random() < 0.3:  # round, one pole
        radius = u(0.4, 0.6)
        parts.append(cylinder(0, 0, h - t, h, radius, main, res=40))
        parts.append(cylinder(0, 0, 0.03, h - t, u(0.04, 0.06), dark, 0.0, 16, ("-z", "+z")))
        br = radius * 0.5
        parts.append(cylinder(0, 0, 0, 0.03, br, dark, 0.0, 28, ("-z",)))
        bases.append((0.0, 0.0, 0.68 * br, 0.68 * br))
        surf = Surface(h, 0, 0, radius * 0.66, radius * 0.66, SURFACE_TOP + ("monitor",))
    else:
        w = u(0.8, 1.6)
        d = u(0.6, min(1.0, w))
        parts.append(box((-w / 2, -d / 2, h - t), (w / 2, d / 2, h), main))
        lw, inset = u(0.04, 0.06), u(0.03, 0.08)
        for sx in (-1, 1):
            for sy in (-1, 1):
                x, y = sx * (w / 2 - inset - lw / 2), sy * (d / 2 - inset - lw / 2)
                parts.append(box((x - lw / 2, y - lw / 2, 0), (x + lw / 2, y + lw / 2, h - t),
                                 dark, 0.3, ("-z", "+z")))
        if rng.random() < 0.5:  # apron
            a, ax, ay = 0.08, w / 2 - inset - lw, d / 2 - inset - lw
            parts.append(box((-ax, -ay - 0.02, h - t - a), (ax, -ay, h - t), dark, 0.3, ("+z",)))
            parts.append(box((-ax, ay, h - t - a), (ax, ay + 0.02, h - t), dark, 0.3, ("+z",)))
        surf = Surface(h, 0, 0, w / 2 - 0.03, d / 2 - 0.03, SURFACE_TOP + ("monitor",))
    tex = Texture(WOOD, u(0.04, 0.09), (1, 0, 0), 0.5, tuple(main * 0.65), u(0, 6.28))
    return _finalize(ObjectModel("table", Mesh.merge(parts), tex, [surf], bases))


def desk(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    w, d, h, t = u(1.0, 1.6), u(0.55, 0.75), u(0.72, 0.76), u(0.025, 0.04)
    main = hsv(rng, (25, 50), (0.08, 0.3), (0.62, 0.88))
    metal = _metal(rng)
    pt = 0.03
    parts = [box((-w / 2, -d / 2, h - t), (w / 2, d / 2, h), main)]
    parts.append(box((-w / 2, -d / 2 + 0.02, 0), (-w / 2 + pt, d / 2, h - t), main,
                     drop=("-z", "+z")))
    bases = [(-w / 2 + pt / 2, 0.01, pt / 2, d / 2 - 0.01)]
    if rng.random() < 0.6:  # drawer unit
        dw = u(0.38, 0.45)
        x0, y0 = w / 2 - dw, -d / 2 + 0.02
        parts.append(box((x0, y0, 0), (w / 2, d / 2, h - t), main, drop=("-z", "+z")))
        bases.append((w / 2 - dw / 2, 0.01, dw / 2, d / 2 - 0.01))
        n = 3
        gap = 0.01
        dh = (h - t - 0.05) / n
        for k in range(n):
            z0 = 0.05 + k * dh
            parts.append(box((x0 + gap, y0 - 0.015, z0 + gap), (w / 2 - gap, y0, z0 + dh - gap),
                             main * 0.92, drop=("+y",)))
            zc = z0 + dh / 2
            xc = 0.5 * (x0 + w / 2)
            parts.append(box((xc - 0.06, y0 - 0.03, zc - 0.008), (xc + 0.06, y0 - 0.015, zc + 0.008),
                             metal, 0.0, ("+y",)))
        inner = x0
    else:
        parts.append(box((w / 2 - pt, -d / 2 + 0.02, 0), (w / 2, d / 2, h - t), main,
                         drop=("-z", "+z")))
        bases.append((w / 2 - pt / 2, 0.01, pt / 2, d / 2 - 0.01))
        inner = w / 2 - pt
    parts.append(box((-w / 2 + pt, d / 2 - 0.03, 0.3), (inner, d / 2 - 0.01, h - t), main,
                     drop=("+z",)))
    tex = Texture(NOISE, u(0.03, 0.06), (1, 0, 0), 0.2, tuple(main * 0.8), u(0, 6.28))
    surf = Surface(h, 0, 0, w / 2 - 0.03, d / 2 - 0.03, SURFACE_TOP + ("monitor",))
    return _finalize(ObjectModel("desk", Mesh.merge(parts), tex, [surf], bases))


def couch(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    w, d = u(1.5, 2.3), u(0.8, 0.95)
    sh, bh, bt = u(0.40, 0.46), u(0.75, 0.90), u(0.15, 0.22)
    aw, ah, ct = u(0.12, 0.20), u(0.55, 0.65), u(0.10, 0.14)
    main = hsv(rng, (195, 235), (0.35, 0.7), (0.3, 0.6))
    parts = [box((-w / 2 + aw, -d / 2, 0), (w / 2 - aw, d / 2 - bt, sh - ct), main * 0.9,
                 drop=("-z", "+z", "-x", "+x", "+y"))]
    n = 2 if w < 1.9 else 3
    xs = np.linspace(-w / 2 + aw, w / 2 - aw, n + 1)
    for k in range(n):
        parts.append(box((xs[k] + 0.005, -d / 2, sh - ct), (xs[k + 1] - 0.005, d / 2 - bt, sh),
                         main, drop=("-z", "+y")))
    parts.append(box((-w / 2 + aw, d / 2 - bt, 0), (w / 2 - aw, d / 2, bh), main,
                     drop=("-z", "-x", "+x")))
    parts.append(box((-w / 2, -d / 2, 0), (-w / 2 + aw, d / 2, ah), main, drop=("-z",)))
    parts.append(box((w / 2 - aw, -d / 2, 0), (w / 2, d / 2, ah), main, drop=("-z",)))
    tex = Texture(NOISE, u(0.03, 0.06), (1, 0, 0), 0.3, tuple(main * 0.7), u(0, 6.28))
    seat_hy = (d - bt) / 2
    surf = Surface(sh, 0, -d / 2 + seat_hy, w / 2 - aw - 0.05, seat_hy - 0.05, ("pillow",))
    backs = [(-w / 2, w / 2, 0.0, ah), (-w / 2 + aw, w / 2 - aw, 0.0, bh)]
    return _finalize(ObjectModel("couch", Mesh.merge(parts), tex, [surf],
                                 [(0.0, 0.0, w / 2 - 0.01, d / 2 - 0.01)], backs))


def bed(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    bw, L = u(0.9, 1.8), u(1.9, 2.1)
    fh, mh, hbh, hbt = u(0.2, 0.32), u(0.18, 0.25), u(0.8, 1.1), 0.06
    frame = hsv(rng, (15, 40), (0.3, 0.6), (0.25, 0.55))
    mattress = hsv(rng, (0, 360), (0.0, 0.08), (0.85, 0.95))
    blanket = hsv(rng, (240, 300), (0.3, 0.7), (0.35, 0.7))
    y_blanket = L / 2 - hbt - u(0.45, 0.6)  # the blanket covers the mattress up to here
    top = fh + mh
    parts = [
        box((-bw / 2, -L / 2, 0), (bw / 2, L / 2 - hbt, fh), frame, 0.0, ("-z", "+z", "+y")),
        box((-bw / 2, -L / 2, fh), (bw / 2, L / 2 - hbt, top), mattress, 0.0,
            ("-z", "+z", "+y")),
        box((-bw / 2, y_blanket, top - 0.001), (bw / 2, L / 2 - hbt, top), mattress, 0.0,
            ("-z", "-x", "+x", "-y", "+y")),  # the uncovered head end of the mattress top
        box((-bw / 2, L / 2 - hbt, 0), (bw / 2, L / 2, hbh), frame, 0.0, ("-z",)),
        box((-bw / 2 - 0.01, -L / 2 - 0.01, top), (bw / 2 + 0.01, y_blanket, top + 0.03),
            blanket, 1.0, ("-z",)),
    ]
    contrast = hsv(rng, (0, 360), (0.2, 0.6), (0.6, 0.95))
    tex = Texture(STRIPES, u(0.08, 0.2), (0, 1, 0), 0.6, tuple(contrast), u(0, 6.28))
    surf = Surface(fh + mh, 0, L / 2 - hbt - 0.22, bw / 2 - 0.06, 0.19, ("pillow",))
    return _finalize(ObjectModel("bed", Mesh.merge(parts), tex, [surf],
                                 [(0.0, 0.0, bw / 2 - 0.01, L / 2 - 0.01)],
                                 [(-bw / 2, bw / 2, 0.0, hbh)]))


def cabinet(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    w, d, h = u(0.5, 1.2), u(0.35, 0.6), u(0.7, 1.3)
    main = hsv(rng, (40, 70), (0.25, 0.55), (0.45, 0.75))
    metal = _metal(rng)
    parts = [box((-w / 2, -d / 2, 0), (w / 2, d / 2, h), main, drop=("-z",))]
    n = 1 if w < 0.7 else 2
    xs = np.linspace(-w / 2, w / 2, n + 1)
    for k in range(n):
        parts.append(box((xs[k] + 0.008, -d / 2 - 0.015, 0.05), (xs[k + 1] - 0.008, -d / 2, h - 0.03),
                         main * 0.95, drop=("+y",)))
        hx = xs[k + 1] - 0.05 if k == 0 else xs[k] + 0.05
        parts.append(box((hx - 0.01, -d / 2 - 0.035, h - 0.25), (hx + 0.01, -d / 2 - 0.015, h - 0.12),
                         metal, 0.0, ("+y",)))
    tex = Texture(PLANKS, u(0.08, 0.15), (1, 0, 0), 0.35, tuple(main * 0.6), u(0, 6.28))
    surf = Surface(h, 0, 0, w / 2 - 0.03, d / 2 - 0.03, SURFACE_TOP)
    return _finalize(ObjectModel("cabinet", Mesh.merge(parts), tex, [surf],
                                 [(0.0, 0.0, w / 2 - 0.01, d / 2 - 0.01)],
                                 [(-w / 2, w / 2, 0.0, h)]))


def bookshelf(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    w, d, h, t = u(0.6, 1.2), u(0.28, 0.40), u(1.2, 2.0), u(0.018, 0.03)
    main = hsv(rng, (10, 30), (0.4, 0.7), (0.18, 0.42))
    plinth = t + u(0.03, 0.06)
    parts = [
        box((-w / 2, -d / 2, 0), (-w / 2 + t, d / 2, h), main, drop=("-z",)),
        box((w / 2 - t, -d / 2, 0), (w / 2, d / 2, h), main, drop=("-z",)),
        box((-w / 2 + t, -d / 2, h - t), (w / 2 - t, d / 2, h), main, drop=("-x", "+x")),
        box((-w / 2 + t, -d / 2, 0), (w / 2 - t, d / 2, plinth), main, drop=("-z", "-x", "+x")),
        box((-w / 2 + t, d / 2 - 0.012, plinth), (w / 2 - t, d / 2, h - t), main,
            drop=("-x", "+x", "-z", "+z")),
    ]
    n_levels = max(2, int((h - plinth) / u(0.3, 0.4)))
    tops = np.linspace(plinth, h - t, n_levels + 1)  # the surfaces books stand on + the top
    for z in tops[1:-1]:
        parts.append(box((-w / 2 + t, -d / 2 + 0.01, z - t), (w / 2 - t, d / 2 - 0.012, z), main,
                         drop=("-x", "+x", "+y")))
    for z0, z1 in zip(tops[:-1], tops[1:] - t, strict=True):
        if rng.random() > 0.65:
            continue
        gap = z1 - z0
        x, x_end = -w / 2 + t + u(0.0, 0.05), -w / 2 + t + (w - 2 * t) * u(0.3, 1.0)
        books = []  # (x0, x1, height, depth, colour, gap after)
        while True:
            bw = u(0.02, 0.05)
            if x + bw > min(x_end, w / 2 - t - 0.002):
                break
            after = u(0.0, 0.004) if rng.random() < 0.85 else u(0.03, 0.1)
            books.append((x, x + bw, u(0.6, 0.92) * min(0.3, gap - 0.02), u(0.15, d - 0.05),
                          hsv(rng, (0, 360), (0.3, 0.8), (0.25, 0.75)), after))
            x += bw + after
        for k, (x0, x1, bh, bd, color, after) in enumerate(books):
            # inside a run of books the sides touch their neighbours: leave them out
            drop = ["-z", "+y"]
            if k > 0 and books[k - 1][5] < 0.005:
                drop.append("-x")
            if after < 0.005 and k + 1 < len(books):
                drop.append("+x")
            parts.append(box((x0, d / 2 - 0.012 - bd, z0), (x1, d / 2 - 0.013, z0 + bh), color,
                             0.0, tuple(drop)))
    tex = Texture(WOOD, u(0.03, 0.07), (0, 0, 1), 0.4, tuple(main * 0.6), u(0, 6.28))
    return _finalize(ObjectModel("bookshelf", Mesh.merge(parts), tex, [],
                                 [(0.0, 0.0, w / 2 - 0.01, d / 2 - 0.01)],
                                 [(-w / 2, w / 2, 0.0, h)]))


def nightstand(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    w, d, h = u(0.4, 0.55), u(0.35, 0.45), u(0.45, 0.65)
    main = hsv(rng, (18, 32), (0.5, 0.75), (0.38, 0.62))
    knob = _metal(rng)
    parts = [box((-w / 2, -d / 2, 0), (w / 2, d / 2, h), main, drop=("-z",))]
    n = 1 + int(rng.random() < 0.6)
    zs = np.linspace(0.06, h - 0.03, n + 1)
    for k in range(n):
        parts.append(box((-w / 2 + 0.02, -d / 2 - 0.015, zs[k] + 0.008),
                         (w / 2 - 0.02, -d / 2, zs[k + 1] - 0.008), main * 0.92, drop=("+y",)))
        kr = u(0.014, 0.02)
        parts.append(ellipsoid((0, -d / 2 - 0.015 - kr * 0.9, 0.5 * (zs[k] + zs[k + 1])),
                               (kr, kr, kr), knob, 0.0, 8))
    tex = Texture(WOOD, u(0.03, 0.06), (1, 0, 0), 0.45, tuple(main * 0.62), u(0, 6.28))
    surf = Surface(h, 0, 0, w / 2 - 0.03, d / 2 - 0.03, SURFACE_TOP)
    return _finalize(ObjectModel("nightstand", Mesh.merge(parts), tex, [surf],
                                 [(0.0, 0.0, w / 2 - 0.01, d / 2 - 0.01)],
                                 [(-w / 2, w / 2, 0.0, h)]))


def toilet(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    white = hsv(rng, (0, 360), (0.0, 0.06), (0.85, 0.95))
    sy = u(1.25, 1.35)
    r0, r1, r2 = u(0.12, 0.14), u(0.15, 0.17), u(0.19, 0.21)
    zb, zs = u(0.22, 0.27), u(0.38, 0.42)
    by = -0.08
    tw, td, th = u(0.38, 0.45), u(0.16, 0.2), u(0.33, 0.4)
    parts = [
        frustum(0, by, 0, zb, r0, r1, white, 0.0, 24, (False, False), sy),
        frustum(0, by, zb, zs, r1, r2, white, 0.0, 24, (False, False), sy),
        cylinder(0, by, zs, zs + 0.04, r2 + 0.005, white * 0.97, 0.0, 24, ("-z",), sy),
        box((-tw / 2, by + r2 * sy + 0.01, zs), (tw / 2, by + r2 * sy + 0.01 + td, zs + th),
            white, 0.0),
    ]
    tex = Texture(PLAIN)
    return _finalize(ObjectModel("toilet", Mesh.merge(parts), tex,
                                 bases=[(0.0, by, 0.7 * r0, 0.7 * r0 * sy)],
                                 backs=[(-tw / 2, tw / 2, zs, zs + th)]))


def trash_can(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    main = hsv(rng, (90, 160), (0.15, 0.55), (0.25, 0.6))
    if rng.random() < 0.7:
        r0 = u(0.11, 0.16)
        r1, h = r0 * u(1.05, 1.2), u(0.3, 0.6)
        parts = [frustum(0, 0, 0, h, r0, r1, main, 1.0, 28, (False, False)),
                 cylinder(0, 0, h, h + 0.02, r1 * 1.04, main * 0.7, 0.0, 28, ())]
        bases = [(0.0, 0.0, 0.7 * r0, 0.7 * r0)]
    else:
        w, d, h = u(0.22, 0.35), u(0.18, 0.30), u(0.3, 0.55)
        parts = [box((-w / 2, -d / 2, 0), (w / 2, d / 2, h), main, drop=("-z", "+z")),
                 box((-w / 2 - 0.01, -d / 2 - 0.01, h), (w / 2 + 0.01, d / 2 + 0.01, h + 0.02),
                     main * 0.7, 0.0)]
        bases = [(0.0, 0.0, w / 2 - 0.01, d / 2 - 0.01)]
    tex = Texture(RIBS, u(0.03, 0.06), (0, 0, 1), 0.35, tuple(main * 0.6), u(0, 6.28))
    return _finalize(ObjectModel("trash can", Mesh.merge(parts), tex, bases=bases))


def lamp(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    shade = hsv(rng, (35, 60), (0.15, 0.5), (0.8, 0.97))
    metal = _metal(rng) if rng.random() < 0.6 else hsv(rng, (35, 50), (0.5, 0.7), (0.45, 0.65))
    if limit is None:  # floor lamp
        br, top = u(0.12, 0.18), u(1.3, 1.7)
        sr0, sr1, sh = u(0.18, 0.25), u(0.10, 0.15), u(0.2, 0.3)
        pr = u(0.012, 0.02)
    else:  # table lamp
        br, top = u(0.06, 0.09), u(0.3, 0.45)
        sr0 = _cap(u(0.12, 0.18), min(limit), 0.48)
        sr1, sh = sr0 * u(0.55, 0.75), u(0.14, 0.2)
        br = min(br, sr0 * 0.8)
        pr = u(0.008, 0.012)
    parts = [cylinder(0, 0, 0, 0.03, br, metal, 0.0, 24, ("-z",)),
             cylinder(0, 0, 0.03, top, pr, metal, 0.0, 10, ("-z",)),
             frustum(0, 0, top - 0.7 * sh, top + 0.3 * sh, sr0, sr1, shade, 1.0, 32,
                     (False, False))]
    tex = Texture(RIBS, u(0.02, 0.04), (1, 0, 0), 0.2, tuple(shade * 0.8), u(0, 6.28))
    return _finalize(ObjectModel("lamp", Mesh.merge(parts), tex,
                                 bases=[(0.0, 0.0, 0.68 * br, 0.68 * br)]))


def plant(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    pot = hsv(rng, (10, 25), (0.5, 0.75), (0.45, 0.7))
    soil = hsv(rng, (20, 30), (0.5, 0.7), (0.12, 0.22))
    green = hsv(rng, (85, 140), (0.45, 0.8), (0.25, 0.55))
    if limit is None:
        r0, ph, stem, fr = u(0.1, 0.15), u(0.2, 0.35), u(0.1, 0.6), (0.12, 0.25)
    else:
        r0, ph, stem, fr = u(0.05, 0.08), u(0.08, 0.14), u(0.0, 0.05), (0.06, 0.11)
        r0 = _cap(r0, min(limit), 0.3)
        fr = (min(fr[0], min(limit) * 0.45), min(fr[1], min(limit) * 0.5))
    r1 = r0 * u(1.15, 1.35)
    parts = [frustum(0, 0, 0, ph, r0, r1, pot, 0.0, 24, (False, True), cap_color=soil)]
    if stem > 0.02:
        parts.append(cylinder(0, 0, ph, ph + stem, u(0.012, 0.022), soil * 1.5, 0.0, 10,
                              ("-z",)))
    n = int(rng.integers(3, 8))
    base_r = u(*fr)
    centre = np.array([0.0, 0.0, ph + stem + base_r * 0.8])
    for _ in range(n):
        radius = base_r * u(0.6, 1.0)
        rad = np.array([radius, radius * u(0.8, 1.2), radius * u(0.7, 1.2)])
        off = rng.normal(size=3) * base_r * np.array([0.5, 0.5, 0.4])
        off[2] = abs(off[2])
        parts.append(ellipsoid(centre + off, rad, green * u(0.85, 1.15), 1.0, 10))
    tex = Texture(NOISE, u(0.02, 0.05), (1, 0, 0), 0.55, tuple(green * 0.5), u(0, 6.28))
    return _finalize(ObjectModel("plant", Mesh.merge(parts), tex,
                                 bases=[(0.0, 0.0, 0.68 * r0, 0.68 * r0)]))


def box_obj(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    lx, ly = (None, None) if limit is None else limit
    w, d = _cap(u(0.2, 0.6), lx), _cap(u(0.2, 0.5), ly)
    h = u(0.15, 0.5) if limit is None else u(0.1, 0.35)
    if rng.random() < 0.65:
        main = hsv(rng, (26, 38), (0.4, 0.6), (0.5, 0.75))
    else:
        main = hsv(rng, (0, 360), (0.4, 0.8), (0.35, 0.85))
    parts = []
    if rng.random() < 0.4:  # lid
        parts.append(box((-w / 2, -d / 2, 0), (w / 2, d / 2, h - 0.03), main, drop=("-z", "+z")))
        parts.append(box((-w / 2 - 0.008, -d / 2 - 0.008, h - 0.03),
                         (w / 2 + 0.008, d / 2 + 0.008, h), main * 0.85))
    else:
        parts.append(box((-w / 2, -d / 2, 0), (w / 2, d / 2, h), main, drop=("-z",)))
    tex = Texture(NOISE, u(0.03, 0.08), (1, 0, 0), 0.25, tuple(main * 0.75), u(0, 6.28))
    return _finalize(ObjectModel("box", Mesh.merge(parts), tex,
                                 bases=[(0.0, 0.0, w / 2 - 0.01, d / 2 - 0.01)]))


def monitor(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    lx = None if limit is None else limit[0]
    sw, sh, st = _cap(u(0.45, 0.7), lx), u(0.28, 0.42), u(0.025, 0.05)
    nh = u(0.08, 0.15)
    bw, bd = min(u(0.18, 0.25), sw * 0.8), u(0.15, 0.2)
    body = hsv(rng, (0, 360), (0.0, 0.1), (0.05, 0.25))
    panel = hsv(rng, (200, 240), (0.2, 0.5), (0.15, 0.35))
    y1 = 0.02  # back of the screen
    parts = [
        box((-bw / 2, -bd / 2, 0), (bw / 2, bd / 2, 0.015), body, 0.0, ("-z",)),
        box((-0.02, y1, 0.015), (0.02, y1 + 0.03, 0.015 + nh), body, 0.0, ("-z", "-y", "+z")),
        box((-sw / 2, y1 - st, 0.015 + nh - 0.03), (sw / 2, y1, 0.015 + nh - 0.03 + sh), body,
            0.0),
    ]
    bezel, z0 = 0.015, 0.015 + nh - 0.03
    parts.append(box((-sw / 2 + bezel, y1 - st - 0.003, z0 + bezel),
                     (sw / 2 - bezel, y1 - st, z0 + sh - bezel), panel, 1.0, ("+y",)))
    tex = Texture(NOISE, u(0.05, 0.1), (1, 0, 0), 0.3, tuple(panel * 1.6), u(0, 6.28))
    return _finalize(ObjectModel("monitor", Mesh.merge(parts), tex,
                                 bases=[(0.0, 0.0, bw / 2 - 0.01, bd / 2 - 0.01)]))


def pillow(rng, limit=None) -> ObjectModel:
    u = rng.uniform
    lx, ly = (None, None) if limit is None else limit
    rx, ry, rz = _cap(u(0.2, 0.33), lx, 0.48), _cap(u(0.13, 0.2), ly, 0.48), u(0.05, 0.09)
    main = hsv(rng, (300, 350), (0.15, 0.55), (0.6, 0.9))
    contrast = hsv(rng, (0, 360), (0.3, 0.7), (0.4, 0.9))
    mesh = ellipsoid((0, 0, rz), (rx, ry, rz), main, 1.0, 14)
    mesh.ellipsoids = []  # a single part: nothing to bury
    kind = DOTS if rng.random() < 0.5 else STRIPES
    tex = Texture(kind, u(0.04, 0.08), (1, 0, 0), 0.6, tuple(contrast), u(0, 6.28))
    return _finalize(ObjectModel("pillow", mesh, tex, bases=[(0.0, 0.0, rx * 0.5, ry * 0.5)]))


#: class name -> grammar.
GRAMMARS: dict[str, Callable[..., ObjectModel]] = {
    "chair": chair, "table": table, "desk": desk, "couch": couch, "bed": bed,
    "cabinet": cabinet, "bookshelf": bookshelf, "nightstand": nightstand, "stool": stool,
    "toilet": toilet, "trash can": trash_can, "lamp": lamp, "plant": plant, "box": box_obj,
    "monitor": monitor, "pillow": pillow,
}

#: How a class is placed on the floor: against a wall (back to it) or anywhere; None: never
#: on the floor (only on a support).
FLOOR_PLACEMENT: dict[str, str | None] = {
    "chair": "free", "table": "free", "desk": "wall", "couch": "wall", "bed": "wall",
    "cabinet": "wall", "bookshelf": "wall", "nightstand": "wall", "stool": "free",
    "toilet": "wall", "trash can": "free", "lamp": "free", "plant": "free", "box": "free",
    "monitor": None, "pillow": None,
}

#: Classes that may stand on another object's surface.
STACKABLE: frozenset[str] = frozenset({"box", "lamp", "plant", "monitor", "pillow"})


def build(class_name: str, rng: np.random.Generator, limit=None) -> ObjectModel:
    return GRAMMARS[class_name](rng, limit)
