"""Teacher targets: what the teacher produces per scene and distillation consumes.

One ``.npz`` per scene, written atomically, with a format version. Proposals are the columns of
the scene's proposal masks, in the same order. A proposal with no usable view has ``labels == -1``
and a zero ``targets`` row; distillation leaves it out of the loss.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from folk.errors import FolkInputError
from folk.files import save_npz

FORMAT_VERSION = 1


@dataclass
class TeacherTargets:
    scene: str
    vocabulary: list[str]  # class names; labels index into it
    text_embeddings: np.ndarray  # (C, D) float32, L2-normalised, "a {class} in the scene"
    view_ids: np.ndarray  # (Q, K) int32 frame ids of the kept views, -1 padded
    view_embeddings: np.ndarray  # (Q, K, D) float32, L2-normalised, zero where padded
    view_labels: np.ndarray  # (Q, K) int32 nearest class per view, -1 padded
    labels: np.ndarray  # (Q,) int64 voted class, -1 = no usable view
    targets: np.ndarray  # (Q, D) float32 normalised mean of the agreeing views (zeros if none)
    meta: dict = field(default_factory=dict)  # model name, teacher config, timings, ...

    def __post_init__(self) -> None:
        q, d = self.targets.shape
        c = len(self.vocabulary)
        expected = {"text_embeddings": (c, d), "view_ids": (q, self.view_ids.shape[1]),
                    "view_embeddings": (q, self.view_ids.shape[1], d),
                    "view_labels": self.view_ids.shape, "labels": (q,)}
        for name, shape in expected.items():
            if getattr(self, name).shape != tuple(shape):
                raise FolkInputError(f"teacher targets for {self.scene}: {name} has shape "
                                     f"{getattr(self, name).shape}, expected {tuple(shape)}")

    @property
    def num_proposals(self) -> int:
        return int(self.targets.shape[0])

    @property
    def dim(self) -> int:
        return int(self.targets.shape[1])

    @property
    def valid(self) -> np.ndarray:
        """``(Q,) bool``: proposals with at least one usable view."""
        return self.labels >= 0


def save_targets(path: str | Path, t: TeacherTargets) -> None:
    save_npz(path, format_version=np.array(FORMAT_VERSION), scene=np.array(t.scene),
             vocabulary=np.array(t.vocabulary), text_embeddings=t.text_embeddings.astype(np.float32),
             view_ids=t.view_ids.astype(np.int32), view_embeddings=t.view_embeddings.astype(np.float32),
             view_labels=t.view_labels.astype(np.int32), labels=t.labels.astype(np.int64),
             targets=t.targets.astype(np.float32), meta=np.array(json.dumps(t.meta)))


def load_targets(path: str | Path) -> TeacherTargets:
    path = Path(path)
    if not path.is_file():
        raise FolkInputError("teacher targets file not found", path)
    try:
        with np.load(path, allow_pickle=False) as z:
            version = int(z["format_version"])
            if version != FORMAT_VERSION:
                raise FolkInputError(f"teacher targets format {version}, this folk reads "
                                     f"{FORMAT_VERSION}: regenerate with `folk teacher`", path)
            targets = TeacherTargets(
                scene=str(z["scene"]), vocabulary=[str(v) for v in z["vocabulary"]],
                text_embeddings=z["text_embeddings"], view_ids=z["view_ids"],
                view_embeddings=z["view_embeddings"], view_labels=z["view_labels"],
                labels=z["labels"], targets=z["targets"], meta=json.loads(str(z["meta"])))
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FolkInputError(f"not a folk teacher targets file ({exc})", path) from None
    _check_finite(targets, path)
    return targets


def _check_finite(t: TeacherTargets, path: Path) -> None:
    """NaN or inf in the embeddings would train a NaN student: refuse the file."""
    for name in ("text_embeddings", "view_embeddings", "targets"):
        bad = ~np.isfinite(getattr(t, name))
        if bad.any():
            raise FolkInputError(f"{name} holds {int(bad.sum())} NaN or infinite value(s): "
                                 "regenerate these targets with `folk teacher --overwrite`",
                                 path)
