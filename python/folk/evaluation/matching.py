"""Matching one scene's predictions to its GT instances, at every IoU threshold at once.

The rules are those of ScanNet's ``evaluate_semantic_instance.py`` (as extended for
ScanNet200 by Mask3D / OpenMask3D), computed on matrices instead of per-instance dicts:

* GT instances: every distinct value of an evaluated class (see :mod:`.ground_truth`); those
  with fewer than ``min_region_size`` vertices are *small*: never matched, never false
  negatives, and overlap with them is ignored (below).
* Predictions of a class that is not evaluated (wall/floor on ScanNet200) and predictions
  with fewer than ``min_region_size`` vertices are dropped.
* A prediction is compared with GT instances of its own class only; IoU = |P ∩ G| / |P ∪ G|
  and a match needs IoU strictly greater than the threshold.
* Greedy matching, GT instances in increasing instance id: a GT instance takes the
  predictions that match it and that no earlier GT instance took; it counts one true positive
  scored with the highest of their confidences, every other one is a false positive
  (a *duplicate*). Only the first of them in prediction order is marked taken, as in the
  reference, so at IoU 0.25 a duplicate may still match (and be counted for) a later GT
  instance. A GT instance matched by nothing is a *hard false negative*.
* A prediction matching no GT instance of its class (small ones included) is a false positive
  unless the share of its vertices lying on void or on small GT instances of its class
  exceeds the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folk.evaluation.ap import IOU_THRESHOLDS
from folk.evaluation.classes import DatasetClasses
from folk.predict.instances import InstancePrediction

#: GT instances and predictions with fewer vertices are ignored (ScanNet's min_region_size).
MIN_REGION_SIZE = 100


@dataclass(frozen=True)
class SceneMatches:
    """What one scene contributes to every class's precision/recall curve.

    For threshold ``t``: ``entry_class[t]``, ``entry_true[t]``, ``entry_score[t]`` list the
    scored detections (class index into ``DatasetClasses.eval_ids``, 1 = true positive /
    0 = false positive, confidence); ``hard_false_negatives[t, c]`` counts unmatched GT
    instances. ``has_gt[c]``: the scene has a GT instance of class ``c`` of at least the
    minimum size; ``has_pred[c]``: it has a kept prediction of class ``c``.
    """

    entry_class: tuple[np.ndarray, ...]
    entry_true: tuple[np.ndarray, ...]
    entry_score: tuple[np.ndarray, ...]
    hard_false_negatives: np.ndarray
    has_gt: np.ndarray
    has_pred: np.ndarray


def gt_instances(gt_ids: np.ndarray, classes: DatasetClasses):
    """GT instances of a scene: ``(instance_values, instance_class, instance_size, column)``.

    ``instance_values`` are sorted (the reference's ``np.unique`` order); ``column[v]`` is the
    index of vertex ``v``'s instance, or ``len(instance_values)`` for a void vertex.
    """
    vertex_class = classes.eval_index(gt_ids // 1000)
    in_instance = vertex_class >= 0  # evaluated labels are >= 1, so the value is nonzero
    values, inverse = np.unique(gt_ids[in_instance], return_inverse=True)
    num = values.shape[0]
    column = np.full(gt_ids.shape[0], num, dtype=np.int64)
    column[in_instance] = inverse.reshape(-1)
    sizes = np.bincount(inverse.reshape(-1), minlength=num)
    return values, classes.eval_index(values // 1000), sizes, column


def intersections(masks: np.ndarray, column: np.ndarray, num_columns: int) -> np.ndarray:
    """(K, num_columns) int64: how many vertices of each mask (a column of the (N, K) ``masks``)
    fall in each column of the GT."""
    k = masks.shape[1]
    if k == 0:
        return np.zeros((0, num_columns), dtype=np.int64)
    flat = np.flatnonzero(masks)  # much faster than a 2-D np.nonzero
    vertex = flat // k
    cells = (flat - vertex * k) * num_columns + column[vertex]
    return np.bincount(cells, minlength=k * num_columns).reshape(k, num_columns)


def match_scene(
    gt_ids: np.ndarray,
    prediction: InstancePrediction,
    classes: DatasetClasses,
    *,
    thresholds: np.ndarray = IOU_THRESHOLDS,
    min_region_size: int = MIN_REGION_SIZE,
) -> SceneMatches:
    """Match one scene (inputs already validated: masks are len(gt_ids) x K)."""
    num_classes = classes.num_classes
    _, inst_class, inst_size, column = gt_instances(gt_ids, classes)
    num_inst = inst_size.shape[0]

    counts = intersections(prediction.masks, column, num_inst + 1)
    pred_size = counts.sum(axis=1)
    pred_class = classes.eval_index(prediction.label_ids)
    kept = np.flatnonzero((pred_class >= 0) & (pred_size >= min_region_size))
    counts, pred_size = counts[kept], pred_size[kept]
    pred_class, conf = pred_class[kept], prediction.confidences[kept]
    void = counts[:, num_inst]
    same_class = pred_class[:, None] == inst_class[None, :]
    inter = np.where(same_class, counts[:, :num_inst], 0)
    iou = inter / (inst_size[None, :] + pred_size[:, None] - inter)

    small = inst_size < min_region_size
    big = np.flatnonzero(~small)  # increasing instance value: the reference's loop order
    big_class = inst_class[big]
    iou_big = iou[:, big]
    ignored_share = (void + inter[:, small].sum(axis=1)) / np.maximum(pred_size, 1)

    entry_class, entry_true, entry_score = [], [], []
    hard_fn = np.zeros((len(thresholds), num_classes), dtype=np.int64)
    for t, threshold in enumerate(thresholds):
        hits = iou_big > threshold
        if hits.size and hits.sum(axis=1).max() > 1:
            matched, tp_score, duplicates = _match_sequential(hits, conf)
        else:
            matched, tp_score, duplicates = _match_disjoint(hits, conf)
        hard_fn[t] = np.bincount(big_class[~matched], minlength=num_classes)
        unmatched = ~(iou > threshold).any(axis=1) & (ignored_share <= threshold)
        false_pos = np.concatenate([duplicates, np.flatnonzero(unmatched)])
        entry_class.append(np.concatenate([big_class[matched], pred_class[false_pos]]))
        entry_true.append(
            np.concatenate([np.ones(tp_score.shape[0]), np.zeros(false_pos.shape[0])])
        )
        entry_score.append(np.concatenate([tp_score, conf[false_pos]]))

    return SceneMatches(
        entry_class=tuple(entry_class),
        entry_true=tuple(entry_true),
        entry_score=tuple(entry_score),
        hard_false_negatives=hard_fn,
        has_gt=np.bincount(big_class, minlength=num_classes) > 0,
        has_pred=np.bincount(pred_class, minlength=num_classes) > 0,
    )


def _match_disjoint(hits: np.ndarray, conf: np.ndarray):
    """Greedy matching when no prediction matches two GT instances: order cannot matter.

    Returns (GT matched?, TP score of each matched GT in GT order, indices of the predictions
    counted as duplicate false positives).
    """
    matched = hits.any(axis=0)
    if hits.size == 0:
        return matched, np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.int64)
    best = np.where(hits, conf[:, None], -np.inf).argmax(axis=0)
    own_gt = hits.argmax(axis=1)
    duplicates = np.flatnonzero(hits.any(axis=1) & (best[own_gt] != np.arange(hits.shape[0])))
    return matched, conf[best[matched]], duplicates


def _match_sequential(hits: np.ndarray, conf: np.ndarray):
    """Greedy matching in GT order with the reference's "taken" bookkeeping (see module doc).

    A prediction that is a duplicate for several GT instances is counted once for each.
    """
    num_pred, num_gt = hits.shape
    taken = np.zeros(num_pred, dtype=bool)
    matched = np.zeros(num_gt, dtype=bool)
    tp_score, duplicates = [], []
    for g in range(num_gt):
        candidates = np.flatnonzero(hits[:, g] & ~taken)
        if candidates.size == 0:
            continue
        taken[candidates[0]] = True
        matched[g] = True
        best = int(np.argmax(conf[candidates]))
        tp_score.append(conf[candidates[best]])
        duplicates.append(np.delete(candidates, best))
    dup = np.concatenate(duplicates) if duplicates else np.zeros(0, dtype=np.int64)
    return matched, np.asarray(tp_score, dtype=np.float64), dup
