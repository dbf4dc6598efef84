"""ProposalMembership, folk's one CSR form of proposals: conversions agree with the dense
masks, the rules (sets of points, empty proposals allowed) are checked, NumPy and torch give
the same arrays."""

from __future__ import annotations

import numpy as np
import pytest

from folk.data.membership import ProposalMembership
from folk.errors import FolkInputError


def random_masks(seed: int, n: int, q: int) -> np.ndarray:
    """``(n, q)`` bool masks of random densities, with an empty column when q > 2."""
    rng = np.random.default_rng(seed)
    masks = rng.random((n, q)) < rng.uniform(0.02, 0.6, size=q)
    if q > 2:
        masks[:, q // 2] = False
    return masks


SHAPES = [(1, 1), (7, 3), (53, 6), (301, 17), (0, 2), (5, 0)]


@pytest.mark.parametrize("shape", SHAPES)
def test_from_masks_lists_each_column_sorted_and_round_trips(shape):
    masks = random_masks(sum(shape), *shape)
    mb = ProposalMembership.from_masks(masks)
    assert mb.offsets.dtype == np.int64 and mb.indices.dtype == np.int32
    assert mb.num_proposals == shape[1] and mb.num_points == shape[0]
    for q in range(shape[1]):
        np.testing.assert_array_equal(mb.indices[mb.offsets[q]:mb.offsets[q + 1]],
                                      np.flatnonzero(masks[:, q]))
    np.testing.assert_array_equal(mb.sizes, masks.sum(axis=0))
    np.testing.assert_array_equal(mb.to_masks(), masks)
    assert mb.validate(shape[0]) is mb


def test_numeric_masks_are_read_as_nonzero():
    masks = random_masks(3, 40, 5)
    weights = np.where(masks, np.float16(0.5), np.float16(0))
    mb = ProposalMembership.from_masks(weights)
    np.testing.assert_array_equal(mb.to_masks(), masks)


def test_from_lists_sorts_and_deduplicates():
    masks = random_masks(4, 61, 7)
    rng = np.random.default_rng(0)
    lists = [np.concatenate([np.flatnonzero(masks[:, q])] * 2)[::-1] for q in range(7)]
    lists = [rng.permutation(a) for a in lists]
    mb = ProposalMembership.from_lists(lists, 61)
    ref = ProposalMembership.from_masks(masks)
    np.testing.assert_array_equal(mb.offsets, ref.offsets)
    np.testing.assert_array_equal(mb.indices, ref.indices)
    with pytest.raises(FolkInputError, match=r"lie in \[0, 61\)"):
        ProposalMembership.from_lists([[0, 61]], 61)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_select_matches_the_selected_mask_columns(seed):
    masks = random_masks(seed, 97, 11)
    rng = np.random.default_rng(seed)
    chosen = rng.integers(0, 11, size=13)  # repeats allowed
    sub = ProposalMembership.from_masks(masks).select(chosen)
    ref = ProposalMembership.from_masks(masks[:, chosen])
    np.testing.assert_array_equal(sub.offsets, ref.offsets)
    np.testing.assert_array_equal(sub.indices, ref.indices)
    empty = ProposalMembership.from_masks(masks).select(np.zeros(0, np.int64))
    assert empty.num_proposals == 0 and empty.indices.size == 0


def test_segment_ids_and_scipy_agree_with_the_masks():
    masks = random_masks(8, 45, 9)
    mb = ProposalMembership.from_masks(masks)
    ids = mb.segment_ids()
    np.testing.assert_array_equal(masks[mb.indices, ids], True)
    assert ids.shape == mb.indices.shape
    np.testing.assert_array_equal(mb.to_scipy().toarray().astype(bool), masks.T)


def test_empty_proposals_are_valid_unless_nonempty_is_asked():
    masks = random_masks(5, 30, 6)
    masks[:, [1, 4]] = False
    masks[0, 0] = True
    mb = ProposalMembership.from_masks(masks)
    mb.validate(30)
    empty = int((~masks.any(axis=0)).sum())  # 1, 3 (random_masks) and 4
    with pytest.raises(FolkInputError, match=rf"{empty} proposal\(s\) have no points "
                                             r"\(e\.g\. proposal 1\)"):
        mb.validate(30, nonempty=True)


def test_broken_csr_is_rejected_naming_the_rule():
    mb = ProposalMembership.from_masks(random_masks(6, 30, 4))
    q = int(np.argmax(mb.sizes))
    reversed_indices = mb.indices.copy()
    seg = reversed_indices[mb.offsets[q]:mb.offsets[q + 1]]
    seg[:] = seg[::-1].copy()
    cases = {
        "covers 31 points": ProposalMembership(mb.offsets, mb.indices, 31),
        "indices must be int32": ProposalMembership(mb.offsets, mb.indices.astype(np.int64), 30),
        "offsets must be int64": ProposalMembership(mb.offsets.astype(np.int32), mb.indices, 30),
        r"lie in \[0, 30\)": ProposalMembership(
            mb.offsets, np.where(mb.indices == mb.indices.max(), 30, mb.indices)
            .astype(np.int32), 30),
        "strictly increasing": ProposalMembership(mb.offsets, reversed_indices, 30),
        "offsets must start at 0": ProposalMembership(mb.offsets[:-1], mb.indices, 30),
    }
    for message, broken in cases.items():
        with pytest.raises(FolkInputError, match=message):
            broken.validate(30)


def test_torch_masks_give_the_same_arrays_and_conversions_round_trip():
    torch = pytest.importorskip("torch")
    masks = random_masks(9, 77, 8)
    mb = ProposalMembership.from_masks(masks)
    mt = ProposalMembership.from_masks(torch.from_numpy(masks))
    assert isinstance(mt.offsets, torch.Tensor) and mt.indices.dtype == torch.int32
    np.testing.assert_array_equal(mt.offsets.numpy(), mb.offsets)
    np.testing.assert_array_equal(mt.indices.numpy(), mb.indices)
    np.testing.assert_array_equal(mt.segment_ids().numpy(), mb.segment_ids())
    np.testing.assert_array_equal(mt.to_masks(), masks)
    mt.validate(77)
    moved = mb.to("cpu")
    assert isinstance(moved.indices, torch.Tensor)
    back = moved.numpy()
    assert isinstance(back.indices, np.ndarray) and mb.numpy() is mb
    np.testing.assert_array_equal(back.indices, mb.indices)
