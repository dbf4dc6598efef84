"""folk_runtime.nms_csr: the same kept proposals, in the same order, as folk's mask_nms, on CSR
membership (random masks of awkward sizes, near-duplicates, score ties, empty proposals)."""

from __future__ import annotations

import numpy as np
import pytest

from folk.data.membership import ProposalMembership
from folk.proposals.nms import mask_nms
from folk_runtime import RuntimeInputError, nms_csr


def _random_masks(rng: np.random.Generator, n: int, q: int) -> np.ndarray:
    """(n, q) masks: random density per column, about half of them near-duplicates of an
    earlier column (a few points flipped: IoUs around any threshold), some empty columns."""
    masks = rng.random((n, q)) < rng.random(q)
    for k in range(1, q):
        roll = rng.random()
        if roll < 0.5:
            flip = rng.random(n) < rng.uniform(0, 0.15)
            masks[:, k] = masks[:, int(rng.integers(0, k))] ^ flip
        elif roll < 0.6:
            masks[:, k] = False
    return masks


def _both(masks: np.ndarray, scores: np.ndarray, thr: float):
    m = ProposalMembership.from_masks(masks)
    return mask_nms(masks, scores, thr), nms_csr(m.offsets, m.indices, scores, masks.shape[0],
                                                 thr)


@pytest.mark.parametrize("seed", range(6))
def test_nms_csr_equals_folk_mask_nms_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n, q = int(rng.integers(1, 97)), int(rng.integers(1, 31))
        masks = _random_masks(rng, n, q)
        tied = rng.random() < 0.5  # few distinct scores: many ties, broken by index
        scores = rng.integers(0, 3, q).astype(np.float32) if tied else rng.random(q)
        thr = float(rng.choice([0.0, 0.25, 0.5, 0.8, 0.9, 0.95, 1.0]))
        expected, got = _both(masks, scores, thr)
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.int64


def test_nms_csr_equals_folk_on_a_larger_scene_with_many_near_duplicates():
    rng = np.random.default_rng(7)
    n, q = 5003, 157
    masks = _random_masks(rng, n, q)
    expected, got = _both(masks, rng.random(q), 0.9)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("thr", [0.5, 0.9])
def test_nms_csr_equals_folk_with_many_proposals_of_one_size(monkeypatch, thr):
    """Many similar-sized proposals (every pair passes the size test): the histogram bound and
    the vectorised candidate test both run (spied), in chunks of a few pairs."""
    from folk_runtime import nms

    calls = {"histogram_in": 0, "histogram_out": 0, "many": 0}
    histogram, many = nms._histogram_compatible, nms._over_many

    def spy_histogram(membership, a, b, t):
        kept = histogram(membership, a, b, t)
        calls["histogram_in"] += a.size
        calls["histogram_out"] += kept[0].size
        return kept

    def spy_many(*args):
        calls["many"] += 1
        return many(*args)

    monkeypatch.setattr(nms, "_histogram_compatible", spy_histogram)
    monkeypatch.setattr(nms, "_over_many", spy_many)
    monkeypatch.setattr(nms, "CHUNK", 37)
    rng = np.random.default_rng(11)
    n, base = 2999, 70
    masks = np.zeros((n, base), bool)
    for k in range(base):  # ~100 points each, scattered ids (or a block of ids)
        size = int(rng.integers(95, 106))
        if k % 3:
            masks[rng.choice(n, size, replace=False), k] = True
        else:
            start = int(rng.integers(0, n - size))
            masks[start:start + size, k] = True
    dups = masks[:, rng.integers(0, base, 40)] ^ (rng.random((n, 40)) < 0.002)
    masks = np.concatenate([masks, dups], axis=1)
    expected, got = _both(masks, rng.random(masks.shape[1]), thr)
    np.testing.assert_array_equal(got, expected)
    assert calls["histogram_in"] > calls["histogram_out"] > 0
    if thr < 0.9:  # at 0.9 the histogram leaves too few candidates per proposal
        assert calls["many"] > 0


def test_nms_csr_threshold_is_strict_like_folk():
    masks = np.zeros((10, 2), bool)
    masks[:, 0] = True
    masks[:9, 1] = True  # IoU exactly 0.9
    for thr in (0.9, 0.89):
        expected, got = _both(masks, np.array([1.0, 0.5]), thr)
        np.testing.assert_array_equal(got, expected)
    assert _both(masks, np.array([1.0, 0.5]), 0.9)[1].tolist() == [0, 1]


def test_nms_csr_keeps_empty_proposals_and_all_when_threshold_is_one():
    rng = np.random.default_rng(3)
    masks = _random_masks(rng, 23, 9)
    masks[:, [2, 5]] = False
    for thr in (0.0, 0.9, 1.0, 2.5):
        expected, got = _both(masks, rng.random(9), thr)
        np.testing.assert_array_equal(got, expected)
    scores = np.array([0.3, 0.9, 0.3])
    assert nms_csr([0, 0, 0, 0], [], scores, 5).tolist() == [1, 0, 2]  # all empty
    assert nms_csr([0], [], [], 0).tolist() == []  # no proposals


def test_nms_csr_accepts_int32_csr_and_float32_scores():
    masks = _random_masks(np.random.default_rng(1), 31, 12)
    m = ProposalMembership.from_masks(masks)
    scores = np.random.default_rng(2).random(12).astype(np.float32)
    got = nms_csr(m.offsets.astype(np.int32), m.indices.astype(np.int32), scores, 31)
    np.testing.assert_array_equal(got, mask_nms(masks, scores))


@pytest.mark.parametrize(("offsets", "indices", "scores", "message"), [
    ([0, 2, 1, 3], [0, 1, 2], [1, 1, 1], r"offsets must never decrease.*offsets\[1\] = 2"),
    ([1, 3], [0, 1, 2], [1], "offsets must start at 0 and end at len"),
    ([0, 2], [0, 1, 2], [1], "offsets must start at 0 and end at len"),
    ([0, 3], [0, 1, 9], [1], r"indices must lie in \[0, 5\).*found 9"),
    ([0, 3], [-1, 1, 2], [1], r"indices must lie in \[0, 5\).*found -1"),
    ([0, 3], [0, 2, 2], [1], "strictly increasing within each proposal.*proposal 0"),
    ([0, 1, 3], [4, 3, 1], [1, 1], "strictly increasing within each proposal.*proposal 1"),
    ([0, 2], [0.0, 1.0], [1], "indices must be a 1-D integer array"),
    ([[0, 2]], [0, 1], [1], "offsets must be a 1-D integer array"),
    ([0, 2], [0, 1], [1, 2], r"scores must have shape \(1,\)"),
    ([0, 2], [0, 1], [np.nan], "scores contain NaN or inf"),
])
def test_nms_csr_rejects_malformed_input_with_a_clear_message(offsets, indices, scores, message):
    with pytest.raises(RuntimeInputError, match=message):
        nms_csr(np.asarray(offsets), np.asarray(indices), np.asarray(scores), 5)


def test_nms_csr_rejects_a_negative_threshold():
    with pytest.raises(RuntimeInputError, match="iou_threshold must be >= 0"):
        nms_csr([0, 1], [0], [1.0], 1, -0.5)
