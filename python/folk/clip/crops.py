"""Object crops from synthetic scenes: training and zero-shot test data of the small CLIP.

A scene written by :func:`folk.synthetic.generate_scene` has per-pixel instance ids
(``instance/<i>.png``) and the class of every object (``meta.json``). Each object visible in a
frame (enough pixels, occluded or not) gives a square crop around the bounding box of its visible
pixels, enlarged by a random margin, with the room and other objects as background; the
object's own pixels in the crop are kept as a mask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


@dataclass
class Crops:
    images: np.ndarray  # (N, S, S, 3) uint8
    masks: np.ndarray  # (N, S, S) bool: the object's visible pixels in the crop
    labels: np.ndarray  # (N,) int64 index into vocabulary
    vocabulary: list[str]
    groups: np.ndarray  # (N,) int64 one id per (scene, object)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @staticmethod
    def concatenate(parts: list[Crops]) -> Crops:
        offset, groups = 0, []
        for p in parts:
            groups.append(p.groups + offset)
            offset += int(p.groups.max()) + 1 if len(p) else 0
        return Crops(np.concatenate([p.images for p in parts]),
                     np.concatenate([p.masks for p in parts]),
                     np.concatenate([p.labels for p in parts]), parts[0].vocabulary,
                     np.concatenate(groups))


def _resize(t: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    if mode == "area":
        return F.interpolate(t, size=(size, size), mode="area")
    return F.interpolate(t, size=(size, size), mode="bicubic", align_corners=False,
                         antialias=True)


def scene_crops(scene_root: str | Path, vocabulary: list[str], rng: np.random.Generator,
                size: int = 64, margin: tuple[float, float] = (0.05, 0.5),
                min_pixels: int = 1000, max_views: int = 16, frame_step: int = 1,
                min_dominance: float = 0.5) -> Crops:
    """Crops of every object of one synthetic scene.

    Args:
        scene_root: the scene folder (with ``meta.json``, ``color/``, ``instance/``).
        vocabulary: class names; objects of other classes are skipped.
        rng: draws margins and which views of an object to keep.
        size: crop side in pixels.
        margin: range of the margin added on each side, as a fraction of the box's longer side.
        min_pixels: an object needs this many visible pixels in a frame to be cropped there.
        max_views: at most this many frames per object (chosen at random).
        frame_step: use every ``frame_step``-th frame.
        min_dominance: the object must own at least this fraction of the object pixels inside
            its own bounding box (others may occlude it or stand beside it, but not fill it).
    """
    root = Path(scene_root)
    meta = json.loads((root / "meta.json").read_text())
    cls = {o["instance_id"]: o["class_name"] for o in meta["objects"]}
    index = {c: i for i, c in enumerate(vocabulary)}
    frames = sorted(int(p.stem) for p in (root / "instance").glob("*.png"))[::frame_step]
    seen: dict[int, list[tuple[int, tuple[int, int, int, int]]]] = {}
    for f in frames:
        inst = np.asarray(Image.open(root / "instance" / f"{f}.png"))
        ids, counts = np.unique(inst, return_counts=True)
        for i, n in zip(ids.tolist(), counts.tolist(), strict=True):
            if i in cls and cls[i] in index and n >= min_pixels:
                ys, xs = np.nonzero(inst == i)
                box = (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)
                seen.setdefault(i, []).append((f, box))
    object_ids = np.array(sorted(cls), dtype=np.int64)
    images, masks, labels, groups = [], [], [], []
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for g, (i, views) in enumerate(sorted(seen.items())):
        kept = 0
        for k in rng.permutation(len(views)).tolist():
            if kept == max_views:
                break
            f, (y0, y1, x0, x1) = views[k]
            if f not in cache:
                cache.clear()
                cache[f] = (np.asarray(Image.open(root / "color" / f"{f}.jpg").convert("RGB")),
                            np.asarray(Image.open(root / "instance" / f"{f}.png")))
            color, inst = cache[f]
            side = max(y1 - y0, x1 - x0) * (1 + 2 * rng.uniform(*margin))
            cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
            half = max(side / 2, 8.0)
            top, left = round(cy - half), round(cx - half)
            s = round(2 * half)
            h, w = inst.shape
            pad = max(0, -top, -left, top + s - h, left + s - w)
            img = np.pad(color, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else color
            obj = np.pad(inst == i, pad) if pad else inst == i
            img = img[top + pad:top + pad + s, left + pad:left + pad + s]
            obj = obj[top + pad:top + pad + s, left + pad:left + pad + s]
            box = inst[y0:y1, x0:x1]
            if (box == i).sum() < min_dominance * max(np.isin(box, object_ids).sum(), 1):
                continue  # mostly other objects, even within the object's own box
            kept += 1
            t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
            images.append(_resize(t, size, "bicubic")[0].permute(1, 2, 0).clamp(0, 255)
                          .round().to(torch.uint8).numpy())
            mt = torch.from_numpy(obj.astype(np.float32))[None, None]
            masks.append(_resize(mt, size, "area")[0, 0].numpy() >= 0.5)
            labels.append(index[cls[i]])
            groups.append(g)
    if not images:
        return Crops(np.zeros((0, size, size, 3), np.uint8), np.zeros((0, size, size), bool),
                     np.zeros(0, np.int64), list(vocabulary), np.zeros(0, np.int64))
    return Crops(np.stack(images), np.stack(masks), np.array(labels, np.int64),
                 list(vocabulary), np.array(groups, np.int64))


def zero_shot_accuracy(clip, crops: Crops, template: str = "a {} in the scene") -> float:
    """Top-1 accuracy of ``clip`` on ``crops`` with the prompt ``template`` over their vocabulary."""
    from folk.clip.text import text_embeddings

    text = text_embeddings(clip, crops.vocabulary, template, cache_dir=False)
    image = clip.encode_images(crops.images)
    pred = (image @ text.T).argmax(axis=1)
    return float((pred == crops.labels).mean())


@dataclass
class FrameObjects:
    """Whole frames (resized) and the patch weights of every object visible in them: what the
    teacher pools (training data for the dense features of the small CLIP)."""

    images: np.ndarray  # (M, H, W, 3) uint8
    frame: np.ndarray  # (K,) int64 index into images, one row per visible object
    labels: np.ndarray  # (K,) int64 index into vocabulary
    weights: np.ndarray  # (K, h, w) float32 covered fraction of each patch
    vocabulary: list[str]

    @staticmethod
    def concatenate(parts: list[FrameObjects]) -> FrameObjects:
        offsets = np.cumsum([0] + [len(p.images) for p in parts])
        return FrameObjects(np.concatenate([p.images for p in parts]),
                            np.concatenate([p.frame + o for p, o in zip(parts, offsets,
                                                                        strict=False)]),
                            np.concatenate([p.labels for p in parts]),
                            np.concatenate([p.weights for p in parts]), parts[0].vocabulary)


def scene_frames(scene_root: str | Path, vocabulary: list[str], size: tuple[int, int],
                 grid: tuple[int, int], frame_step: int = 4,
                 min_pixels: int = 1000) -> FrameObjects:
    """Every ``frame_step``-th frame of a synthetic scene resized to ``size`` ``(H, W)``, with
    the patch weights (on ``grid``) of each object of ``vocabulary`` that has at least
    ``min_pixels`` visible pixels in it."""
    from folk.clip.pooling import area_weights

    root = Path(scene_root)
    meta = json.loads((root / "meta.json").read_text())
    cls = {o["instance_id"]: o["class_name"] for o in meta["objects"]}
    index = {c: i for i, c in enumerate(vocabulary)}
    frames = sorted(int(p.stem) for p in (root / "instance").glob("*.png"))[::frame_step]
    images, frame, labels, weights = [], [], [], []
    for f in frames:
        inst = np.asarray(Image.open(root / "instance" / f"{f}.png"))
        ids, counts = np.unique(inst, return_counts=True)
        keep = [i for i, n in zip(ids.tolist(), counts.tolist(), strict=True)
                if i in cls and cls[i] in index and n >= min_pixels]
        if not keep:
            continue
        color = np.asarray(Image.open(root / "color" / f"{f}.jpg").convert("RGB"))
        t = torch.from_numpy(color.copy()).permute(2, 0, 1)[None].float()
        t = F.interpolate(t, size=size, mode="bicubic", align_corners=False, antialias=True)
        images.append(t[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy())
        for i in keep:
            frame.append(len(images) - 1)
            labels.append(index[cls[i]])
            weights.append(area_weights(inst == i, grid))
    h, w = grid
    return FrameObjects(np.stack(images) if images else np.zeros((0, *size, 3), np.uint8),
                        np.array(frame, np.int64), np.array(labels, np.int64),
                        np.stack(weights) if weights else np.zeros((0, h, w), np.float32),
                        list(vocabulary))
