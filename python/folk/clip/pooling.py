"""Mask pooling of dense CLIP features (docs/method.md §4, after MaskCLIP++).

A proposal's 2D mask in a frame becomes patch weights ``m ∈ [0, 1]^{h×w}``: the fraction of each
patch's area the mask covers (:func:`area_weights`). Two ways to turn them into an embedding:

* ``"mean"`` (:func:`mask_pool`): ``e = φ(Σ F·m / Σ m)`` with ``F`` the last block's patch tokens
  before ``ln_post`` and ``φ = ln_post`` then ``proj`` (CLIP's own head);
* ``"attention"`` (:func:`masked_attention_pool`): re-run the last block for the class token
  only, letting it attend to the patches with ``m > 0`` with attention bias ``log m`` (and not
  to itself), then ``ln_post`` and ``proj``.

Both return L2-normalised embeddings and a ``valid`` flag (``Σ m > 0``); invalid rows are zero.
Everything is batched over the proposals of one frame: the frame was encoded once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from folk.clip.defaults import POOLINGS


def _overlap_matrix(n: int, k: int) -> np.ndarray:
    """``(k, n)``: fraction of cell ``i`` (of ``k`` equal cells over ``n`` pixels) that pixel
    ``y`` covers, i.e. ``|[y, y+1) ∩ [i·n/k, (i+1)·n/k)| / (n/k)``."""
    edges = np.arange(k + 1, dtype=np.float64) * (n / k)
    lo, hi = edges[:-1, None], edges[1:, None]
    y = np.arange(n, dtype=np.float64)[None, :]
    return np.clip(np.minimum(y + 1, hi) - np.maximum(y, lo), 0, None) / (n / k)


def area_weights_from_pixels(pixels: list[tuple[np.ndarray, np.ndarray]],
                             shape: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """Patch weights ``(P, h, w)`` float32 of masks given as pixel lists ``(rows, cols)`` in an
    image of ``shape`` ``(H, W)``; the image is divided into ``grid`` ``(h, w)`` equal cells and
    each weight is the fraction of its cell covered by the mask (duplicate pixels count once)."""
    (H, W), (h, w) = shape, grid
    ay, ax = _overlap_matrix(H, h), _overlap_matrix(W, w)
    out = np.zeros((len(pixels), h, w), np.float32)
    for p, (rows, cols) in enumerate(pixels):
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        if rows.size == 0:
            continue
        if rows.min() < 0 or cols.min() < 0 or rows.max() >= H or cols.max() >= W:
            raise ValueError(f"mask {p}: pixel outside the {W}x{H} image")
        flat = rows * W + cols
        if flat.size > 1 and not (np.diff(flat) > 0).all():  # folk's masks come sorted, unique
            flat = np.unique(flat)
            rows, cols = flat // W, flat % W
        out[p] = ay[:, rows] @ ax[:, cols].T
    return out


def area_weights(masks: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Patch weights ``(P, h, w)`` of dense masks ``(P, H, W)`` (or one ``(H, W)`` mask)."""
    masks = np.asarray(masks)
    single = masks.ndim == 2
    if single:
        masks = masks[None]
    H, W = masks.shape[1:]
    ay, ax = _overlap_matrix(H, grid[0]), _overlap_matrix(W, grid[1])
    out = np.einsum("iy,pyx,jx->pij", ay, masks.astype(np.float64), ax, optimize=True)
    out = out.astype(np.float32)
    return out[0] if single else out


def clip_head(visual: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``φ``: CLIP's ``ln_post`` followed by ``proj`` (the map from tokens to the joint space)."""

    def head(x: torch.Tensor) -> torch.Tensor:
        x = visual.ln_post(x)
        return x @ visual.proj if visual.proj is not None else x

    return head


def _as_tensor(weights: np.ndarray | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(weights, dtype=like.dtype, device=like.device)


def _finish(e: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    e = F.normalize(e.float(), dim=-1)
    return torch.where(valid[:, None], e, torch.zeros_like(e)), valid


@torch.no_grad()
def mask_pool(patches: torch.Tensor, weights: np.ndarray | torch.Tensor,
              head: Callable[[torch.Tensor], torch.Tensor] | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """``e = φ(Σ F·m / Σ m)`` for each of ``P`` masks.

    Args:
        patches: ``(h, w, C)`` patch tokens of one image (pre ``ln_post``).
        weights: ``(P, h, w)`` patch weights (:func:`area_weights`).
        head: ``φ`` (default: identity; pass :func:`clip_head` for CLIP's own).
    Returns:
        ``(embeddings (P, D) float32 L2-normalised, valid (P,) bool)``; rows with ``Σ m = 0``
        are zero and invalid.
    """
    h, w, c = patches.shape
    m = _as_tensor(weights, patches).reshape(-1, h * w)
    total = m.sum(dim=1)
    valid = total > 0
    pooled = (m @ patches.reshape(h * w, c)) / total.clamp_min(1e-12)[:, None]
    e = head(pooled) if head is not None else pooled
    return _finish(e, valid)


def masked_attention(visual: torch.nn.Module, last_input: torch.Tensor,
                     m: torch.Tensor) -> torch.Tensor:
    """The differentiable core of :func:`masked_attention_pool`: ``(P, D)`` un-normalised
    embeddings for ``(P, L)`` weights ``m`` over the patches of one image (rows with no
    positive weight are meaningless)."""
    block = visual.transformer.resblocks[-1]
    attn: torch.nn.MultiheadAttention = block.attn
    x = last_input
    n_tok, c = x.shape
    valid = (m > 0).any(dim=1)
    heads = attn.num_heads
    dh = c // heads
    y = block.ln_1(x)
    qkv = F.linear(y, attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv[:1, :c], qkv[1:, c:2 * c], qkv[1:, 2 * c:]
    q = q.reshape(heads, dh)
    k = k.reshape(n_tok - 1, heads, dh)
    v = v.reshape(n_tok - 1, heads, dh)
    logits = torch.einsum("hd,lhd->hl", q, k) / dh ** 0.5  # (H, L)
    bias = torch.where(m > 0, torch.log(m.clamp_min(1e-30)), torch.full_like(m, -torch.inf))
    logits = logits[None] + bias[:, None, :]  # (P, H, L)
    logits = torch.where(valid[:, None, None], logits, torch.zeros_like(logits))
    probs = logits.softmax(dim=-1)
    out = torch.einsum("phl,lhd->phd", probs, v).reshape(-1, c)
    out = attn.out_proj(out)
    cls = x[:1] + block.ls_1(out)
    cls = cls + block.ls_2(block.mlp(block.ln_2(cls)))
    return clip_head(visual)(cls)


@torch.no_grad()
def masked_attention_pool(visual: torch.nn.Module, last_input: torch.Tensor,
                          weights: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked-attention variant: the last block re-run for the class token alone, attending to
    the patches with ``m > 0`` with bias ``log m``; then ``ln_post`` and ``proj``.

    Args:
        visual: the open_clip ``VisionTransformer`` (default residual blocks).
        last_input: ``(1 + L, C)`` input of the last block for one image (class token first).
        weights: ``(P, h, w)`` or ``(P, L)`` patch weights.
    Returns:
        ``(embeddings (P, D) float32 L2-normalised, valid (P,) bool)``.
    """
    m = _as_tensor(weights, last_input).reshape(-1, last_input.shape[0] - 1)
    return _finish(masked_attention(visual, last_input, m), (m > 0).any(dim=1))


def pool(visual: torch.nn.Module, tokens: torch.Tensor, last_input: torch.Tensor,
         grid: tuple[int, int], weights: np.ndarray | torch.Tensor,
         method: str = "attention") -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of ``P`` masks in one image by ``method`` (``"mean"`` or ``"attention"``).

    ``tokens`` / ``last_input``: ``(1 + h*w, C)`` of that image (see :mod:`folk.clip.dense`)."""
    if method == "mean":
        patches = tokens[1:].reshape(*grid, tokens.shape[-1])
        return mask_pool(patches, weights, clip_head(visual))
    if method == "attention":
        return masked_attention_pool(visual, last_input, weights)
    raise ValueError(f"unknown pooling {method!r}; expected one of {POOLINGS}")
