"""Per-view CLIP embeddings of proposals: how a proposal's 2D mask in a frame becomes a vector.

Two embedders with one interface (:meth:`embed`: a batch of frames, the masks of each, their
embeddings):

* :class:`MaskPoolingEmbedder` — folk's teacher (docs/method.md §4): every frame is encoded once
  (dense ViT features, batched over frames) and every mask seen in it is pooled from that one
  forward (``"mean"``: ``φ(Σ F·m / Σ m)``; ``"attention"``: masked attention in the last block).
* :class:`CropEmbedder` — the OpenMask3D-style baseline (:mod:`folk.teacher.baseline`): the
  bounding box of the mask cropped at several levels, each crop encoded by CLIP on its own.

Masks arrive as flat pixel ids over the depth image (``H_d × W_d``); the colour image covers
the same field of view at its own resolution (ScanNet's colour and depth cameras are taken as
aligned after resizing, as OpenMask3D and Open-YOLO 3D do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from folk.clip.defaults import POOLINGS
from folk.clip.dense import encode_dense, patch_grid
from folk.clip.loader import ClipModel
from folk.clip.pooling import area_weights_from_pixels, pool
from folk.errors import FolkInputError


@dataclass
class FrameMasks:
    """The masks of one frame: flat pixel ids over an ``height × width`` (depth) image."""

    color: np.ndarray  # (Hc, Wc, 3) uint8
    masks: list[np.ndarray]  # one array of flat pixel ids per mask
    height: int
    width: int


def input_size_for(clip: ClipModel, aspect: float, short_side: int | None) -> tuple[int, int]:
    """``(H, W)`` CLIP input for frames of width/height ``aspect``: the shorter side is
    ``short_side`` (default the model's own input side), the longer one keeps the aspect ratio
    rounded to whole patches."""
    ph, pw = clip.visual.patch_size if hasattr(clip.visual, "patch_size") else (32, 32)
    base = int(short_side or min(clip.image_size))
    if aspect >= 1:
        h = max(ph, round(base / ph) * ph)
        w = max(pw, round(base * aspect / pw) * pw)
    else:
        w = max(pw, round(base / pw) * pw)
        h = max(ph, round(base / aspect / ph) * ph)
    return int(h), int(w)


class MaskPoolingEmbedder:
    """folk's per-view embeddings: one dense forward per frame, masks pooled from it."""

    def __init__(self, clip: ClipModel, pooling: str = "attention", short_side: int | None = None):
        if pooling not in POOLINGS:
            raise FolkInputError(f"unknown pooling {pooling!r}; expected one of {POOLINGS}")
        self.clip, self.pooling, self.short_side = clip, pooling, short_side

    def embed(self, frames: list[FrameMasks]) -> list[tuple[np.ndarray, np.ndarray]]:
        if not frames:
            return []
        h0, w0 = frames[0].color.shape[:2]
        size = input_size_for(self.clip, w0 / h0, self.short_side)
        grid = patch_grid(self.clip, size)
        dense = encode_dense(self.clip, [f.color for f in frames], size=size)
        out = []
        for i, f in enumerate(frames):
            pix = [(ids // f.width, ids % f.width) for ids in (np.asarray(m, np.int64)
                                                              for m in f.masks)]
            w = area_weights_from_pixels(pix, (f.height, f.width), grid)
            e, valid = pool(self.clip.visual, dense.tokens[i], dense.last_input[i], grid, w,
                            self.pooling)
            out.append((e.cpu().numpy(), valid.cpu().numpy()))
        return out


def bbox_levels(rows: np.ndarray, cols: np.ndarray, levels: int, expansion: float,
                height: int, width: int) -> list[tuple[int, int, int, int]]:
    """OpenMask3D's multi-level boxes ``(x0, y0, x1, y1)`` (exclusive ends): the mask's bounding
    box, then expanded by ``level · ⌊expansion · size⌋`` on each side, clipped to the image."""
    y0, y1, x0, x1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    boxes = []
    for level in range(levels):
        ex = int((x1 - x0) * expansion) * level
        ey = int((y1 - y0) * expansion) * level
        boxes.append((max(0, x0 - ex), max(0, y0 - ey), min(width, x1 + ex), min(height, y1 + ey)))
    return boxes


def _clip_crop(image: np.ndarray, side: int) -> np.ndarray:
    """CLIP's own preprocessing of a crop: shorter side resized to ``side``, centre crop."""
    t = torch.tensor(image).permute(2, 0, 1)[None].float()
    h, w = t.shape[-2:]
    s = side / min(h, w)
    nh, nw = max(side, round(h * s)), max(side, round(w * s))
    t = torch.nn.functional.interpolate(t, size=(nh, nw), mode="bicubic", align_corners=False,
                                        antialias=True)
    top, left = (nh - side) // 2, (nw - side) // 2
    t = t[..., top:top + side, left:left + side]
    return t[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()


class CropEmbedder:
    """The OpenMask3D-style baseline: multi-level bounding-box crops, CLIP per crop, mean."""

    def __init__(self, clip: ClipModel, levels: int = 3, expansion: float = 0.1,
                 batch_size: int = 64):
        self.clip, self.levels, self.expansion = clip, int(levels), float(expansion)
        self.batch_size = batch_size

    def embed(self, frames: list[FrameMasks]) -> list[tuple[np.ndarray, np.ndarray]]:
        side = min(self.clip.image_size)
        crops, owner = [], []
        for i, f in enumerate(frames):
            hc, wc = f.color.shape[:2]
            sy, sx = hc / f.height, wc / f.width
            for k, ids in enumerate(f.masks):
                ids = np.asarray(ids, np.int64)
                if ids.size == 0:
                    continue
                rows, cols = ids // f.width, ids % f.width
                # depth pixel (r, c) covers [r, r+1) x [c, c+1): scale the box to colour pixels
                x0, y0, x1, y1 = cols.min() * sx, rows.min() * sy, (cols.max() + 1) * sx, \
                    (rows.max() + 1) * sy
                r = np.array([int(np.floor(y0)), int(np.ceil(y1)) - 1])
                c = np.array([int(np.floor(x0)), int(np.ceil(x1)) - 1])
                for bx0, by0, bx1, by1 in bbox_levels(r, c, self.levels, self.expansion, hc, wc):
                    crops.append(_clip_crop(f.color[by0:by1, bx0:bx1], side))
                    owner.append((i, k))
        emb = self.clip.encode_images(np.stack(crops), self.batch_size) if crops else None
        out = []
        for i, f in enumerate(frames):
            d = self.clip.embed_dim
            acc = np.zeros((len(f.masks), d), np.float32)
            n = np.zeros(len(f.masks), np.int64)
            out.append((acc, n))
        for j, (i, k) in enumerate(owner):
            out[i][0][k] += emb[j]
            out[i][1][k] += 1
        result = []
        for acc, n in out:
            valid = n > 0
            norms = np.linalg.norm(acc, axis=1, keepdims=True)
            e = np.where(valid[:, None], acc / np.maximum(norms, 1e-12), 0).astype(np.float32)
            result.append((e, valid))
        return result
