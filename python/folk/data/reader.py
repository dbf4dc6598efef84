"""Reading a scene laid out as ScanNet's SensReader export (and its Open-YOLO 3D and Replica
variants, see docs/formats.md) into a :class:`~folk.data.scene.Scene`.

Everything is checked up front, with errors naming the file: missing or extra frames, unreadable
or wrongly sized images (first frame eagerly; every frame again when it is loaded), proposals and
GT of the wrong length. Frames whose pose is not finite (ScanNet has ``-inf`` poses) are skipped
with a warning and listed in ``Scene.skipped_frames``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from folk.data.images import image_size
from folk.data.layout import LAYOUTS, DatasetLayout
from folk.data.ply import read_ply_vertices
from folk.data.scene import Frame, Intrinsics, Scene
from folk.errors import FolkInputError, NonFinitePoseWarning

_NUMBERED = re.compile(r"^(\d+)$")


def _numbered_files(folder: Path, suffixes: tuple[str, ...]) -> dict[int, Path]:
    """``{i: path}`` for files named ``<i><suffix>`` (no zero padding required)."""
    found: dict[int, Path] = {}
    for path in folder.iterdir():
        if path.suffix.lower() in suffixes and _NUMBERED.match(path.stem):
            found[int(path.stem)] = path
    return found


def read_matrix(path: Path, shape: tuple[int, int] = (4, 4)) -> np.ndarray:
    """A whitespace-separated matrix file (pose or intrinsics)."""
    if not path.is_file():
        raise FolkInputError("file not found", path)
    try:
        values = np.array(path.read_text().split(), dtype=np.float64)
    except ValueError:
        raise FolkInputError("not a whitespace-separated matrix of numbers", path) from None
    if values.size == 9 and shape == (4, 4):  # a bare 3x3 intrinsics matrix
        full = np.eye(4)
        full[:3, :3] = values.reshape(3, 3)
        return full
    if values.size != shape[0] * shape[1]:
        raise FolkInputError(f"expected {shape[0]}x{shape[1]} numbers, found {values.size}", path)
    return values.reshape(shape)


def _find_mesh(root: Path, name: str, layout: DatasetLayout) -> Path:
    preferred = root / f"{name}{layout.mesh_suffix}"
    if preferred.is_file():
        return preferred
    plys = sorted(root.glob("*.ply"))
    if len(plys) == 1:
        return plys[0]
    raise FolkInputError(
        f"no mesh {preferred.name} (and {len(plys)} other .ply files, so none could be chosen)",
        root)


def read_intrinsics(path: Path, width: int, height: int) -> Intrinsics:
    """Pinhole intrinsics from a matrix file; focal lengths must be finite and > 0 and the
    principal point finite (else every point would project nowhere, silently)."""
    k = Intrinsics.from_matrix(read_matrix(path), width, height)
    if not (np.isfinite([k.fx, k.fy, k.cx, k.cy]).all() and k.fx > 0 and k.fy > 0):
        raise FolkInputError(f"invalid camera intrinsics fx={k.fx:g}, fy={k.fy:g}, "
                             f"cx={k.cx:g}, cy={k.cy:g}: focal lengths must be finite and > 0",
                             path)
    return k


def _intrinsics(root: Path, layout: DatasetLayout, depth_size: tuple[int, int],
                color_size: tuple[int, int]) -> tuple[Intrinsics, Intrinsics]:
    """``(depth, colour)`` intrinsics at the sizes of the images actually on disk."""
    folder = root / "intrinsic"
    depth_file, color_file = folder / "intrinsic_depth.txt", folder / "intrinsic_color.txt"
    single = root / "intrinsics.txt"  # Open-YOLO 3D: one matrix, for the depth resolution
    if depth_file.is_file():
        depth = read_intrinsics(depth_file, *depth_size)
    elif single.is_file():
        depth = read_intrinsics(single, *depth_size)
    else:
        depth = None
    if color_file.is_file():
        base = layout.color_intrinsics_size or color_size
        color = read_intrinsics(color_file, *base).scaled(*color_size)
        if depth is None:
            depth = color.scaled(*depth_size)
    elif depth is not None:
        color = depth.scaled(*color_size)
    else:
        raise FolkInputError(
            "no intrinsics: expected intrinsic/intrinsic_depth.txt, intrinsic/intrinsic_color.txt "
            "or intrinsics.txt", root)
    return depth, color


def read_scene(root: str | Path, dataset: str = "scannet", stride: int | None = None,
               name: str | None = None) -> Scene:
    """Read a scene directory.

    Args:
        root: the scene folder (``<scene>/`` holding the mesh, ``color/``, ``depth/``, ``pose/``
            or ``poses/``, and ``intrinsic/`` or ``intrinsics.txt``).
        dataset: ``"scannet"`` or ``"replica"``: mesh name, depth scale (1000 / 6553.5) and
            default stride (10 / 1).
        stride: use every ``stride``-th raw frame. Frames are counted in the files sorted by
            number, except in a folder written by ``folk prepare`` (``prepared.json``), whose
            frames are already every ``s``-th raw frame: there ``stride`` must be a multiple of
            ``s`` and every ``stride / s``-th file is used, and without a ``stride`` every
            file is (the frame rate was chosen when preparing: a folder prepared at stride 10
            is read whole, not every 100th frame, and one prepared at stride 3 too).
        name: scene name; defaults to the folder name.
    """
    root = Path(root)
    if dataset not in LAYOUTS:
        raise FolkInputError(f"unknown dataset {dataset!r}; expected one of {sorted(LAYOUTS)}")
    layout = LAYOUTS[dataset]
    if not root.is_dir():
        raise FolkInputError("scene folder not found", root)
    name = name or root.name
    if stride is not None and int(stride) < 1:
        raise FolkInputError(f"stride must be >= 1, got {stride}")

    points, colors, normals = read_mesh_points(_find_mesh(root, name, layout))
    frames, skipped = _read_frames(root, layout,
                                   _file_stride(root, stride, layout.default_stride))
    return Scene(name=name, points=points, colors=colors, normals=normals, frames=frames,
                 root=root, skipped_frames=skipped)


def _file_stride(root: Path, stride: int | None, default: int) -> int:
    """Which every-n-th frame file makes every ``stride``-th raw frame (see :func:`read_scene`;
    ``default``: the layout's stride, for ``stride`` None)."""
    from folk.data.scannet_prepare import read_marker

    marker = read_marker(root)
    prepared = marker.get("stride") if marker else None
    if not isinstance(prepared, int) or prepared <= 1:
        return default if stride is None else int(stride)
    if stride is None:
        return 1
    stride = int(stride)
    if stride % prepared:
        raise FolkInputError(f"its frames were prepared at stride {prepared} (prepared.json): "
                             f"the stride must be a multiple of {prepared}, got {stride}", root)
    return stride // prepared


def read_mesh_points(mesh: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(points (N, 3) float32, colours (N, 3) uint8, normals (N, 3) float32 or None)`` of a
    PLY's vertices (a mesh or a bare point cloud; colours in [0, 1] floats are scaled to bytes,
    no colours read as black); an error naming the file when it has no x/y/z or no vertex."""
    mesh = Path(mesh)
    vertices = read_ply_vertices(mesh)
    if not {"x", "y", "z"} <= vertices.keys():
        raise FolkInputError("PLY vertices have no x/y/z", mesh)
    points = np.stack([vertices[k] for k in "xyz"], axis=1).astype(np.float32)
    if points.shape[0] == 0:
        raise FolkInputError("the mesh has no vertices (empty scene)", mesh)
    if {"red", "green", "blue"} <= vertices.keys():
        colors = np.stack([vertices[k] for k in ("red", "green", "blue")], axis=1)
        if colors.dtype != np.uint8:  # float colours in [0, 1]
            colors = np.clip(np.round(colors.astype(np.float64) * 255), 0, 255)
        colors = colors.astype(np.uint8)
    else:
        colors = np.zeros_like(points, dtype=np.uint8)
    normals = None
    if {"nx", "ny", "nz"} <= vertices.keys():
        normals = np.stack([vertices[k] for k in ("nx", "ny", "nz")], axis=1).astype(np.float32)
    return points, colors, normals


def _read_frames(root: Path, layout: DatasetLayout, stride: int) -> tuple[list[Frame], list[int]]:
    color_dir, depth_dir = root / "color", root / "depth"
    pose_dir = root / "pose" if (root / "pose").is_dir() else root / "poses"
    for folder in (color_dir, depth_dir, pose_dir):
        if not folder.is_dir():
            raise FolkInputError("frame folder missing", folder)
    colors = _numbered_files(color_dir, (".jpg", ".jpeg", ".png"))
    depths = _numbered_files(depth_dir, (".png",))
    poses = _numbered_files(pose_dir, (".txt",))
    if not depths:
        raise FolkInputError("no depth frames (<i>.png)", depth_dir)
    for folder, have in ((color_dir, colors), (pose_dir, poses)):
        missing = sorted(depths.keys() - have.keys())
        extra = sorted(have.keys() - depths.keys())
        if missing:
            raise FolkInputError(f"{len(missing)} frame(s) have depth but nothing here, e.g. "
                                 f"{missing[:5]}", folder)
        if extra:
            raise FolkInputError(f"{len(extra)} frame(s) here have no depth image, e.g. "
                                 f"{extra[:5]}", folder)

    ids = sorted(depths)[::stride]
    depth_size = image_size(depths[ids[0]])
    color_size = image_size(colors[ids[0]])
    depth_k, color_k = _intrinsics(root, layout, depth_size, color_size)

    frames, skipped = [], []
    for i in ids:
        pose = read_matrix(poses[i])
        if not np.isfinite(pose).all():
            skipped.append(i)
            continue
        frames.append(Frame(i, colors[i], depths[i], pose, depth_k, color_k, layout.depth_scale))
    if skipped:
        warnings.warn(f"{root.name}: skipped {len(skipped)} frame(s) with non-finite poses "
                      f"(e.g. {skipped[:5]})", NonFinitePoseWarning, stacklevel=3)
    return frames, skipped
