"""Mask NMS: hand cases, and the vectorised version against an obviously correct loop."""

from __future__ import annotations

import numpy as np
import pytest

from folk.data.scene import Proposals
from folk.errors import FolkInputError
from folk.proposals import mask_iou, mask_nms, nms_proposals


def _naive_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _naive_nms(masks: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        if all(_naive_iou(masks[:, i], masks[:, j]) <= thr for j in keep):
            keep.append(i)
    return keep


def _masks(*columns: list[int], n: int = 20) -> np.ndarray:
    m = np.zeros((n, len(columns)), dtype=bool)
    for q, idx in enumerate(columns):
        m[idx, q] = True
    return m


def test_nms_drops_lower_scored_near_duplicate_and_keeps_disjoint():
    m = _masks(list(range(20)), list(range(19)), [0, 1])  # IoU(0,1) = 0.95
    keep = mask_nms(m[:, :2], np.array([0.9, 0.8]))
    assert keep.tolist() == [0]
    m = _masks(list(range(10)), list(range(10)), list(range(10, 20)))
    assert mask_nms(m, np.array([0.5, 0.7, 0.1])).tolist() == [1, 2]


def test_nms_threshold_is_strict_iou_equal_to_threshold_is_kept():
    m = _masks(list(range(10)), list(range(9)))  # IoU exactly 0.9
    assert mask_nms(m, np.array([1.0, 0.5]), 0.9).tolist() == [0, 1]
    assert mask_nms(m, np.array([1.0, 0.5]), 0.89).tolist() == [0]


def test_nms_suppressed_proposal_does_not_suppress_others():
    # IoU(A,B) = IoU(B,C) = 2/6, IoU(A,C) = 0: A keeps, B goes, C stays.
    m = _masks([0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7])
    assert mask_nms(m, np.array([0.9, 0.8, 0.7]), 0.3).tolist() == [0, 2]


def test_nms_breaks_score_ties_by_index_and_returns_kept_by_descending_score():
    m = _masks([0], [1], [2], [3])
    assert mask_nms(m, np.array([0.2, 0.5, 0.5, 0.9])).tolist() == [3, 1, 2, 0]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_nms_matches_loop_reference_on_random_near_duplicates(seed):
    rng = np.random.default_rng(seed)
    n, q = int(rng.integers(1, 60)), int(rng.integers(1, 25))
    base = rng.random((n, q)) < 0.4
    # Make near-duplicates: copy a few columns and flip a couple of entries.
    for j in range(q):
        if rng.random() < 0.5:
            src = int(rng.integers(q))
            base[:, j] = base[:, src]
            flip = rng.integers(n, size=int(rng.integers(0, 3)))
            base[flip, j] ^= True
    scores = rng.choice([0.1, 0.5, 0.9], size=q)  # many ties
    for thr in (0.3, 0.9):
        assert mask_nms(base, scores, thr).tolist() == _naive_nms(base, scores, thr)


def test_mask_iou_matches_pairwise_reference():
    rng = np.random.default_rng(7)
    m = rng.random((31, 9)) < 0.3
    m[:, 4] = False  # an empty column: IoU 0 with everything, itself included
    expected = np.array([[_naive_iou(m[:, i], m[:, j]) for j in range(9)] for i in range(9)])
    np.testing.assert_allclose(mask_iou(m), expected)


def test_nms_proposals_keeps_masks_and_scores_together():
    m = _masks(list(range(10)), list(range(10)), [15, 16])
    kept, idx = nms_proposals(Proposals(m, np.array([0.1, 0.9, 0.5])))
    assert idx.tolist() == [1, 2]
    np.testing.assert_array_equal(kept.masks, m[:, [1, 2]])
    np.testing.assert_allclose(kept.scores, [0.9, 0.5])


def test_nms_rejects_mismatched_scores_and_nan():
    m = _masks([0], [1])
    with pytest.raises(FolkInputError, match="do not match"):
        mask_nms(m, np.array([1.0]))
    with pytest.raises(FolkInputError, match="NaN"):
        mask_nms(m, np.array([1.0, np.nan]))
