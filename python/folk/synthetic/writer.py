"""``generate_scene``: build a synthetic scene and write it in the ScanNet layout.

The scene folder is written into a temporary sibling folder and renamed into place at the end,
so an interrupted run never leaves a half scene; the GT file and the proposals are written
atomically after it.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from folk.data.ply import write_ply
from folk.files import atomic_open, write_json, write_text
from folk.progress import Progress
from folk.synthetic.camera import make_walk
from folk.synthetic.config import (
    GENERATOR_VERSION,
    STRUCTURE_IDS,
    VOCABULARY,
    VOCABULARY_IDS,
    SceneConfig,
    get_config,
)
from folk.synthetic.layout import Layout, make_layout
from folk.synthetic.points import PointSet, sample_points
from folk.synthetic.render import Renderer, SceneGeometry

# ScanNet's colour intrinsics are given for 1296x968 (readers scale them to the image size).
SCANNET_COLOR_SIZE = (1296, 968)


@dataclass
class SyntheticScene:
    """What ``generate_scene`` wrote (paths) and how big it is."""

    name: str
    seed: int
    preset: str
    root: Path  # <out>/<scene>
    ply_path: Path
    gt_path: Path
    masks_path: Path
    scores_path: Path
    meta_path: Path
    n_points: int
    n_frames: int
    n_objects: int
    n_instances: int
    object_classes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def default_name(seed: int) -> str:
    return f"synth{seed:04d}_00"


def _intrinsic(cfg: SceneConfig, size: tuple[int, int] | None = None) -> np.ndarray:
    sx = 1.0 if size is None else size[0] / cfg.width
    sy = 1.0 if size is None else size[1] / cfg.height
    k = np.eye(4)
    k[0, 0], k[1, 1], k[0, 2], k[1, 2] = cfg.fx * sx, cfg.fy * sy, cfg.cx * sx, cfg.cy * sy
    return k


def _matrix_text(m: np.ndarray) -> str:
    return "\n".join(" ".join(f"{v:.9g}" for v in row) for row in m) + "\n"


@dataclass
class BuiltScene:
    """A scene in memory: everything ``generate_scene`` writes, before writing."""

    cfg: SceneConfig
    seed: int
    size: tuple[float, float, float]
    layout: Layout
    geometry: SceneGeometry
    points: PointSet
    poses: np.ndarray  # (F, 4, 4)


def build_scene(seed: int = 0, preset: str = "small", **overrides) -> BuiltScene:
    """Room, furniture, camera walk and points for ``seed`` (no rendering, nothing written).
    Each part draws from its own random stream, so e.g. ``n_frames`` changes only the poses."""
    cfg = get_config(preset, **overrides)
    room_ss, walk_ss, layout_ss, points_ss = np.random.SeedSequence([int(seed), 0]).spawn(4)
    room_rng = np.random.default_rng(room_ss)
    size = (float(room_rng.uniform(*cfg.room_x)), float(room_rng.uniform(*cfg.room_y)),
            float(room_rng.uniform(*cfg.wall_height)))
    walk = make_walk(cfg, np.random.default_rng(walk_ss), size)
    layout = make_layout(cfg, np.random.default_rng(layout_ss), size, walk.footprint())
    geometry = SceneGeometry.from_layout(layout)
    points = sample_points(geometry, layout, cfg, np.random.default_rng(points_ss))
    return BuiltScene(cfg, int(seed), size, layout, geometry, points, walk.poses(cfg.n_frames))


def _save_image(path: Path, array: np.ndarray, **kwargs) -> None:
    buf = io.BytesIO()
    fmt = "JPEG" if path.suffix == ".jpg" else "PNG"
    Image.fromarray(array).save(buf, format=fmt, **kwargs)
    path.write_bytes(buf.getvalue())


def _render_frames(built: BuiltScene, root: Path, name: str, progress: bool) -> None:
    cfg = built.cfg
    for sub in ("color", "depth", "instance", "pose"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    n = len(built.poses)
    if n == 0:
        return
    renderer = Renderer(built.geometry, cfg, built.seed)
    bar = Progress(total=n, desc=f"render {name}", unit="frame", enabled=progress,
                   per_item=False, leave=False)
    pool = ThreadPoolExecutor(cfg.io_threads) if cfg.io_threads > 0 else None
    pending = []

    def submit(fn, *args, **kwargs):
        if pool is None:
            fn(*args, **kwargs)
        else:
            pending.append(pool.submit(fn, *args, **kwargs))

    try:
        for start in range(0, n, cfg.frames_per_cast):
            poses = built.poses[start:start + cfg.frames_per_cast]
            cast = renderer.cast(poses)
            for b, pose in enumerate(poses):
                i = start + b
                fr = renderer.frame(i, pose, cast["t"][b], cast["tri"][b], cast["uv"][b],
                                    cast["dirs"][b])
                submit(_save_image, root / "color" / f"{i}.jpg", fr.color,
                       quality=cfg.jpeg_quality)
                submit(_save_image, root / "depth" / f"{i}.png", fr.depth,
                       compress_level=cfg.png_compress_level)
                submit(_save_image, root / "instance" / f"{i}.png", fr.instance,
                       compress_level=cfg.png_compress_level)
                (root / "pose" / f"{i}.txt").write_text(_matrix_text(pose))
                bar.update(1)
            # keep the queue short so memory stays flat
            while len(pending) > 12 * cfg.frames_per_cast:
                pending.pop(0).result()
        for fut in pending:
            fut.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        bar.close()


def _meta(built: BuiltScene, name: str, preset: str) -> dict:
    cfg, layout, pts = built.cfg, built.layout, built.points
    counts = np.bincount(pts.instance, minlength=len(layout.instances))

    def inst_entry(p):
        e = {"instance_id": p.index + 1, "class_name": p.class_name,
             "label_id": int(VOCABULARY_IDS.get(p.class_name, STRUCTURE_IDS.get(p.class_name))),
             "gt_code": int(built.geometry.inst_label[p.index] * 1000 + p.index + 1),
             "n_points": int(counts[p.index])}
        if p.is_object:
            e.update(position=[round(float(v), 4) for v in p.translation],
                     yaw=round(float(p.yaw), 4),
                     size=[round(2 * p.model.half[0], 4), round(2 * p.model.half[1], 4),
                           round(p.model.height, 4)],
                     support_instance_id=None if p.support is None else p.support + 1)
        return e

    return {
        "name": name,
        "generator": "folk.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": built.seed,
        "preset": preset,
        "room_size": [round(v, 4) for v in built.size],
        "vocabulary": [{"class_name": c, "label_id": VOCABULARY_IDS[c]} for c in VOCABULARY],
        "structure": [e for e in map(inst_entry, layout.instances) if e["class_name"]
                      in STRUCTURE_IDS],
        "objects": [inst_entry(p) for p in layout.objects],
        "n_points": len(pts.points),
        "n_frames": len(built.poses),
        "image_size": [cfg.width, cfg.height],
        "depth_scale": 1000.0,
        "instance_images": "uint16 png: GT code % 1000 (= instance_id) of the surface hit, 0 = none",
        "proposals": "columns = objects in this order (instance_id ascending)",
        "config": cfg.to_dict(),
    }


def write_gt_proposals(points: PointSet, object_indices: list[int], gt_path: Path,
                       masks_path: Path, scores_path: Path) -> None:
    """GT file (one int per point) and the GT instances as Mask3D proposals: ``torch.save`` of
    a float16 (N, Q) 0/1 NumPy array (objects only) and ``(Q,)`` scores of ones."""
    import torch

    write_text(gt_path, "\n".join(map(str, points.gt.tolist())) + "\n")
    masks = (points.instance[:, None] == np.asarray(object_indices, dtype=np.int64)[None, :])
    with atomic_open(masks_path, "wb") as handle:
        torch.save(masks.astype(np.float16), handle)
    with atomic_open(scores_path, "wb") as handle:
        np.save(handle, np.ones(len(object_indices), dtype=np.float32))


def scene_paths(out_dir: str | Path, name: str) -> dict[str, Path]:
    out = Path(out_dir)
    root = out / name
    return {"root": root, "ply": root / f"{name}_vh_clean_2.ply", "meta": root / "meta.json",
            "gt": out / "gt" / f"{name}.txt",
            "masks": out / "proposals" / f"{name}_masks.pt",
            "scores": out / "proposals" / f"{name}_scores.npy"}


def generate_scene(out_dir: str | Path, *, seed: int = 0, preset: str = "small",
                   name: str | None = None, progress: bool = True,
                   **overrides) -> SyntheticScene:
    """Generate one synthetic scene and write it under ``out_dir`` (see the module docstring
    of :mod:`folk.synthetic` for the layout). ``overrides`` replace fields of the preset's
    :class:`~folk.synthetic.config.SceneConfig` (e.g. ``n_frames=20``)."""
    t0 = time.perf_counter()
    name = name or default_name(seed)
    paths = scene_paths(out_dir, name)
    built = build_scene(seed, preset, **overrides)
    cfg = built.cfg
    t_build = time.perf_counter()

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=out))
    try:
        pts = built.points
        write_ply(tmp / paths["ply"].name, pts.points, pts.colors,
                  normals=pts.normals if cfg.write_normals else None)
        (tmp / "intrinsic").mkdir()
        write_text(tmp / "intrinsic" / "intrinsic_depth.txt", _matrix_text(_intrinsic(cfg)))
        write_text(tmp / "intrinsic" / "intrinsic_color.txt",
                   _matrix_text(_intrinsic(cfg, SCANNET_COLOR_SIZE)))
        for which in ("extrinsic_color.txt", "extrinsic_depth.txt"):
            write_text(tmp / "intrinsic" / which, _matrix_text(np.eye(4)))
        t_points = time.perf_counter()
        _render_frames(built, tmp, name, progress)
        t_render = time.perf_counter()
        write_json(tmp / "meta.json", _meta(built, name, cfg.preset))
        if paths["root"].exists():
            shutil.rmtree(paths["root"])
        os.replace(tmp, paths["root"])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    objects = built.layout.objects
    write_gt_proposals(built.points, [p.index for p in objects], paths["gt"], paths["masks"],
                       paths["scores"])
    t_end = time.perf_counter()
    return SyntheticScene(
        name=name, seed=int(seed), preset=cfg.preset, root=paths["root"], ply_path=paths["ply"],
        gt_path=paths["gt"], masks_path=paths["masks"], scores_path=paths["scores"],
        meta_path=paths["meta"], n_points=len(built.points.points), n_frames=len(built.poses),
        n_objects=len(objects), n_instances=len(built.layout.instances),
        object_classes=[p.class_name for p in objects],
        seconds={"build": t_build - t0, "write_points": t_points - t_build,
                 "render": t_render - t_points, "gt_proposals": t_end - t_render,
                 "total": t_end - t0})


def is_complete(out_dir: str | Path, name: str, seed: int, preset: str,
                n_frames: int | None = None) -> bool:
    """Whether a finished scene of this seed/preset/generator version is already there."""
    import json

    p = scene_paths(out_dir, name)
    if not all(p[k].is_file() for k in ("ply", "meta", "gt", "masks", "scores")):
        return False
    try:
        meta = json.loads(p["meta"].read_text())
    except (OSError, ValueError):
        return False
    ok = (meta.get("seed") == seed and meta.get("preset") == preset
          and meta.get("generator_version") == GENERATOR_VERSION)
    return ok and (n_frames is None or meta.get("n_frames") == n_frames)
