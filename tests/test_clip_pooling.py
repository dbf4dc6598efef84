"""Mask pooling (docs/method.md §4): area weights, mean pooling, masked attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from folk.clip.dense import run_vit
from folk.clip.loader import _open_clip
from folk.clip.pooling import (
    area_weights,
    area_weights_from_pixels,
    clip_head,
    mask_pool,
    masked_attention_pool,
)


@pytest.fixture(scope="module")
def visual():
    torch.manual_seed(0)
    model = _open_clip().create_model("folk-small-clip")  # random weights: no file needed
    return model.eval().visual


def test_area_weights_are_the_covered_fraction_of_each_patch():
    mask = np.zeros((8, 12), bool)  # 2 x 3 patches of 4 x 4 pixels
    mask[0:4, 0:4] = True  # patch (0, 0) full
    mask[4:6, 4:8] = True  # patch (1, 1) half
    mask[7, 11] = True  # patch (1, 2): one pixel of 16
    expected = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 1 / 16]], np.float32)
    np.testing.assert_allclose(area_weights(mask, (2, 3)), expected, atol=1e-6)


def test_area_weights_split_pixels_across_fractional_patch_borders():
    rng = np.random.default_rng()
    h, w = rng.integers(2, 7, size=2)
    mask = rng.random((int(rng.integers(20, 50)), int(rng.integers(20, 50)))) < 0.3
    m = area_weights(mask, (int(h), int(w)))
    # each weight is a fraction of a cell of area H*W/(h*w): the weighted sum is the mask area
    assert m.min() >= 0 and m.max() <= 1 + 1e-6
    np.testing.assert_allclose(m.sum() * mask.size / (h * w), mask.sum(), rtol=1e-5)
    # a full mask covers every cell entirely
    np.testing.assert_allclose(area_weights(np.ones_like(mask), (int(h), int(w))), 1.0, rtol=1e-6)


def test_area_weights_from_pixels_match_dense_masks():
    rng = np.random.default_rng()
    masks = rng.random((3, 37, 53)) < 0.2
    pixels = [np.nonzero(m) for m in masks]
    np.testing.assert_allclose(area_weights_from_pixels(pixels, (37, 53), (5, 7)),
                               area_weights(masks, (5, 7)), atol=1e-6)


def test_mask_pool_is_the_weighted_mean_of_patch_features():
    # feature of patch (i, j) = [i, j, 1]; weights known by hand
    h, w = 3, 4
    ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    feats = torch.tensor(np.stack([ii, jj, np.ones_like(ii)], -1), dtype=torch.float32)
    m = np.zeros((3, h, w), np.float32)
    m[0, 0, 0] = 1.0  # -> [0, 0, 1]
    m[1, 2, 3], m[1, 0, 1] = 0.5, 1.5  # -> (0.5*[2,3,1] + 1.5*[0,1,1]) / 2 = [0.5, 1.5, 1]
    e, valid = mask_pool(feats, m)  # identity head, then L2 normalisation
    expected = np.array([[0, 0, 1], [0.5, 1.5, 1.0], [0, 0, 0]], np.float32)
    norms = np.linalg.norm(expected, axis=1, keepdims=True)
    expected = np.where(norms > 0, expected / np.maximum(norms, 1e-12), 0)
    np.testing.assert_allclose(e.numpy(), expected, atol=1e-6)
    assert valid.tolist() == [True, True, False]


def test_mask_pool_with_clip_head_applies_ln_post_then_proj(visual):
    feats = torch.randn(4, 5, visual.proj.shape[0])
    m = np.random.default_rng().random((2, 4, 5)).astype(np.float32)
    e, _ = mask_pool(feats, m, clip_head(visual))
    mt = torch.tensor(m).reshape(2, -1)
    pooled = (mt @ feats.reshape(20, -1)) / mt.sum(1, keepdim=True)
    ref = torch.nn.functional.normalize(visual.ln_post(pooled) @ visual.proj, dim=-1)
    torch.testing.assert_close(e, ref, atol=1e-5, rtol=1e-5)


def _naive_masked_attention(visual, last_input, weights):
    """Reference: the open_clip block itself with an explicit additive attention mask whose
    class-token row is ``log m`` over the patches and ``-inf`` on the class token."""
    n = last_input.shape[0]
    out = []
    for m in weights.reshape(len(weights), -1):
        mask = torch.zeros(n, n)
        mask[0, 0] = -torch.inf
        mask[0, 1:] = torch.log(torch.tensor(m))
        x = visual.transformer.resblocks[-1](last_input[None], attn_mask=mask)
        out.append(torch.nn.functional.normalize(visual.ln_post(x[0, 0]) @ visual.proj, dim=-1))
    return torch.stack(out)


def test_masked_attention_matches_the_block_run_with_an_attention_bias(visual):
    rng = np.random.default_rng()
    dense = run_vit(visual, torch.randn(1, 3, 48, 72))  # 6 x 9 grid: not the native 8 x 8
    m = rng.random((4, 6, 9)).astype(np.float32)
    m[m < 0.6] = 0.0
    m[0] = 0.0
    m[0, 2, 3] = 0.25  # a single partly covered patch
    e, valid = masked_attention_pool(visual, dense.last_input[0], m)
    ref = _naive_masked_attention(visual, dense.last_input[0], m)
    assert valid.all()
    torch.testing.assert_close(e, ref.float(), atol=1e-5, rtol=1e-4)


def test_masked_attention_ignores_patches_outside_the_mask(visual):
    dense = run_vit(visual, torch.randn(1, 3, 64, 64))
    m = np.zeros((1, 8, 8), np.float32)
    m[0, :4] = 1.0
    e1, _ = masked_attention_pool(visual, dense.last_input[0], m)
    x = dense.last_input[0].clone()
    x[1 + 40:] += torch.randn_like(x[1 + 40:])  # perturb patches of rows 5..7 only
    e2, _ = masked_attention_pool(visual, x, m)
    torch.testing.assert_close(e1, e2)


def test_empty_masks_are_invalid_and_zero(visual):
    dense = run_vit(visual, torch.randn(1, 3, 64, 64))
    e, valid = masked_attention_pool(visual, dense.last_input[0], np.zeros((2, 8, 8), np.float32))
    assert not valid.any() and torch.count_nonzero(e) == 0


def test_run_vit_reproduces_open_clip_at_the_native_size(visual):
    x = torch.randn(2, 3, 64, 64)
    dense = run_vit(visual, x)
    pooled = visual.ln_post(dense.tokens[:, 0]) @ visual.proj
    torch.testing.assert_close(pooled, visual(x), atol=1e-5, rtol=1e-5)
