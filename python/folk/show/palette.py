"""Instance colours: a fixed palette of distinct colours, unlabelled points in a darker grey,
and predicted instances matched to ground-truth instances (IoU ≥ 0.5, greedy by IoU) so that a
matched pair shares one colour in both pictures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Distinct colours, most distinct first (Kelly's / Glasbey-like, no greys). Instance ``i`` gets
#: ``PALETTE[i % len(PALETTE)]``.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 210, 210), (240, 50, 230), (190, 210, 60), (250, 190, 212), (0, 128, 128),
    (220, 190, 255), (170, 110, 40), (255, 225, 25), (128, 0, 0), (120, 255, 160),
    (128, 128, 0), (255, 180, 130), (0, 0, 128), (255, 100, 100), (90, 90, 255),
    (0, 200, 120), (200, 0, 100), (100, 60, 180), (210, 150, 0),
)

#: The IoU from which a predicted instance counts as the same object as a GT instance.
MATCH_IOU = 0.5


def palette_color(i: int) -> tuple[int, int, int]:
    """Colour ``i`` of :data:`PALETTE` (cycling)."""
    return PALETTE[int(i) % len(PALETTE)]


def unlabelled_colors(scan_colors: np.ndarray) -> np.ndarray:
    """``(N, 3) uint8`` greys for points of no instance: darker than the instance colours, the
    scan's brightness kept faintly so that its structure still shows."""
    lum = np.asarray(scan_colors, np.float64) @ np.array([0.299, 0.587, 0.114])
    grey = 95 + 0.25 * lum
    return np.repeat(grey[:, None], 3, axis=1).astype(np.uint8)


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(K, I)`` IoU between the columns of ``a`` ``(N, K)`` and ``b`` ``(N, I)`` (bool)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    inter = a.T.astype(np.float32) @ b.astype(np.float32)
    union = a.sum(0)[:, None] + b.sum(0)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def match_instances(pred_masks: np.ndarray, gt_masks: np.ndarray,
                    min_iou: float = MATCH_IOU) -> np.ndarray:
    """``(K,) int64``: the GT instance each predicted instance is matched to, −1 for none.
    Greedy by IoU: the pair with the highest IoU is matched first, each instance at most once,
    pairs below ``min_iou`` never."""
    k, i = pred_masks.shape[1], gt_masks.shape[1]
    match = np.full(k, -1, np.int64)
    if k == 0 or i == 0:
        return match
    iou = mask_iou(pred_masks, gt_masks)
    taken = np.zeros(i, bool)
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        p, g = divmod(int(flat), i)
        if iou[p, g] < min_iou:
            break
        if match[p] < 0 and not taken[g]:
            match[p], taken[g] = g, True
    return match


@dataclass(frozen=True)
class InstanceColors:
    """Colour indices into :data:`PALETTE` of the predicted (``pred``, (K,)) and GT (``gt``,
    (I,)) instances, and the GT instance each prediction matched (``match``, (K,), −1: none)."""

    pred: np.ndarray
    gt: np.ndarray
    match: np.ndarray


def assign_colors(pred_masks: np.ndarray, gt_masks: np.ndarray | None = None) -> InstanceColors:
    """GT instance ``i`` gets colour ``i``; a prediction matched to it the same colour; every
    other prediction the next unused colour, in order."""
    k = pred_masks.shape[1]
    if gt_masks is None:
        return InstanceColors(np.arange(k), np.zeros(0, np.int64), np.full(k, -1, np.int64))
    match = match_instances(pred_masks, gt_masks)
    colors = match.copy()
    unmatched = np.flatnonzero(match < 0)
    colors[unmatched] = gt_masks.shape[1] + np.arange(unmatched.size)
    return InstanceColors(colors, np.arange(gt_masks.shape[1]), match)


def point_instance(masks: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """``(N,) int64``: the instance (column of ``masks`` ``(N, K)``) each point is drawn with,
    −1 for none. Where instances overlap, the one latest in ``order`` (default: column order)
    wins; pass ascending confidence so that the most confident instance shows."""
    n, k = masks.shape
    owner = np.full(n, -1, np.int64)
    for j in (range(k) if order is None else order):
        owner[masks[:, j]] = j
    return owner


def instance_point_colors(owner: np.ndarray, color_index: np.ndarray,
                          scan_colors: np.ndarray) -> np.ndarray:
    """``(N, 3) uint8``: palette colour ``color_index[owner]`` per point, grey where
    ``owner`` is −1."""
    out = unlabelled_colors(scan_colors)
    table = np.array([palette_color(c) for c in color_index], np.uint8).reshape(-1, 3)
    has = owner >= 0
    out[has] = table[owner[has]]
    return out
