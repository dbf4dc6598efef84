"""What distillation trains on, loaded once: for every proposal with a teacher view, its mean
point feature (the segment mean of the frozen features, computed here once), its teacher
target ē and its voted label c*.

Directory convention (one file per scene, found by scene name):

- ``--targets DIR``: ``<DIR>/<scene>.npz``, teacher targets (:mod:`folk.teacher.targets`);
- ``--features`` / ``--proposals``: as :mod:`folk.student.inputs` describes. The targets'
  proposals are the columns of the proposals file, in the same order.

Every scene must share the teacher's vocabulary and text embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from folk.errors import FolkInputError
from folk.ops.segment_mean import pool_proposals
from folk.student.inputs import SceneInputs
from folk.teacher.targets import TeacherTargets, load_targets


@dataclass
class ProposalTable:
    """One row per proposal, over several scenes."""

    pooled: np.ndarray  # (M, C) float32 mean point feature
    targets: np.ndarray  # (M, D) float32 teacher target ē (zeros where labels == -1)
    labels: np.ndarray  # (M,) int64 voted class c*, -1 = no teacher view
    scene_index: np.ndarray  # (M,) int32 index into scenes
    scenes: list[str]

    @property
    def num_rows(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_valid(self) -> int:
        return int((self.labels >= 0).sum())

    @classmethod
    def concat(cls, parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], dim_c: int,
               dim_d: int) -> ProposalTable:
        scenes = [p[0] for p in parts]
        if not parts:
            return cls(np.zeros((0, dim_c), np.float32), np.zeros((0, dim_d), np.float32),
                       np.zeros(0, np.int64), np.zeros(0, np.int32), [])
        return cls(np.concatenate([p[1] for p in parts]).astype(np.float32),
                   np.concatenate([p[2] for p in parts]).astype(np.float32),
                   np.concatenate([p[3] for p in parts]).astype(np.int64),
                   np.concatenate([np.full(len(p[3]), i, np.int32)
                                   for i, p in enumerate(parts)]), scenes)


@dataclass
class DistillData:
    vocabulary: tuple[str, ...]
    text_embeddings: np.ndarray  # (C, D) float32
    feature_dim: int
    feature_name: str
    train: ProposalTable  # proposals with a teacher view only
    val: ProposalTable  # every proposal of the validation scenes
    teacher_meta: dict = field(default_factory=dict)

    @property
    def target_dim(self) -> int:
        return int(self.text_embeddings.shape[1])


def targets_file(directory: str | Path, scene: str) -> Path:
    path = Path(directory) / f"{scene}.npz"
    if not path.is_file():
        raise FolkInputError(f"no teacher targets for scene {scene!r} (expected {path.name})",
                             directory)
    return path


def load_distill_data(targets_dir: str | Path, inputs: SceneInputs, train_scenes: list[str],
                      val_scenes: list[str] = (), progress: bool = False) -> DistillData:
    """Load and pool every scene (see the module docstring)."""
    train_scenes, val_scenes = list(train_scenes), list(val_scenes)
    if not train_scenes:
        raise FolkInputError("no training scenes")
    both = sorted(set(train_scenes) & set(val_scenes))
    if both:
        raise FolkInputError(f"{len(both)} scene(s) are both training and validation scenes, "
                             f"e.g. {both[:5]}")
    reference: TeacherTargets | None = None
    feature_dim: int | None = None
    parts: dict[str, list] = {"train": [], "val": []}
    from folk.progress import Progress

    jobs = [("train", s) for s in train_scenes] + [("val", s) for s in val_scenes]
    for split, scene in Progress(jobs, desc="load scenes", unit="scene",
                                    enabled=progress, per_item=False):
        path = targets_file(targets_dir, scene)
        t = load_targets(path)
        if reference is None:
            reference = t
        elif list(t.vocabulary) != list(reference.vocabulary):
            raise FolkInputError(f"teacher targets of {scene!r} use another vocabulary than "
                                 f"those of {reference.scene!r}", path)
        elif not np.allclose(t.text_embeddings, reference.text_embeddings, atol=1e-5):
            raise FolkInputError(f"teacher targets of {scene!r} hold other text embeddings than "
                                 f"those of {reference.scene!r} (another CLIP model?)", path)
        features, proposals = inputs.load(scene)
        if proposals.num_proposals != t.num_proposals:
            raise FolkInputError(f"scene {scene!r}: {t.num_proposals} teacher targets but "
                                 f"{proposals.num_proposals} proposals (targets must follow the "
                                 f"proposal columns)", path)
        if feature_dim is None:
            feature_dim = features.dim
        elif features.dim != feature_dim:
            raise FolkInputError(f"scene {scene!r}: {features.dim}-dim features, earlier scenes "
                                 f"have {feature_dim}")
        pooled = pool_proposals(features, proposals)
        rows = t.valid if split == "train" else np.ones(t.num_proposals, dtype=bool)
        parts[split].append((scene, pooled[rows], t.targets[rows], t.labels[rows]))
    assert reference is not None and feature_dim is not None
    d = reference.dim
    data = DistillData(
        vocabulary=tuple(reference.vocabulary),
        text_embeddings=reference.text_embeddings.astype(np.float32),
        feature_dim=feature_dim, feature_name=inputs.feature_name,
        train=ProposalTable.concat(parts["train"], feature_dim, d),
        val=ProposalTable.concat(parts["val"], feature_dim, d),
        teacher_meta=dict(reference.meta))
    if data.train.num_rows == 0:
        raise FolkInputError("the training scenes have no proposal with a teacher view")
    return data
