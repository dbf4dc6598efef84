"""Segment mean: the C++ kernel and the differentiable torch path against a dense reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkInputError
from folk.proposals import ProposalCSR, masks_to_csr
from folk.student import pool_proposals, segment_mean, segment_mean_torch


def _naive_segment_mean(features: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Dense reference: (masks^T @ X) / |q|, in float64."""
    m = masks.astype(np.float64)
    return (m.T @ features.astype(np.float64)) / m.sum(axis=0)[:, None]


def _random_case(seed: int, n: int, q: int, c: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c)).astype(np.float32) * 10
    masks = rng.random((n, q)) < rng.uniform(0.05, 0.9)
    masks[rng.integers(n, size=q), np.arange(q)] = True  # no empty proposal
    return x, masks


SHAPES = [(1, 1, 1), (2, 1, 3), (7, 5, 96), (1000, 37, 13), (300, 150, 128)]


@pytest.mark.parametrize("shape", SHAPES)
def test_cpu_kernel_matches_dense_reference(shape):
    x, masks = _random_case(sum(shape), *shape)
    got = segment_mean(x, masks_to_csr(masks))
    assert got.dtype == np.float32 and got.shape == (shape[1], shape[2])
    np.testing.assert_allclose(got, _naive_segment_mean(x, masks), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
def test_torch_path_matches_dense_reference(shape):
    x, masks = _random_case(sum(shape) + 1, *shape)
    got = segment_mean_torch(torch.from_numpy(x), masks_to_csr(masks)).numpy()
    np.testing.assert_allclose(got, _naive_segment_mean(x, masks), rtol=1e-5, atol=1e-4)


def test_torch_path_gradient_matches_dense_autograd():
    x, masks = _random_case(3, 40, 6, 5)
    xt = torch.from_numpy(x).double().requires_grad_(True)
    w = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (segment_mean_torch(xt, masks_to_csr(masks)) * w).sum().backward()
    grad_csr = xt.grad.clone()
    xt.grad = None
    m = torch.from_numpy(masks).double()
    dense = (m.T @ xt) / m.sum(0)[:, None]
    (dense * w).sum().backward()
    torch.testing.assert_close(grad_csr, xt.grad)


def test_overlapping_and_single_point_proposals():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    masks = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 1, 1]], dtype=bool)
    got = segment_mean(x, masks_to_csr(masks))
    np.testing.assert_allclose(got[0], (x[0] + x[1]) / 2)
    np.testing.assert_allclose(got[1], (x[0] + x[3]) / 2)
    np.testing.assert_allclose(got[2], x[3])  # one point: the point itself


def test_repeated_index_counts_twice():
    x = np.array([[1.0], [4.0]], dtype=np.float32)
    csr = ProposalCSR(np.array([0, 3]), np.array([0, 0, 1], dtype=np.int32), 2)
    assert segment_mean(x, csr)[0, 0] == pytest.approx(2.0)


@pytest.mark.parametrize("fn", [segment_mean, lambda x, s: segment_mean_torch(torch.from_numpy(x), s)])
def test_empty_segment_is_rejected_with_its_index(fn):
    x = np.ones((5, 2), dtype=np.float32)
    masks = np.zeros((5, 3), dtype=bool)
    masks[0, 0] = masks[1, 2] = True
    with pytest.raises(FolkInputError, match=r"no points \(e\.g\. proposal 1\)"):
        fn(x, masks_to_csr(masks))


def test_bad_csr_is_rejected():
    x = np.ones((5, 2), dtype=np.float32)
    with pytest.raises(FolkInputError, match=r"lie in \[0, 5\)"):
        segment_mean(x, ProposalCSR(np.array([0, 2]), np.array([1, 5], dtype=np.int32), 5))
    with pytest.raises(FolkInputError, match="start at 0"):
        segment_mean(x, ProposalCSR(np.array([1, 2]), np.array([1, 2], dtype=np.int32), 5))
    with pytest.raises(FolkInputError, match="non-decreasing"):
        segment_mean(x, ProposalCSR(np.array([0, 2, 1, 2]), np.array([1, 2], dtype=np.int32), 5))


def test_feature_and_point_count_mismatch_is_rejected():
    masks = np.ones((6, 2), dtype=bool)
    with pytest.raises(FolkInputError, match="5 points but the proposals cover 6"):
        segment_mean(np.ones((5, 3), np.float32), masks_to_csr(masks))
    with pytest.raises(FolkInputError, match="do not match"):
        pool_proposals(PointFeatures(np.ones((5, 3))), Proposals(masks, np.ones(2)))


def test_cpu_kernel_accepts_non_contiguous_float64_features():
    x, masks = _random_case(11, 50, 4, 6)
    x64 = np.asfortranarray(x.astype(np.float64))
    np.testing.assert_allclose(segment_mean(x64, masks_to_csr(masks)),
                               _naive_segment_mean(x, masks), rtol=1e-6, atol=1e-5)


def test_csr_round_trip_and_selection_match_the_masks():
    _, masks = _random_case(5, 40, 7, 1)
    csr = masks_to_csr(masks)
    for q in range(7):
        np.testing.assert_array_equal(csr.indices[csr.offsets[q]:csr.offsets[q + 1]],
                                      np.flatnonzero(masks[:, q]))
    sub = csr.select(np.array([5, 0, 5]))
    ref = masks_to_csr(masks[:, [5, 0, 5]])
    np.testing.assert_array_equal(sub.offsets, ref.offsets)
    np.testing.assert_array_equal(sub.indices, ref.indices)
