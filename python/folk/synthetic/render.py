"""Appearance (albedo from a per-class procedural texture, Lambert + ambient shading) and the
RGB-D renderer (``open3d.t.geometry.RaycastingScene`` on the CPU).

The same functions colour the rendered pixels and the scene's surface samples, so a point and
the pixel it projects to agree up to JPEG, exposure and sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from folk.synthetic import shapes
from folk.synthetic.config import SceneConfig, label_id
from folk.synthetic.layout import Layout

INVALID_ID = np.iinfo(np.uint32).max

_LIGHTS = np.array([[0.3, 0.5, 1.0], [-0.6, -0.3, 0.4]])
_LIGHTS /= np.linalg.norm(_LIGHTS, axis=1, keepdims=True)
_LIGHT_W = np.array([0.5, 0.25])
_AMBIENT = 0.38
_BACKGROUND = np.array([40.0, 40.0, 46.0])  # rays that leave the room (there is no ceiling)

# columns of SceneGeometry.tab_texture
TEX_LOCAL, TEX_MIX, TEX_SCALE, TEX_AXIS, TEX_PHASE = 0, 9, 10, 11, 14
TEX_COLUMNS = 15

# fixed directions of the NOISE / WOOD patterns
_V = np.array([[0.83, 0.47, 0.31], [-0.36, 0.88, 0.31], [0.29, -0.41, 0.86]])


@dataclass
class SceneGeometry:
    """The whole scene as one triangle soup with per-triangle and per-instance attributes.
    ``local_vertices`` are the vertices in their object's own frame (world for the structure):
    textures are functions of that position, interpolated with the barycentric coordinates of a
    hit or a sample."""

    vertices: np.ndarray  # (V, 3) float64, world
    local_vertices: np.ndarray  # (V, 3) float64, object frame
    triangles: np.ndarray  # (T, 3) int64
    tri_instance: np.ndarray  # (T,) int32
    tri_color: np.ndarray  # (T, 3) float64 albedo
    tri_texw: np.ndarray  # (T,)
    tri_normal: np.ndarray  # (T, 3)
    tri_area: np.ndarray  # (T,)
    inst_first_tri: np.ndarray  # (K,) first triangle of each instance
    tex_kind: np.ndarray  # (K,) int
    tex_scale: np.ndarray  # (K,)
    tex_axis: np.ndarray  # (K, 3)
    tex_strength: np.ndarray  # (K,)
    tex_color: np.ndarray  # (K, 3)
    tex_phase: np.ndarray  # (K,)
    inst_label: np.ndarray  # (K,) ScanNet200 label id
    inst_is_object: np.ndarray  # (K,) bool

    def __post_init__(self) -> None:
        inst = self.tri_instance
        shade = shading(self.tri_normal)
        self.tri_shade = shade
        mixw = self.tri_texw * self.tex_strength[inst]  # (T,) max texture weight
        # What a pixel or a sample needs about its triangle, in float32 tables gathered with
        # np.take (much faster than fancy indexing). One extra last row stands for "no hit":
        # background colour, no texture.
        lv = self.local_vertices[self.triangles]
        n = len(self.triangles)
        lit = self.tri_color * shade[:, None] * 255.0
        texlit = self.tex_color[inst] * shade[:, None] * 255.0
        self.tab_color = np.zeros((n + 1, 6), dtype=np.float32)  # lit colour, texture - lit
        self.tab_color[:n, :3] = lit
        self.tab_color[n, :3] = _BACKGROUND
        self.tab_color[:n, 3:] = texlit - lit
        tab = np.zeros((n + 1, TEX_COLUMNS), dtype=np.float32)
        tab[:n, TEX_LOCAL:TEX_LOCAL + 3] = lv[:, 0]
        tab[:n, TEX_LOCAL + 3:TEX_LOCAL + 6] = lv[:, 1] - lv[:, 0]
        tab[:n, TEX_LOCAL + 6:TEX_LOCAL + 9] = lv[:, 2] - lv[:, 0]
        tab[:n, TEX_MIX] = mixw
        tab[:n, TEX_SCALE] = self.tex_scale[inst]
        tab[n, TEX_SCALE] = 1.0
        tab[:n, TEX_AXIS:TEX_AXIS + 3] = self.tex_axis[inst]
        tab[:n, TEX_PHASE] = self.tex_phase[inst]
        self.tab_texture = tab
        self.tab_normal = np.zeros((n + 1, 3), dtype=np.float32)
        self.tab_normal[:n] = self.tri_normal
        kind = np.where(mixw > 0, self.tex_kind[inst], shapes.PLAIN)
        self.tri_kind = np.append(kind, shapes.PLAIN).astype(np.int8)
        self.tri_instance_ext = np.append(inst + 1, 0).astype(np.uint16)  # 0 = no hit

    @staticmethod
    def from_layout(layout: Layout) -> SceneGeometry:
        inst = layout.instances
        assert [p.index for p in inst] == list(range(len(inst)))
        verts, local, tris, tri_inst, colors, texw, first = [], [], [], [], [], [], []
        nv = nt = 0
        for p in inst:
            m = p.mesh
            verts.append(m.vertices)
            local.append(p.model.mesh.vertices if p.model is not None else m.vertices)
            tris.append(m.triangles + nv)
            tri_inst.append(np.full(len(m.triangles), p.index, dtype=np.int32))
            colors.append(m.colors)
            texw.append(m.texw)
            first.append(nt)
            nv += len(m.vertices)
            nt += len(m.triangles)
        vertices, triangles = np.concatenate(verts), np.concatenate(tris)
        normals, areas = shapes.face_normals(vertices, triangles)
        tex = [p.texture for p in inst]
        axis = np.array([t.axis for t in tex], dtype=np.float64)
        axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
        return SceneGeometry(
            vertices=vertices, local_vertices=np.concatenate(local), triangles=triangles,
            tri_instance=np.concatenate(tri_inst), tri_color=np.concatenate(colors),
            tri_texw=np.concatenate(texw), tri_normal=normals, tri_area=areas,
            inst_first_tri=np.array(first, dtype=np.int64),
            tex_kind=np.array([t.kind for t in tex], dtype=np.int64),
            tex_scale=np.array([t.scale for t in tex], dtype=np.float64),
            tex_axis=axis,
            tex_strength=np.array([t.strength for t in tex], dtype=np.float64),
            tex_color=np.clip(np.array([t.color for t in tex], dtype=np.float64), 0, 1),
            tex_phase=np.array([t.phase for t in tex], dtype=np.float64),
            inst_label=np.array([label_id(p.class_name) for p in inst], dtype=np.int64),
            inst_is_object=np.array([p.is_object for p in inst], dtype=bool),
        )

    @property
    def n_triangles(self) -> int:
        return len(self.triangles)

def _frac(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


def pattern(kind: int, p: np.ndarray, scale: np.ndarray, axis: np.ndarray,
            phase: np.ndarray) -> np.ndarray:
    """Texture mix weight in [0, 1] for local positions ``p`` (M, 3); per-point parameters."""
    q = p / scale[:, None]  # position in pattern cells
    if kind == shapes.CHECKER or kind == shapes.WEAVE:
        return np.mod(np.floor(q + 0.37).sum(axis=1), 2.0)
    if kind == shapes.NOISE:
        v = q @ _V.T.astype(q.dtype)
        n = (np.sin(v[:, 0] * 2.1 + phase) * np.sin(v[:, 1] * 1.7 + 2 * phase)
             + 0.6 * np.sin(v[:, 2] * 4.3 + 3 * phase) * np.sin(v[:, 0] * 3.7))
        return np.clip(0.5 + 0.4 * n, 0.0, 1.0)
    if kind == shapes.DOTS:
        f = _frac(q + (phase / (2 * np.pi))[:, None]) - 0.5
        return (np.einsum("ij,ij->i", f, f) < 0.38 ** 2).astype(q.dtype)
    along = np.einsum("ij,ij->i", q, axis)
    if kind == shapes.STRIPES:
        return (np.sin(2 * np.pi * along + phase) > 0).astype(q.dtype)
    if kind == shapes.WOOD:
        v = q @ _V[:2].T.astype(q.dtype)
        warp = 0.35 * np.sin(0.7 * v[:, 0] + phase) + 0.2 * np.sin(1.3 * v[:, 1])
        return (0.5 + 0.5 * np.sin(2 * np.pi * (along + warp))) ** 4
    if kind == shapes.RIBS:
        return (_frac(along + phase / (2 * np.pi)) < 0.18).astype(q.dtype)
    if kind == shapes.PLANKS:
        x = along + phase
        n = np.floor(x)
        seam = (_frac(x) < 0.04).astype(q.dtype)
        shade = _frac(np.sin(n * 12.9898 + phase * 78.233) * 43758.5453)
        return np.maximum(seam, 0.55 * shade)
    return np.zeros(len(p), dtype=q.dtype)


def shading(normals: np.ndarray) -> np.ndarray:
    """Lambert (two fixed directional lights) + ambient; (M,) factors."""
    lam = np.maximum(normals @ _LIGHTS.T, 0.0) @ _LIGHT_W
    return _AMBIENT + lam


def surface_color(geom: SceneGeometry, tri: np.ndarray, u: np.ndarray,
                  v: np.ndarray) -> np.ndarray:
    """Lit colour (M, 3) float32 in 0..255 (may exceed 255 before clipping) of the points
    (1-u-v) A + u B + v C of triangles ``tri`` (-1 or ``n_triangles``: background)."""
    tri = np.where(tri < 0, geom.n_triangles, tri)
    kinds = np.take(geom.tri_kind, tri)
    mix = np.zeros(len(tri), dtype=np.float32)
    for kind in np.flatnonzero(np.bincount(kinds, minlength=len(shapes.TEXTURE_NAMES))):
        if kind == shapes.PLAIN:
            continue
        sel = np.flatnonzero(kinds == kind)
        t = np.take(geom.tab_texture, np.take(tri, sel), axis=0)
        us, vs = np.take(u, sel)[:, None], np.take(v, sel)[:, None]
        local = t[:, 0:3] + us * t[:, 3:6] + vs * t[:, 6:9]
        mix[sel] = t[:, TEX_MIX] * pattern(int(kind), local, t[:, TEX_SCALE],
                                           t[:, TEX_AXIS:TEX_AXIS + 3], t[:, TEX_PHASE])
    c = np.take(geom.tab_color, tri, axis=0)
    out = c[:, 3:] * mix[:, None]
    out += c[:, :3]
    return out


@dataclass
class Frame:
    color: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) uint16 mm, 0 = invalid
    instance: np.ndarray  # (H, W) uint16, instance index + 1, 0 = nothing


class Renderer:
    """Casts one ray per pixel centre: pixel (u, v) looks along ((u+0.5-cx)/fx, (v+0.5-cy)/fy, 1)
    in the camera frame, so a point at camera coordinates (x, y, z) is seen in pixel
    (floor(fx x/z + cx), floor(fy y/z + cy)), and the hit distance in units of that direction
    is the depth z itself."""

    def __init__(self, geom: SceneGeometry, cfg: SceneConfig, seed: int):
        self.geom, self.cfg, self.seed = geom, cfg, seed
        self.scene = o3d.t.geometry.RaycastingScene()
        self.scene.add_triangles(
            o3d.core.Tensor(geom.vertices.astype(np.float32)),
            o3d.core.Tensor(geom.triangles.astype(np.uint32)))
        u = (np.arange(cfg.width) + 0.5 - cfg.cx) / cfg.fx
        v = (np.arange(cfg.height) + 0.5 - cfg.cy) / cfg.fy
        uu, vv = np.meshgrid(u, v)
        dirs = np.stack([uu, vv, np.ones_like(uu)], axis=-1).reshape(-1, 3)
        self.dirs_cam = dirs.astype(np.float32)  # (H*W, 3)
        self.dirs_cam_t = np.ascontiguousarray(self.dirs_cam.T)  # (3, H*W)
        self.inv_len = (1.0 / np.linalg.norm(dirs, axis=1)).astype(np.float32)
        self._rays: np.ndarray | None = None

    def cast(self, poses: np.ndarray) -> dict[str, np.ndarray]:
        """Rays of ``poses`` (B, 4, 4): ``t`` (B, H*W) float32 (= depth z, inf: miss),
        ``tri`` (B, H*W) int64 (-1: miss), ``uv`` (B, H*W, 2) barycentrics."""
        b, n = len(poses), len(self.dirs_cam)
        # one persistent buffer (fresh pages cost more than the arithmetic); the returned
        # directions are views into it, valid until the next call
        if self._rays is None or len(self._rays) < b:
            self._rays = np.empty((b, n, 6), dtype=np.float32)
        rays = self._rays[:b]
        d = self.dirs_cam_t
        for k, pose in enumerate(poses):
            rays[k, :, :3] = pose[:3, 3]
            r = pose[:3, :3].astype(np.float32)
            for i in range(3):
                rays[k, :, 3 + i] = r[i, 0] * d[0] + r[i, 1] * d[1] + r[i, 2] * d[2]
        ans = self.scene.cast_rays(o3d.core.Tensor.from_numpy(rays))
        t = ans["t_hit"].numpy()
        tri = ans["primitive_ids"].numpy().astype(np.int64)
        tri[(tri == INVALID_ID) | ~np.isfinite(t)] = -1
        uv = np.nan_to_num(ans["primitive_uvs"].numpy())
        return {"t": t, "tri": tri, "uv": uv, "dirs": rays[..., 3:]}

    def frame(self, index: int, pose: np.ndarray, t: np.ndarray, tri: np.ndarray,
              uv: np.ndarray, dirs: np.ndarray) -> Frame:
        """Colour, depth and instance images of one cast (flat arrays of one frame)."""
        cfg, geom = self.cfg, self.geom
        h, w = cfg.height, cfg.width
        rng = np.random.default_rng([self.seed, 2, index])
        tri = np.where(tri < 0, geom.n_triangles, tri)
        hit = tri < geom.n_triangles

        exposure = np.float32(1.0 + rng.uniform(-cfg.exposure_jitter, cfg.exposure_jitter))
        color = surface_color(geom, tri, uv[:, 0], uv[:, 1])
        color *= exposure
        if cfg.color_noise > 0:  # uniform noise with standard deviation color_noise
            a = max(round(cfg.color_noise * np.sqrt(3.0)), 1)
            color += rng.integers(-a, a + 1, size=color.shape, dtype=np.int8)
        color8 = np.clip(np.rint(color), 0, 255).astype(np.uint8).reshape(h, w, 3)

        instance = np.take(geom.tri_instance_ext, tri).reshape(h, w)

        z = np.where(hit, t, np.float32(0.0))
        if cfg.depth_noise:
            a, b = cfg.depth_sigma
            z = z + rng.standard_normal(len(z), dtype=np.float32) * (
                np.float32(a) + np.float32(b) * z * z)
        normal = np.take(geom.tab_normal, tri, axis=0)
        cosang = np.abs(np.einsum("ij,ij->i", normal, dirs)) * self.inv_len
        valid = hit & (z > 0) & (z < cfg.max_depth) & (cosang >= cfg.grazing_cos)
        depth = np.where(valid, z, np.float32(0.0)).reshape(h, w)
        if cfg.depth_noise:
            if cfg.hole_fraction > 0:
                depth[rng.random((h, w), dtype=np.float32) < cfg.hole_fraction] = 0.0
            n_blobs = int(rng.integers(cfg.hole_blobs[0], cfg.hole_blobs[1] + 1))
            for _ in range(n_blobs):
                cx, cy = rng.uniform(0, w), rng.uniform(0, h)
                rx, ry = rng.uniform(3, 20), rng.uniform(3, 20)
                y0, y1 = max(int(cy - ry), 0), min(int(cy + ry) + 1, h)
                x0, x1 = max(int(cx - rx), 0), min(int(cx + rx) + 1, w)
                yy, xx = np.ogrid[y0:y1, x0:x1]
                depth[y0:y1, x0:x1][((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1] = 0.0
        depth_mm = np.clip(np.rint(depth * np.float32(1000.0)), 0, 65535).astype(np.uint16)
        return Frame(color8, depth_mm, instance)
