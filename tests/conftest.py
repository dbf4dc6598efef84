"""Shared test helpers. Fixtures that build data on disk write into tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from folk.data.ply import write_ply

SCANNET_COLOR_K = np.array([[1170.19, 0, 647.75, 0], [0, 1170.19, 483.75, 0],
                            [0, 0, 1, 0], [0, 0, 0, 1]])
SCANNET_DEPTH_K = np.array([[577.59, 0, 318.9, 0], [0, 578.73, 242.68, 0],
                            [0, 0, 1, 0], [0, 0, 0, 1]])


def write_matrix(path: Path, matrix: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, matrix)


def make_scannet_scene(root: Path, *, num_frames: int = 4, num_points: int = 57,
                       depth_size: tuple[int, int] = (64, 48),
                       color_size: tuple[int, int] = (80, 60), seed: int = 0,
                       layout: str = "scannet") -> Path:
    """A tiny hand-made scene in the ScanNet layout (``layout="openyolo"``: ``poses/`` and one
    ``intrinsics.txt``; ``"replica"``: ``<scene>_mesh.ply``)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    name = root.name
    points = rng.uniform(-1, 1, size=(num_points, 3)).astype(np.float32)
    colors = rng.integers(0, 256, size=(num_points, 3), dtype=np.uint8)
    mesh = f"{name}_mesh.ply" if layout == "replica" else f"{name}_vh_clean_2.ply"
    write_ply(root / mesh, points, colors)
    pose_dir = root / ("poses" if layout == "openyolo" else "pose")
    for folder in ("color", "depth"):
        (root / folder).mkdir(exist_ok=True)
    pose_dir.mkdir(exist_ok=True)
    for i in range(num_frames):
        depth = rng.integers(0, 4000, size=depth_size[::-1], dtype=np.uint16)
        Image.fromarray(depth).save(root / "depth" / f"{i}.png")
        color = rng.integers(0, 256, size=(*color_size[::-1], 3), dtype=np.uint8)
        Image.fromarray(color).save(root / "color" / f"{i}.jpg")
        pose = np.eye(4)
        pose[:3, 3] = rng.normal(size=3)
        write_matrix(pose_dir / f"{i}.txt", pose)
    if layout == "openyolo":
        write_matrix(root / "intrinsics.txt", SCANNET_DEPTH_K)
    else:
        write_matrix(root / "intrinsic" / "intrinsic_color.txt", SCANNET_COLOR_K)
        write_matrix(root / "intrinsic" / "intrinsic_depth.txt", SCANNET_DEPTH_K)
    return root


@pytest.fixture
def scannet_scene(tmp_path: Path) -> Path:
    return make_scannet_scene(tmp_path / "scene0000_00")
