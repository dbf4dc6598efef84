"""Segment mean: the C++ kernel and the differentiable torch path (on every device) against the
dense reference folk.ops.reference.segment_mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from devices import DEVICES

from folk.data.membership import ProposalMembership
from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkInputError
from folk.ops import reference
from folk.ops.segment_mean import pool_proposals, segment_mean, segment_mean_torch


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
    got = segment_mean(x, ProposalMembership.from_masks(masks))
    assert got.dtype == np.float32 and got.shape == (shape[1], shape[2])
    np.testing.assert_allclose(got, reference.segment_mean(x, masks), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", SHAPES)
def test_torch_path_matches_dense_reference(device, shape):
    x, masks = _random_case(sum(shape) + 1, *shape)
    got = segment_mean_torch(torch.from_numpy(x).to(device),
                             ProposalMembership.from_masks(masks))
    assert got.device.type == device
    got = got.cpu().numpy()
    np.testing.assert_allclose(got, reference.segment_mean(x, masks), rtol=1e-5, atol=1e-4)


def test_torch_path_gradient_matches_dense_autograd():
    x, masks = _random_case(3, 40, 6, 5)
    xt = torch.from_numpy(x).double().requires_grad_(True)
    w = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (segment_mean_torch(xt, ProposalMembership.from_masks(masks)) * w).sum().backward()
    grad_csr = xt.grad.clone()
    xt.grad = None
    m = torch.from_numpy(masks).double()
    dense = (m.T @ xt) / m.sum(0)[:, None]
    (dense * w).sum().backward()
    torch.testing.assert_close(grad_csr, xt.grad)


def test_overlapping_and_single_point_proposals():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    masks = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 1, 1]], dtype=bool)
    got = segment_mean(x, ProposalMembership.from_masks(masks))
    np.testing.assert_allclose(got[0], (x[0] + x[1]) / 2)
    np.testing.assert_allclose(got[1], (x[0] + x[3]) / 2)
    np.testing.assert_allclose(got[2], x[3])  # one point: the point itself


def test_repeated_index_in_a_proposal_is_rejected():
    x = np.array([[1.0], [4.0]], dtype=np.float32)
    repeated = ProposalMembership(np.array([0, 3]), np.array([0, 0, 1], dtype=np.int32), 2)
    with pytest.raises(FolkInputError, match="strictly increasing"):
        segment_mean(x, repeated)


@pytest.mark.parametrize("fn", [segment_mean, lambda x, s: segment_mean_torch(torch.from_numpy(x), s)])
def test_empty_segment_is_rejected_with_its_index(fn):
    x = np.ones((5, 2), dtype=np.float32)
    masks = np.zeros((5, 3), dtype=bool)
    masks[0, 0] = masks[1, 2] = True
    with pytest.raises(FolkInputError, match=r"no points \(e\.g\. proposal 1\)"):
        fn(x, ProposalMembership.from_masks(masks))


def test_bad_csr_is_rejected():
    x = np.ones((5, 2), dtype=np.float32)

    def csr(offsets, indices):
        return ProposalMembership(np.array(offsets), np.array(indices, dtype=np.int32), 5)

    with pytest.raises(FolkInputError, match=r"lie in \[0, 5\)"):
        segment_mean(x, csr([0, 2], [1, 5]))
    with pytest.raises(FolkInputError, match="start at 0"):
        segment_mean(x, csr([1, 2], [1, 2]))
    with pytest.raises(FolkInputError, match="never decrease"):
        segment_mean(x, csr([0, 2, 1, 2], [1, 2]))


def test_feature_and_point_count_mismatch_is_rejected():
    masks = np.ones((6, 2), dtype=bool)
    with pytest.raises(FolkInputError, match="5 points but the proposals cover 6"):
        segment_mean(np.ones((5, 3), np.float32), ProposalMembership.from_masks(masks))
    with pytest.raises(FolkInputError, match="do not match"):
        pool_proposals(PointFeatures(np.ones((5, 3))), Proposals(masks, np.ones(2)))


def test_cpu_kernel_accepts_non_contiguous_float64_features():
    x, masks = _random_case(11, 50, 4, 6)
    x64 = np.asfortranarray(x.astype(np.float64))
    np.testing.assert_allclose(segment_mean(x64, ProposalMembership.from_masks(masks)),
                               reference.segment_mean(x, masks), rtol=1e-6, atol=1e-5)
