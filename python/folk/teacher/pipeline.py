"""The teacher pipeline: scene + proposals → visibility → views → masks → embeddings → vote.

:class:`Teacher` turns one scene into :class:`~folk.teacher.targets.TeacherTargets`;
:func:`run_teacher` does it for many scenes (one targets file per scene, ``<out>/<scene>.npz``,
written atomically; finished scenes are skipped, so an interrupted run resumes; ``shard``
splits the scene list between processes).

Two teachers, selected by :attr:`TeacherConfig.teacher`:

``"folk"`` (docs/method.md §1–5)
    visibility counts per (frame, proposal) → multi-view selection (top-k by visible points,
    pruned by rotation angle θ) → sparse masks of the visible points' pixels → density-guided
    completion → one dense CLIP forward per frame, masks pooled from it → label vote.
    Switches for the ablation: ``dense_masks=False`` (pool the sparse masks),
    ``views.theta_deg=0`` (no rotation pruning: plain top-k).

``"openmask3d"`` (baseline, from OpenMask3D's published description)
    top-k views by visible points (k = 5, no rotation pruning) → bounding box of the visible
    points' pixels → crops at 3 levels (expansion 0.1) → CLIP per crop → mean over crops and
    views. Its label is the class nearest to that mean (OpenMask3D has no vote); ``view_labels``
    still records each view's nearest class.

A proposal with no usable view (never visible in any frame) gets label ``-1``; such proposals
are listed in ``meta["no_view"]`` and reported, never silently dropped.
"""

from __future__ import annotations

import json
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from folk.clip.loader import ClipModel
from folk.clip.text import text_embeddings
from folk.data.membership import ProposalMembership
from folk.data.scene import Proposals, Scene
from folk.errors import FolkInputError
from folk.ops.mask_completion import complete_masks
from folk.ops.views import select_views
from folk.ops.visibility import PixelLists, visibility_counts, visible_pixels
from folk.teacher.config import TeacherConfig
from folk.teacher.embed import CropEmbedder, FrameMasks, MaskPoolingEmbedder
from folk.teacher.targets import TeacherTargets, load_targets, save_targets
from folk.teacher.vote import VoteResult, vote


def _np(x) -> np.ndarray:
    """A kernel result (NumPy, or a torch tensor on any device) as a NumPy array."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _intrinsics_rows(scene: Scene, frames: Sequence[int]) -> np.ndarray:
    return np.array([[k.fx, k.fy, k.cx, k.cy] for k in
                     (scene.frames[i].depth_intrinsics for i in frames)], np.float32)


class Teacher:
    """A configured teacher: CLIP loaded and text embedded once, then :meth:`run` per scene."""

    def __init__(self, config: TeacherConfig, vocabulary: Sequence[str],
                 clip: ClipModel | None = None):
        self.config = config
        self.vocabulary = [str(v) for v in vocabulary]
        if not self.vocabulary:
            raise FolkInputError("the teacher needs a non-empty vocabulary")
        self.clip = clip if clip is not None else config.clip.load()
        self.text = text_embeddings(self.clip, self.vocabulary, config.clip.template,
                                    config.clip.text_cache_dir)
        if config.teacher == "folk":
            self.embedder = MaskPoolingEmbedder(self.clip, config.clip.pooling,
                                                config.clip.resolved_short_side())
        else:
            self.embedder = CropEmbedder(self.clip, config.crop_levels, config.crop_expansion)

    # -- steps ------------------------------------------------------------------------------
    def visibility(self, scene: Scene, membership: ProposalMembership) -> np.ndarray:
        """``(F, Q) int32`` visible points of each proposal in each usable frame."""
        counts = []
        for start in range(0, len(scene.frames), self.config.frame_chunk):
            ids = range(start, min(start + self.config.frame_chunk, len(scene.frames)))
            depths = np.stack([scene.frames[i].load_depth() for i in ids])
            poses = np.stack([scene.frames[i].pose for i in ids])
            vc = visibility_counts(scene.points, poses, _intrinsics_rows(scene, ids), depths,
                                   membership, **self.config.visibility.kwargs(),
                                   device=self.config.geometry_device)
            counts.append(_np(vc.counts))
        return np.concatenate(counts) if counts else np.zeros((0, membership.num_proposals),
                                                              np.int32)

    def select(self, scene: Scene, counts: np.ndarray) -> np.ndarray:
        """``(Q, k)`` frame indices (into ``scene.frames``), −1 padded."""
        return select_views(counts, scene.poses, **self.config.views.kwargs())

    def embed_views(self, scene: Scene, membership: ProposalMembership, views: np.ndarray,
                    timings: dict) -> tuple[np.ndarray, np.ndarray]:
        """``(Q, k, D)`` view embeddings and ``(Q, k)`` validity."""
        q, k = views.shape
        d = self.clip.embed_dim
        emb = np.zeros((q, k, d), np.float32)
        valid = np.zeros((q, k), bool)
        used = np.unique(views[views >= 0])
        batch = max(1, self.config.clip.batch_frames)
        for start in range(0, used.size, batch):
            frames = used[start:start + batch]
            t0 = time.perf_counter()
            depths = np.stack([scene.frames[i].load_depth() for i in frames])
            poses = np.stack([scene.frames[i].pose for i in frames])
            local = {int(f): j for j, f in enumerate(frames)}
            qi, slot = np.nonzero(np.isin(views, frames))
            pairs = np.stack([qi, [local[int(f)] for f in views[qi, slot]]], 1).astype(np.int64)
            masks: PixelLists = visible_pixels(scene.points, poses,
                                               _intrinsics_rows(scene, frames), depths,
                                               membership, pairs,
                                               **self.config.visibility.kwargs(),
                                               device=self.config.geometry_device)
            t1 = time.perf_counter()
            if self.config.teacher == "folk" and self.config.dense_masks:
                masks = complete_masks(masks, **self.config.completion.kwargs(),
                                       device=self.config.geometry_device)
            masks = PixelLists(_np(masks.offsets), _np(masks.pixels), masks.height, masks.width)
            t2 = time.perf_counter()
            per_frame = []
            for j, f in enumerate(frames):
                rows = np.flatnonzero(pairs[:, 1] == j)
                per_frame.append((rows, FrameMasks(
                    color=scene.frames[int(f)].load_color(),
                    masks=[np.asarray(masks[r]) for r in rows],
                    height=masks.height, width=masks.width)))
            results = self.embedder.embed([fm for _, fm in per_frame])
            for (rows, _), (e, ok) in zip(per_frame, results, strict=True):
                emb[qi[rows], slot[rows]] = e
                valid[qi[rows], slot[rows]] = ok
            t3 = time.perf_counter()
            timings["masks"] = timings.get("masks", 0.0) + (t1 - t0)
            timings["completion"] = timings.get("completion", 0.0) + (t2 - t1)
            timings["clip"] = timings.get("clip", 0.0) + (t3 - t2)
        return emb, valid

    def aggregate(self, emb: np.ndarray, valid: np.ndarray) -> VoteResult:
        if self.config.teacher == "folk":
            return vote(emb, valid, self.text)
        # OpenMask3D: mean of all view embeddings, nearest class of the mean
        mean = (emb * valid[..., None]).sum(1)
        norms = np.linalg.norm(mean, axis=1, keepdims=True)
        targets = np.where(norms > 0, mean / np.maximum(norms, 1e-12), 0).astype(np.float32)
        labels = np.where(valid.any(1), (targets @ self.text.T).argmax(1), -1).astype(np.int64)
        view_labels = np.where(valid, (emb @ self.text.T).argmax(-1), -1).astype(np.int32)
        return VoteResult(view_labels=view_labels, labels=labels, targets=targets)

    # -- one scene --------------------------------------------------------------------------
    def run(self, scene: Scene, proposals: Proposals) -> TeacherTargets:
        if proposals.num_points != scene.num_points:
            raise FolkInputError(f"scene {scene.name}: proposals cover {proposals.num_points} "
                                 f"points, the scene has {scene.num_points}")
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        membership = ProposalMembership.from_masks(proposals.masks)
        counts = self.visibility(scene, membership)
        t1 = time.perf_counter()
        views = self.select(scene, counts)
        t2 = time.perf_counter()
        emb, valid = self.embed_views(scene, membership, views, timings)
        t3 = time.perf_counter()
        result = self.aggregate(emb, valid)
        t4 = time.perf_counter()
        frame_ids = scene.frame_ids
        view_ids = np.where(valid, frame_ids[np.maximum(views, 0)], -1).astype(np.int32)
        no_view = np.flatnonzero(result.labels < 0).tolist()
        timings.update(visibility=t1 - t0, views=t2 - t1, embed=t3 - t2, vote=t4 - t3,
                       total=t4 - t0)
        meta = {
            "teacher": self.config.teacher,
            "clip": {"model": self.clip.name, "identity": self.clip.identity,
                     "pretrained": self.clip.pretrained,
                     "short_side": self.config.clip.resolved_short_side()},
            "config": self.config.to_dict(),
            "template": self.config.clip.template,
            "num_frames": len(scene.frames),
            "no_view": no_view,
            "seconds": {k: round(v, 4) for k, v in timings.items()},
        }
        return TeacherTargets(scene=scene.name, vocabulary=self.vocabulary,
                              text_embeddings=self.text, view_ids=view_ids,
                              view_embeddings=np.where(valid[..., None], emb, 0),
                              view_labels=result.view_labels, labels=result.labels,
                              targets=result.targets, meta=meta)


# -- many scenes ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SceneJob:
    """Where one scene's inputs are."""

    name: str
    root: Path
    proposals: Path
    scores: Path | None = None
    dataset: str = "scannet"
    stride: int | None = None
    allow_pickle: bool = False  # proposals .pt files that need full unpickling (trusted)


def targets_path(out_dir: str | Path, scene: str) -> Path:
    """``<out>/<scene>.npz`` (the name ``folk distill --targets`` looks for)."""
    return Path(out_dir) / f"{scene}.npz"


def target_settings(config: TeacherConfig, vocabulary: Sequence[str], job: SceneJob) -> dict:
    """What a scene's targets depend on besides its files, kept in their ``meta["settings"]``:
    finished targets with other settings are redone, not reused."""
    return {"vocabulary": [str(v) for v in vocabulary], "dataset": job.dataset,
            "stride": job.stride, "teacher": config.result_settings()}


def _differences(old, new, prefix: str = "") -> list[str]:
    """Dotted names of the entries that differ between two settings dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [name for key in sorted(set(old) | set(new), key=str)
                for name in _differences(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]


def stale_settings(path: Path, settings: dict | None = None) -> list[str] | None:
    """None when ``path`` holds finished targets made with ``settings`` (None: any); else
    what differs (``[]``: missing, half-written or foreign, not trusted)."""
    if not path.is_file():
        return []
    try:
        targets = load_targets(path)
    except (FolkInputError, zipfile.BadZipFile, EOFError):
        return []
    if settings is None:
        return None
    if "settings" not in targets.meta:
        return ["settings (not recorded by the folk that made them)"]
    differ = _differences(targets.meta["settings"], json.loads(json.dumps(settings)))
    return differ or None


def is_finished(path: Path, settings: dict | None = None) -> bool:
    """A targets file that loads completely (a half-written or foreign file is not trusted),
    made with ``settings`` when given (:func:`target_settings`)."""
    return stale_settings(path, settings) is None


def shard_jobs(jobs: Sequence[SceneJob], shard: tuple[int, int]) -> list[SceneJob]:
    """Scenes of shard ``i`` of ``n`` (0-based): every n-th scene by sorted name."""
    i, n = shard
    if n < 1 or not 0 <= i < n:
        raise FolkInputError(f"shard must be i/n with 0 <= i < n, got {i}/{n}")
    return [j for k, j in enumerate(sorted(jobs, key=lambda j: j.name)) if k % n == i]


@dataclass
class RunReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    redone: dict[str, list[str]] = field(default_factory=dict)  # scene -> settings that changed
    no_view: dict[str, list[int]] = field(default_factory=dict)  # scene -> proposal indices
    seconds: dict[str, float] = field(default_factory=dict)  # scene -> teacher seconds


def run_teacher(jobs: Sequence[SceneJob], out_dir: str | Path, config: TeacherConfig,
                vocabulary: Sequence[str], *, shard: tuple[int, int] = (0, 1),
                overwrite: bool = False, progress: bool = True, clip: ClipModel | None = None,
                on_scene: Callable[[str, TeacherTargets], None] | None = None) -> RunReport:
    """Run the teacher over many scenes, writing ``<out>/<scene>.npz`` for each.

    Scenes whose targets file exists, loads and was made with the same settings
    (:func:`target_settings`) are skipped (unless ``overwrite``); a temporary or truncated
    file from an interrupted run is not trusted and is redone, and so are targets made with
    another vocabulary, stride, k, ... (listed in the report's ``redone``).
    """
    from folk.data import read_proposals, read_scene
    from folk.progress import Progress

    out_dir = Path(out_dir)
    mine = shard_jobs(jobs, shard)
    report = RunReport()
    todo = []
    for job in mine:
        stale = [] if overwrite else stale_settings(targets_path(out_dir, job.name),
                                                    target_settings(config, vocabulary, job))
        if stale is None:
            report.skipped.append(job.name)
        else:
            todo.append(job)
            if stale:
                report.redone[job.name] = stale
    if not todo:
        return report
    teacher = Teacher(config, vocabulary, clip=clip)
    bar = Progress(todo, desc="teacher", unit="scene", enabled=progress)
    for job in bar:
        bar.set_postfix_str(job.name)
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            scene = read_scene(job.root, dataset=job.dataset, stride=job.stride, name=job.name)
        proposals = read_proposals(job.proposals, num_points=scene.num_points,
                                   scores_path=job.scores, allow_pickle=job.allow_pickle)
        t = teacher.run(scene, proposals)
        t.meta["settings"] = target_settings(config, vocabulary, job)
        save_targets(targets_path(out_dir, job.name), t)
        report.done.append(job.name)
        report.seconds[job.name] = t.meta["seconds"]["total"]
        if t.meta["no_view"]:
            report.no_view[job.name] = list(t.meta["no_view"])
        if on_scene is not None:
            on_scene(job.name, t)
    return report
