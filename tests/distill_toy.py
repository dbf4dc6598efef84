"""A tiny learnable distillation problem on disk (shared by the student / distill / predict
tests): each proposal's points carry a noisy prototype of its class, and the teacher's target
is a noisy copy of that class's text embedding."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folk.teacher.targets import TeacherTargets, save_targets

CLASSES = ["chair", "table", "lamp", "plant"]  # ScanNet200 names
C_DIM, D_DIM = 8, 16


def make_toy(root: Path, scenes: list[str], *, num_proposals: int = 10, points_each: int = 20,
             seed: int = 0) -> dict:
    """Writes ``root/{targets,features,proposals}/`` and returns what the tests need."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(len(CLASSES), C_DIM)).astype(np.float32) * 2
    text = rng.normal(size=(len(CLASSES), D_DIM))
    text = (text / np.linalg.norm(text, axis=1, keepdims=True)).astype(np.float32)
    for sub in ("targets", "features", "proposals"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    info = {"classes": {}, "text": text, "root": root}
    for s, scene in enumerate(scenes):
        srng = np.random.default_rng(seed * 1000 + s + 1)
        n = num_proposals * points_each + 7  # a few background points
        classes = srng.integers(len(CLASSES), size=num_proposals)
        feats = srng.normal(scale=0.3, size=(n, C_DIM)).astype(np.float32)
        masks = np.zeros((n, num_proposals), dtype=bool)
        for q in range(num_proposals):
            rows = slice(q * points_each, (q + 1) * points_each)
            masks[rows, q] = True
            feats[rows] += prototypes[classes[q]]
        labels = classes.astype(np.int64).copy()
        labels[0] = -1  # one proposal without a teacher view
        targets = text[classes] + srng.normal(scale=0.3, size=(num_proposals, D_DIM))
        targets /= np.linalg.norm(targets, axis=1, keepdims=True)
        targets[labels < 0] = 0
        k = 2
        save_targets(root / "targets" / f"{scene}.npz", TeacherTargets(
            scene=scene, vocabulary=list(CLASSES), text_embeddings=text,
            view_ids=np.zeros((num_proposals, k), np.int32),
            view_embeddings=np.repeat(targets[:, None, :], k, axis=1).astype(np.float32),
            view_labels=np.repeat(labels[:, None], k, axis=1).astype(np.int32),
            labels=labels, targets=targets.astype(np.float32), meta={"model": "toy"}))
        np.save(root / "features" / f"{scene}.npy", feats)
        np.save(root / "proposals" / f"{scene}_masks.npy", masks)
        np.save(root / "proposals" / f"{scene}_scores.npy",
                srng.uniform(0.5, 1.0, num_proposals).astype(np.float32))
        info["classes"][scene] = classes
    return info
