"""Coloured point clouds for MeshLab, Open3D or Blender: a scene's points coloured by
instance (the scene picture's colours), or by each instance's similarity to a text query."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folk.data.ply import write_ply
from folk.errors import FolkInputError
from folk.show.palette import instance_point_colors, point_instance, unlabelled_colors

#: Colour ramp of similarities, low to high (dark blue, teal, yellow, red).
SIMILARITY_RAMP = np.array([[40, 40, 120], [30, 150, 150], [250, 220, 40], [220, 30, 30]],
                           np.float64)


def write_instance_ply(path: str | Path, points: np.ndarray, scan_colors: np.ndarray,
                       masks: np.ndarray, color_index: np.ndarray,
                       draw_order: np.ndarray | None = None,
                       normals: np.ndarray | None = None) -> Path:
    """``path``: every point coloured with :data:`~folk.show.palette.PALETTE` colour
    ``color_index[k]`` of its instance ``k`` (column of ``masks`` (N, K); overlaps: the last
    in ``draw_order``), grey for points of no instance."""
    if masks.shape[0] != points.shape[0]:
        raise FolkInputError(f"masks cover {masks.shape[0]} points, the scene has "
                             f"{points.shape[0]}")
    owner = point_instance(masks, draw_order)
    write_ply(path, points, instance_point_colors(owner, color_index, scan_colors),
              normals=normals)
    return Path(path)


def similarity_colors(values: np.ndarray) -> np.ndarray:
    """``(N, 3) uint8`` colours of ``values`` on :data:`SIMILARITY_RAMP`, the lowest value
    mapped to its start and the highest to its end."""
    v = np.asarray(values, np.float64)
    span = v.max() - v.min() if v.size else 0.0
    t = (v - v.min()) / span if span > 0 else np.zeros_like(v)
    pos = t * (len(SIMILARITY_RAMP) - 1)
    i = np.minimum(pos.astype(np.int64), len(SIMILARITY_RAMP) - 2)
    frac = (pos - i)[:, None]
    return np.round(SIMILARITY_RAMP[i] * (1 - frac) + SIMILARITY_RAMP[i + 1] * frac
                    ).astype(np.uint8)


def write_similarity_ply(path: str | Path, points: np.ndarray, scan_colors: np.ndarray,
                         masks: np.ndarray, similarity: np.ndarray,
                         normals: np.ndarray | None = None) -> Path:
    """``path``: the points of instance ``k`` (column of ``masks`` (N, K)) coloured by its
    ``similarity[k]`` to a query on :data:`SIMILARITY_RAMP` (where instances overlap, the
    most similar shows), grey for points of no instance."""
    similarity = np.asarray(similarity, np.float64).reshape(-1)
    if similarity.shape[0] != masks.shape[1]:
        raise FolkInputError(f"{similarity.shape[0]} similarities for {masks.shape[1]} "
                             "instances")
    owner = point_instance(masks, np.argsort(similarity, kind="stable"))
    colors = unlabelled_colors(scan_colors)
    has = owner >= 0
    if has.any():
        colors[has] = similarity_colors(similarity)[owner[has]]
    write_ply(path, points, colors, normals=normals)
    return Path(path)
