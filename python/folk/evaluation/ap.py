"""Average precision as the ScanNet instance benchmark computes it.

This is not the interpolated VOC/COCO AP: ScanNet's ``evaluate_semantic_instance.py`` builds
one precision/recall point per distinct confidence (every detection scoring at least that
value counts as retrieved), appends an artificial point (recall 0, precision 1) and integrates
with the trapezoid-like step widths ``0.5 * (r[i-1] - r[i+1])`` that its ``np.convolve`` with
``[-0.5, 0, 0.5]`` computes over the recall curve padded with its first value in front and 0
behind. Reproduced here exactly (same floating-point operations), vectorised.
"""

from __future__ import annotations

import numpy as np

# IoU thresholds, computed exactly as the reference does (0.5, 0.55, ..., 0.9 carry the
# rounding of np.arange, e.g. 0.6000000000000001; a match needs IoU strictly greater).
IOU_THRESHOLDS: np.ndarray = np.append(np.arange(0.5, 0.95, 0.05), 0.25)
IOU_THRESHOLDS.setflags(write=False)
assert IOU_THRESHOLDS.shape == (10,)
#: Columns of :data:`IOU_THRESHOLDS` averaged into "AP" (0.50:0.05:0.90), and AP50 / AP25.
AP_COLUMNS: np.ndarray = np.flatnonzero(~np.isclose(IOU_THRESHOLDS, 0.25))
AP50_COLUMN: int = int(np.flatnonzero(np.isclose(IOU_THRESHOLDS, 0.5))[0])
AP25_COLUMN: int = int(np.flatnonzero(np.isclose(IOU_THRESHOLDS, 0.25))[0])

_STEP_KERNEL = np.array([-0.5, 0.0, 0.5])


def scannet_average_precision(
    is_true: np.ndarray, scores: np.ndarray, hard_false_negatives: int
) -> float:
    """AP of one class at one IoU threshold, pooled over all scenes.

    is_true: (M,) 1 for a true positive, 0 for a false positive (one entry per matched GT
        instance, duplicate match or counted unmatched prediction);
    scores: (M,) their confidences;
    hard_false_negatives: GT instances (of at least the minimum size) matched by nothing.

    Ties in ``scores`` form one precision/recall point, so the result does not depend on the
    order of the entries.
    """
    is_true = np.asarray(is_true, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores)
    sorted_scores = scores[order]
    cumsum = np.cumsum(is_true[order])
    _, first = np.unique(sorted_scores, return_index=True)
    num_examples = sorted_scores.shape[0]
    num_true = cumsum[-1] if num_examples else 0.0
    # true positives scoring strictly below each distinct score
    below = np.where(first > 0, cumsum[np.maximum(first - 1, 0)], 0.0) if first.size else first
    tp = num_true - below
    fp = num_examples - first - tp
    fn = below + hard_false_negatives
    precision = np.append(tp / (tp + fp), 1.0)
    recall = np.append(tp / (tp + fn), 0.0)
    padded = np.concatenate([recall[:1], recall, [0.0]])
    step_widths = np.convolve(padded, _STEP_KERNEL, "valid")
    return float(np.dot(precision, step_widths))
