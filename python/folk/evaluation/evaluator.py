"""Evaluating instance predictions against GT: the ScanNet200 / Replica protocol.

:func:`evaluate` takes everything in memory; :class:`Evaluator` takes one scene at a time, so
that a whole benchmark never has to hold every scene's masks at once (``folk eval`` uses it).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from folk.data.inputs import check_gt
from folk.errors import FolkInputError
from folk.evaluation.ap import IOU_THRESHOLDS, scannet_average_precision
from folk.evaluation.classes import DatasetClasses, load_classes
from folk.evaluation.matching import MIN_REGION_SIZE, SceneMatches, match_scene
from folk.evaluation.result import EvalResult
from folk.predict.instances import InstancePrediction


class Evaluator:
    """Accumulates scenes, then computes the benchmark's APs.

    >>> ev = Evaluator("scannet200")
    >>> for scene in scenes:
    ...     ev.add_scene(scene, gt_ids[scene], predictions[scene])
    >>> print(ev.result().table())

    ``confidence_one``: every confidence is taken as 1 (how OpenMask3D and Open-YOLO 3D
    report). ``min_region_size``: GT instances and predictions with fewer vertices are ignored.
    """

    def __init__(
        self,
        dataset: str = "scannet200",
        *,
        confidence_one: bool = False,
        min_region_size: int = MIN_REGION_SIZE,
    ):
        self.classes: DatasetClasses = load_classes(dataset)
        self.confidence_one = confidence_one
        self.min_region_size = int(min_region_size)
        self._scenes: dict[str, SceneMatches] = {}
        self._missing: list[str] = []
        self._known_ids = np.array(sorted(self.classes.known_ids), dtype=np.int64)

    def add_scene(
        self,
        scene: str,
        gt_ids: np.ndarray,
        prediction: InstancePrediction | None,
        *,
        path: str | Path | None = None,
    ) -> None:
        """Match one scene. ``gt_ids``: (N,) ``label_id*1000+instance`` per vertex.
        ``prediction`` ``None`` means the scene has no prediction at all (recorded in
        ``missing_scenes``; its GT instances count as false negatives). ``path`` names the
        file the prediction came from, for error messages."""
        if scene in self._scenes:
            raise FolkInputError(f"scene {scene!r} given twice")
        gt_ids = np.asarray(gt_ids)
        check_gt(gt_ids, scene=scene)
        gt_ids = gt_ids.astype(np.int64, copy=False)
        if prediction is None:
            self._missing.append(scene)
            prediction = InstancePrediction.empty(gt_ids.shape[0])
        self._check_prediction(scene, gt_ids.shape[0], prediction, path)
        if self.confidence_one:
            prediction = prediction.with_confidence_one()
        self._scenes[scene] = match_scene(
            gt_ids, prediction, self.classes, min_region_size=self.min_region_size
        )

    def _check_prediction(
        self, scene: str, num_vertices: int, pred: InstancePrediction, path: str | Path | None
    ) -> None:
        if len(pred) and pred.num_vertices != num_vertices:
            raise FolkInputError(
                f"scene {scene!r}: prediction masks have {pred.num_vertices} vertices but the "
                f"ground truth has {num_vertices}",
                path,
            )
        known = np.isin(pred.label_ids, self._known_ids)
        if not known.all():
            bad = sorted({int(i) for i in pred.label_ids[~known]})
            raise FolkInputError(
                f"scene {scene!r}: unknown {self.classes.dataset} label ids {bad[:10]}"
                f"{' ...' if len(bad) > 10 else ''} (label ids, not class indices, are expected)",
                path,
            )

    @property
    def num_scenes(self) -> int:
        return len(self._scenes)

    def result(self) -> EvalResult:
        """APs over every scene added so far."""
        num_classes = self.classes.num_classes
        num_thresholds = len(IOU_THRESHOLDS)
        scenes = list(self._scenes.values())
        has_gt = np.zeros(num_classes, dtype=bool)
        has_pred = np.zeros(num_classes, dtype=bool)
        hard_fn = np.zeros((num_thresholds, num_classes), dtype=np.int64)
        for s in scenes:
            has_gt |= s.has_gt
            has_pred |= s.has_pred
            hard_fn += s.hard_false_negatives

        class_ap = np.full((num_classes, num_thresholds), np.nan)
        class_ap[has_gt & ~has_pred] = 0.0
        scored = np.flatnonzero(has_gt & has_pred)
        for t in range(num_thresholds):
            cls = np.concatenate([np.zeros(0, np.int64)] + [s.entry_class[t] for s in scenes])
            true = np.concatenate([np.zeros(0)] + [s.entry_true[t] for s in scenes])
            score = np.concatenate([np.zeros(0)] + [s.entry_score[t] for s in scenes])
            order = np.argsort(cls, kind="stable")
            cls, true, score = cls[order], true[order], score[order]
            starts = np.searchsorted(cls, scored, side="left")
            ends = np.searchsorted(cls, scored, side="right")
            for c, lo, hi in zip(scored, starts, ends):
                class_ap[c, t] = scannet_average_precision(true[lo:hi], score[lo:hi], hard_fn[t, c])

        return EvalResult(
            dataset=self.classes.dataset,
            class_ids=self.classes.eval_ids,
            class_names=self.classes.eval_names,
            split_of=self.classes.split_of,
            thresholds=IOU_THRESHOLDS,
            class_ap=class_ap,
            num_scenes=len(scenes),
            missing_scenes=tuple(self._missing),
            confidence_one=self.confidence_one,
        )


def evaluate(
    gt: Mapping[str, np.ndarray],
    preds: Mapping[str, InstancePrediction],
    dataset: str = "scannet200",
    *,
    confidence_one: bool = False,
    min_region_size: int = MIN_REGION_SIZE,
) -> EvalResult:
    """Evaluate predictions of every scene of ``gt`` (scene -> (N,) int64 GT ids).

    A scene of ``preds`` without GT is an error; a scene of ``gt`` without predictions counts
    as predicting nothing (a warning says so, and ``EvalResult.missing_scenes`` lists it).
    """
    if not gt:
        raise FolkInputError("no ground-truth scene to evaluate")
    extra = sorted(set(preds) - set(gt))
    if extra:
        raise FolkInputError(
            f"{len(extra)} predicted scene(s) have no ground truth: {', '.join(extra[:5])}"
            f"{' ...' if len(extra) > 5 else ''}"
        )
    ev = Evaluator(dataset, confidence_one=confidence_one, min_region_size=min_region_size)
    for scene in sorted(gt):
        ev.add_scene(scene, gt[scene], preds.get(scene))
    result = ev.result()
    if result.missing_scenes:
        warnings.warn(
            f"{len(result.missing_scenes)} scene(s) have no predictions and count as predicting "
            f"nothing: {', '.join(result.missing_scenes[:5])}"
            f"{' ...' if len(result.missing_scenes) > 5 else ''}",
            stacklevel=2,
        )
    return result
