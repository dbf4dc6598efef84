"""Room and furniture placement.

The room is the box [0, X] x [0, Y] x [0, H] (z up): a floor and four walls, each its own
instance. Furniture goes on the floor by rejection sampling of 2D footprints (rotated
rectangles, separating-axis test, never intersecting each other or the walls, and kept clear of
the camera walk where they are taller than the camera could pass over) or on the surfaces of
other objects (monitor on a desk, box on a cabinet, pillow on a bed, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from folk.synthetic import shapes
from folk.synthetic.config import VOCABULARY, SceneConfig
from folk.synthetic.shapes import Mesh, ObjectModel, Texture


@dataclass
class Placed:
    """One instance of the scene (structure or object) in world coordinates."""

    index: int  # 0-based instance index; GT code = label_id * 1000 + index + 1
    class_name: str
    mesh: Mesh  # world frame
    texture: Texture
    rotation: np.ndarray  # (3, 3) local -> world
    translation: np.ndarray  # (3,)
    is_object: bool = True
    model: ObjectModel | None = None
    yaw: float = 0.0
    support: int | None = None  # instance index of the supporting object
    footprint: np.ndarray | None = None  # (4, 2) world corners
    top: float = 0.0
    base_z: float = 0.0
    bases: list[np.ndarray] = field(default_factory=list)  # (4, 2) world rectangles


@dataclass
class Layout:
    size: tuple[float, float, float]  # room X, Y, wall height
    instances: list[Placed]

    @property
    def objects(self) -> list[Placed]:
        return [p for p in self.instances if p.is_object]


def _rot_z(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rect_corners(cx: float, cy: float, hx: float, hy: float, yaw: float) -> np.ndarray:
    r = _rot_z(yaw)[:2, :2]
    local = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
    return local @ r.T + (cx, cy)


def rects_intersect(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating-axis test of two convex quadrilaterals given by their (4, 2) corners."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for ex, ey in edges[:2]:
            axis = np.array([-ey, ex])
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def rect_distance(points: np.ndarray, cx: float, cy: float, hx: float, hy: float,
                  yaw: float) -> np.ndarray:
    """Distance of 2D points to a rotated rectangle (0 inside)."""
    c, s = np.cos(yaw), np.sin(yaw)
    d = points - (cx, cy)
    lx, ly = d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c
    return np.hypot(np.maximum(np.abs(lx) - hx, 0.0), np.maximum(np.abs(ly) - hy, 0.0))


def _quad(corners: np.ndarray, color, texw: float = 1.0) -> Mesh:
    """A one-sided quad (two triangles, normal by the right-hand rule of the corner order)."""
    return Mesh(np.asarray(corners, dtype=np.float64), np.array([[0, 1, 2], [0, 2, 3]]),
                np.tile(np.asarray(color, dtype=np.float64), (2, 1)), np.full(2, texw))


def structure(rng: np.random.Generator, size: tuple[float, float, float]) -> list[Placed]:
    """Floor (instance 0) and the four walls (1..4), normals facing into the room."""
    X, Y, H = size
    u = rng.uniform
    if rng.random() < 0.6:
        floor_c = shapes.hsv(rng, (20, 38), (0.35, 0.6), (0.35, 0.6))
        floor_t = Texture(shapes.PLANKS, u(0.12, 0.2), (1, 0, 0) if rng.random() < 0.5
                          else (0, 1, 0), 0.35, tuple(floor_c * 0.6), u(0, 6.28))
    else:
        floor_c = shapes.hsv(rng, (0, 360), (0.0, 0.12), (0.45, 0.75))
        floor_t = Texture(shapes.CHECKER, u(0.3, 0.6), (1, 0, 0), 0.25,
                          tuple(floor_c * 0.75), 0.0)
    out = [Placed(0, "floor", _quad([[0, 0, 0], [X, 0, 0], [X, Y, 0], [0, Y, 0]], floor_c),
                  floor_t, np.eye(3), np.zeros(3), is_object=False)]
    wall_c = shapes.hsv(rng, (0, 360), (0.04, 0.2), (0.72, 0.9))
    wall_t = Texture(shapes.STRIPES if rng.random() < 0.5 else shapes.NOISE, u(0.1, 0.3),
                     (1, 1, 0), 0.12, tuple(wall_c * 0.85), u(0, 6.28))
    walls = [
        [[0, 0, 0], [0, 0, H], [X, 0, H], [X, 0, 0]],  # y = 0, normal +y
        [[X, 0, 0], [X, 0, H], [X, Y, H], [X, Y, 0]],  # x = X, normal -x
        [[X, Y, 0], [X, Y, H], [0, Y, H], [0, Y, 0]],  # y = Y, normal -y
        [[0, Y, 0], [0, Y, H], [0, 0, H], [0, 0, 0]],  # x = 0, normal +x
    ]
    for k, corners in enumerate(walls):
        c = wall_c * rng.uniform(0.95, 1.05)
        out.append(Placed(1 + k, "wall", _quad(corners, c), wall_t, np.eye(3), np.zeros(3),
                          is_object=False))
    return out


class _Placer:
    def __init__(self, cfg: SceneConfig, rng: np.random.Generator,
                 size: tuple[float, float, float], walk: np.ndarray):
        self.cfg, self.rng, self.size, self.walk = cfg, rng, size, walk
        self.instances: list[Placed] = []
        self.floor_rects: list[np.ndarray] = []
        self.floor_circles: list[tuple[float, float, float]] = []  # bounding circles
        # (support index, surface index) -> footprints standing on it
        self.on_surface: dict[tuple[int, int], list[np.ndarray]] = {}
        self.first_index = 0

    # -- checks
    def _hits_floor_object(self, cx, cy, hx, hy, yaw) -> bool:
        if not self.floor_rects:
            return False
        circles = np.asarray(self.floor_circles)
        near = np.hypot(circles[:, 0] - cx, circles[:, 1] - cy) < circles[:, 2] + np.hypot(hx, hy)
        if not near.any():
            return False
        corners = rect_corners(cx, cy, hx, hy, yaw)
        return any(rects_intersect(corners, self.floor_rects[k]) for k in np.flatnonzero(near))

    def _inside_room(self, corners: np.ndarray, margin: float = 0.02) -> bool:
        X, Y, _ = self.size
        return bool(np.all(corners >= margin) and np.all(corners[:, 0] <= X - margin)
                     and np.all(corners[:, 1] <= Y - margin))

    def _clear_of_walk(self, model: ObjectModel, cx, cy, yaw, base_z: float) -> bool:
        """Parts higher than ``low_object_height`` keep ``camera_clearance`` from the walk."""
        if len(self.walk) == 0:
            return True
        v = model.mesh.vertices
        tall = v[v[:, 2] + base_z > self.cfg.low_object_height]
        if len(tall) == 0:
            return True
        lo, hi = tall[:, :2].min(0), tall[:, :2].max(0)
        c = _rot_z(yaw)[:2, :2] @ ((lo + hi) / 2) + (cx, cy)
        hx, hy = (hi - lo) / 2
        d = rect_distance(self.walk, c[0], c[1], hx, hy, yaw)
        return bool(d.min() >= self.cfg.camera_clearance)

    # -- placement
    def _commit(self, model: ObjectModel, cx, cy, z, yaw, support=None) -> Placed:
        rot = _rot_z(yaw)
        t = np.array([cx, cy, z])
        m = model.mesh
        # Ellipsoid records stay with the model (local frame, see points.py).
        mesh = Mesh(m.vertices @ rot.T + t, m.triangles, m.colors, m.texw)
        bases = [rect_corners(*(np.array([bx, by]) @ rot[:2, :2].T + (cx, cy)), bhx, bhy, yaw)
                 for bx, by, bhx, bhy in model.bases]
        p = Placed(len(self.instances) + self.first_index, model.class_name, mesh, model.texture,
                   rot, t, True, model, yaw, support,
                   rect_corners(cx, cy, model.half[0], model.half[1], yaw),
                   z + model.height, z, bases)
        self.instances.append(p)
        return p

    def place_floor(self, class_name: str, near: Placed | None = None) -> Placed | None:
        cfg, rng = self.cfg, self.rng
        X, Y, _ = self.size
        mode = shapes.FLOOR_PLACEMENT[class_name]
        if mode is None:
            return None
        model = None
        for attempt in range(cfg.placement_tries):
            if attempt % 15 == 0:  # a new size now and then (building costs more than trying)
                model = shapes.build(class_name, rng)
            hx, hy = model.half
            if near is not None:  # a chair around a table, facing it
                side = int(rng.integers(4))
                thx, thy = near.model.half
                yaw_t = near.yaw
                off = rng.uniform(-0.6, 0.6)
                # local (table frame) direction from the table centre to the chair
                if side == 0:
                    d, along, dist = np.array([0.0, -1.0]), np.array([1.0, 0.0]), thy
                    lim = thx
                elif side == 1:
                    d, along, dist = np.array([0.0, 1.0]), np.array([1.0, 0.0]), thy
                    lim = thx
                elif side == 2:
                    d, along, dist = np.array([1.0, 0.0]), np.array([0.0, 1.0]), thx
                    lim = thy
                else:
                    d, along, dist = np.array([-1.0, 0.0]), np.array([0.0, 1.0]), thx
                    lim = thy
                local = d * (dist + hy + rng.uniform(0.02, 0.12)) + along * off * max(lim - hx, 0)
                r2 = _rot_z(yaw_t)[:2, :2]
                cx, cy = near.translation[:2] + r2 @ local
                # the chair's front (-y) faces the table: its back (+y) points along d
                dw = r2 @ d
                yaw = float(np.arctan2(-dw[0], dw[1])) + rng.normal(0, 0.08)
            elif mode == "wall":
                wall = int(rng.integers(4))
                gap = rng.uniform(0.02, 0.06)
                yaw = (0.0, -np.pi / 2, np.pi, np.pi / 2)[wall]  # back (+y) towards the wall
                along = rng.uniform(0, 1)
                if wall == 0:  # y = 0
                    cx, cy, yaw = hx + along * (X - 2 * hx), hy + gap, np.pi
                elif wall == 1:  # x = X
                    cx, cy = X - hy - gap, hx + along * (Y - 2 * hx)
                elif wall == 2:  # y = Y
                    cx, cy = hx + along * (X - 2 * hx), Y - hy - gap
                else:  # x = 0
                    cx, cy = hy + gap, hx + along * (Y - 2 * hx)
                yaw = float(yaw) + rng.normal(0, 0.02)
            else:
                cx, cy = rng.uniform(0, X), rng.uniform(0, Y)
                yaw = rng.uniform(-np.pi, np.pi) if rng.random() < 0.5 else \
                    (np.pi / 2) * int(rng.integers(4)) + rng.normal(0, 0.1)
            corners = rect_corners(cx, cy, hx, hy, yaw)
            if not self._inside_room(corners):
                continue
            if self._hits_floor_object(cx, cy, hx + 0.03, hy + 0.03, yaw):
                continue
            if not self._clear_of_walk(model, cx, cy, yaw, 0.0):
                continue
            self.floor_rects.append(corners)
            self.floor_circles.append((cx, cy, float(np.hypot(hx, hy))))
            return self._commit(model, cx, cy, 0.0, yaw)
        return None

    def place_on_top(self, class_name: str) -> Placed | None:
        cfg, rng = self.cfg, self.rng
        candidates = [(p, k) for p in self.instances for k, s in enumerate(p.model.surfaces)
                      if class_name in s.accepts]
        if not candidates:
            return None
        for attempt in range(cfg.placement_tries // 2):
            if attempt % 5 == 0:
                sup, k = candidates[int(rng.integers(len(candidates)))]
                s = sup.model.surfaces[k]
                model = shapes.build(class_name, rng, (s.hx, s.hy))
            hx, hy = model.half
            if class_name in ("monitor", "pillow"):
                rel = rng.normal(0, 0.08)
            else:
                rel = rng.uniform(-np.pi, np.pi) if rng.random() < 0.5 else \
                    (np.pi / 2) * int(rng.integers(4)) + rng.normal(0, 0.1)
            # the footprint's extent along the surface axes
            c, sn = abs(np.cos(rel)), abs(np.sin(rel))
            ex, ey = hx * c + hy * sn, hx * sn + hy * c
            if ex > s.hx or ey > s.hy:
                continue
            lx = s.cx + rng.uniform(-(s.hx - ex), s.hx - ex)
            if class_name in ("monitor", "pillow"):  # towards the back / head end
                ly = s.cy + (s.hy - ey) * rng.uniform(0.3, 1.0)
            else:
                ly = s.cy + rng.uniform(-(s.hy - ey), s.hy - ey)
            r2 = sup.rotation[:2, :2]
            cx, cy = sup.translation[:2] + r2 @ np.array([lx, ly])
            yaw = sup.yaw + rel
            corners = rect_corners(cx, cy, hx, hy, yaw)
            inflated = rect_corners(cx, cy, hx + 0.02, hy + 0.02, yaw)
            here = self.on_surface.setdefault((sup.index, k), [])
            if any(rects_intersect(inflated, r) for r in here):
                continue
            z = float(sup.translation[2] + s.z)
            if not self._clear_of_walk(model, cx, cy, yaw, z):
                continue
            here.append(corners)
            return self._commit(model, cx, cy, z, yaw, support=sup.index)
        return None


#: Objects that often come with a support: put on top of the deck when the support is placed.
COMPANIONS: dict[str, tuple[str, ...]] = {
    "desk": ("monitor",), "table": ("monitor",), "bed": ("pillow", "pillow"),
    "couch": ("pillow",), "nightstand": ("lamp",), "cabinet": ("box",),
}


def furnish(cfg: SceneConfig, rng: np.random.Generator, size: tuple[float, float, float],
            walk: np.ndarray, first_index: int) -> list[Placed]:
    """Place ``cfg.n_objects`` objects; classes are drawn from a shuffled deck of the whole
    vocabulary (so a scene with 16+ objects has every class), a class that finds no place goes
    back to the end of the deck a couple of times."""
    placer = _Placer(cfg, rng, size, walk)
    placer.first_index = first_index
    target = int(rng.integers(cfg.n_objects[0], cfg.n_objects[1] + 1))
    deck: list[tuple[str, int]] = []
    failures = 0
    while len(placer.instances) < target and failures < 6 * max(target, 1) + 20:
        if not deck:
            deck = [(VOCABULARY[i], 0) for i in rng.permutation(len(VOCABULARY))]
        name, retries = deck.pop(0)
        placed = None
        stack = name in shapes.STACKABLE and (shapes.FLOOR_PLACEMENT[name] is None
                                              or rng.random() < cfg.on_top_prob)
        if stack:
            placed = placer.place_on_top(name)
        if placed is None:
            placed = placer.place_floor(name)
        if placed is None:
            failures += 1
            if retries < 2:
                deck.append((name, retries + 1))
            continue
        for companion in COMPANIONS.get(name, ()):
            if rng.random() < 0.6:
                deck.insert(0, (companion, 0))
        if name == "table" and placed.support is None and rng.random() < 0.7:
            for _ in range(int(rng.integers(1, 5))):
                if len(placer.instances) >= target:
                    break
                placer.place_floor("chair", near=placed)
    return placer.instances


def make_layout(cfg: SceneConfig, rng: np.random.Generator, size: tuple[float, float, float],
                walk: np.ndarray) -> Layout:
    struct = structure(rng, size)
    objects = furnish(cfg, rng, size, walk, first_index=len(struct))
    return Layout(size, struct + objects)
