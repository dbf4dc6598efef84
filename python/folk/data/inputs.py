"""Readers of the per-scene inputs that arrive as files beside a scan: Mask3D proposals and
scores, point features, and ground truth (formats in docs/formats.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folk.data.arrays import load_array
from folk.data.int_lines import read_int_lines
from folk.data.scene import GroundTruth, PointFeatures, Proposals
from folk.errors import FolkInputError


def read_proposals(masks_path: str | Path, num_points: int | None = None,
                   scores_path: str | Path | None = None, allow_pickle: bool = False,
                   ) -> Proposals:
    """Class-agnostic proposals as Mask3D / OpenMask3D export them: an ``(N, Q)`` 0/1 array
    (``<scene>_masks.pt``, a pickled float16 NumPy array; or ``.npy``/``.npz``), and optionally
    ``(Q,)`` scores (default: all ones).

    ``num_points`` is the scene's vertex count; a mask of another length is an error.
    """
    masks_path = Path(masks_path)
    masks = load_array(masks_path, key="masks", allow_pickle=allow_pickle)
    if masks.ndim != 2:
        raise FolkInputError(f"proposal masks must be 2-D (N_points x Q), got {masks.shape}",
                             masks_path)
    if num_points is not None and masks.shape[0] != num_points:
        if masks.shape[1] == num_points:
            raise FolkInputError(f"masks are {masks.shape}: looks transposed (Q x N); folk "
                                 f"expects N_points x Q with N = {num_points}", masks_path)
        raise FolkInputError(f"masks cover {masks.shape[0]} points but the scene has "
                             f"{num_points}", masks_path)
    if masks.dtype != bool:
        if not np.isfinite(masks).all() or not np.isin(masks, (0, 1)).all():
            raise FolkInputError("proposal masks must hold only 0 and 1", masks_path)
        masks = masks.astype(bool)
    if masks.shape[1] == 0:
        raise FolkInputError("the file holds no proposals (Q = 0)", masks_path)
    empty = np.flatnonzero(~masks.any(axis=0))
    if empty.size:
        raise FolkInputError(f"{empty.size} proposal(s) have no points, e.g. columns "
                             f"{empty[:5].tolist()}", masks_path)
    if scores_path is None:
        scores = np.ones(masks.shape[1], dtype=np.float32)
    else:
        scores = load_array(scores_path, key="scores", allow_pickle=allow_pickle).reshape(-1)
        if scores.shape[0] != masks.shape[1]:
            raise FolkInputError(f"{scores.shape[0]} scores for {masks.shape[1]} proposals",
                                 scores_path)
        if not np.isfinite(scores).all():
            raise FolkInputError("scores contain NaN or inf", scores_path)
    return Proposals(masks=masks, scores=scores)


def read_features(path: str | Path, num_points: int | None = None,
                  allow_pickle: bool = False) -> PointFeatures:
    """Per-point features ``(N, C)`` (``.npy``, ``.npz`` key ``features``, ``.pt``)."""
    path = Path(path)
    features = load_array(path, key="features", allow_pickle=allow_pickle)
    if features.ndim != 2:
        raise FolkInputError(f"point features must be 2-D (N x C), got {features.shape}", path)
    if num_points is not None and features.shape[0] != num_points:
        raise FolkInputError(f"features for {features.shape[0]} points but the scene has "
                             f"{num_points}", path)
    if not np.issubdtype(features.dtype, np.number) or not np.isfinite(features).all():
        raise FolkInputError("point features must be finite numbers", path)
    return PointFeatures(features.astype(np.float32, copy=False))


def check_gt(ids: np.ndarray, path: str | Path | None = None, scene: str | None = None) -> None:
    """Raise :class:`FolkInputError` unless ``ids`` is a 1-D array of non-negative integers
    (naming ``path`` / ``scene`` when given)."""
    where = f"scene {scene!r}: " if scene is not None else ""
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise FolkInputError(
            f"{where}ground truth must be a 1-D integer array, got {ids.dtype} {ids.shape}", path)
    if ids.size and ids.min() < 0:
        bad = int(np.flatnonzero(ids < 0)[0])
        raise FolkInputError(
            f"{where}ground truth must be non-negative (label_id*1000+instance), vertex {bad} "
            f"is {int(ids[bad])}", path)


def read_ground_truth(path: str | Path, num_points: int | None = None) -> GroundTruth:
    """ScanNet benchmark GT: one ``label_id*1000 + instance + 1`` integer per vertex (line);
    ``num_points``: the scene's, checked."""
    path = Path(path)
    ids = read_int_lines(path, "ground-truth")
    if ids.size == 0:
        raise FolkInputError("ground-truth file is empty", path)
    check_gt(ids, path)
    if num_points is not None and ids.size != num_points:
        raise FolkInputError(f"{ids.size} values but the scene has {num_points} points", path)
    return GroundTruth(ids)
