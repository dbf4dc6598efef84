"""Dense patch features of a CLIP image encoder: one forward per frame serves all its proposals.

For an open_clip ``VisionTransformer`` the encoder is run by hand, block by block, to keep

* ``tokens``: the output of the last transformer block, **before** ``ln_post`` (class token
  first, then the ``h × w`` patch tokens in row-major order) — what mask pooling averages;
* ``last_input``: the input of the last block — what the masked-attention variant re-runs the
  class token's attention on.

Any input size is accepted: the positional embedding is resized (bicubic, as open_clip does when
it loads weights of another resolution) to the patch grid of the requested ``(H, W)``. Only ViT
towers with a class token are supported; other towers (ModifiedResNet, timm ConvNeXt, ...) are
refused with an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from folk.clip.loader import ClipModel
from folk.errors import FolkInputError


@dataclass
class DenseFeatures:
    """Dense features of a batch of images."""

    tokens: torch.Tensor  # (B, 1 + h*w, C) last block output, pre ln_post, class token first
    last_input: torch.Tensor  # (B, 1 + h*w, C) input of the last block
    grid: tuple[int, int]  # (h, w) patch grid

    @property
    def patches(self) -> torch.Tensor:
        """``(B, h, w, C)`` patch tokens (pre ``ln_post``)."""
        b, _, c = self.tokens.shape
        return self.tokens[:, 1:].reshape(b, *self.grid, c)

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def select(self, i: int) -> DenseFeatures:
        return DenseFeatures(self.tokens[i:i + 1], self.last_input[i:i + 1], self.grid)


def check_dense_support(clip: ClipModel) -> None:
    """Raise :class:`FolkInputError` unless the image tower gives dense ViT features."""
    from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

    visual = clip.visual
    if not isinstance(visual, VisionTransformer):
        raise FolkInputError(
            f"CLIP {clip.name!r}: dense patch features are implemented for ViT image towers only; "
            f"{type(visual).__name__} (ResNet / ConvNeXt / timm towers) is not supported — "
            "choose a ViT model (e.g. ViT-B-16)")
    if visual.attn_pool is not None:
        raise FolkInputError(f"CLIP {clip.name!r}: ViTs with an attentional pooler (CoCa) are "
                             "not supported for dense features")
    if not all(isinstance(b, ResidualAttentionBlock) for b in visual.transformer.resblocks):
        raise FolkInputError(f"CLIP {clip.name!r}: custom attention blocks are not supported "
                             "for dense features")


def patch_grid(clip: ClipModel, size: tuple[int, int]) -> tuple[int, int]:
    ph, pw = clip.visual.patch_size
    if size[0] % ph or size[1] % pw:
        raise FolkInputError(f"CLIP input size {size} is not a multiple of the patch size "
                             f"{(ph, pw)}")
    return size[0] // ph, size[1] // pw


_POS_CACHE: dict[tuple[int, tuple[int, int]], torch.Tensor] = {}


def positional_embedding(visual: torch.nn.Module, grid: tuple[int, int]) -> torch.Tensor:
    """``(1 + h*w, C)`` positional embedding of ``visual`` resized to ``grid`` (bicubic)."""
    pos = visual.positional_embedding
    native = tuple(visual.grid_size)
    if tuple(grid) == native:
        return pos
    key = (id(pos), tuple(grid))
    if key not in _POS_CACHE:
        cls, rest = pos[:1], pos[1:]
        c = rest.shape[-1]
        rest = rest.reshape(1, *native, c).permute(0, 3, 1, 2).float()
        rest = F.interpolate(rest, size=grid, mode="bicubic", align_corners=False)
        rest = rest.permute(0, 2, 3, 1).reshape(-1, c).to(pos.dtype)
        _POS_CACHE[key] = torch.cat([cls, rest])
    return _POS_CACHE[key]


def run_vit(visual: torch.nn.Module, x: torch.Tensor) -> DenseFeatures:
    """The ViT forward up to (and including) the last block, keeping its input and output."""
    x = visual.conv1(x)
    b, c, h, w = x.shape
    x = x.reshape(b, c, h * w).permute(0, 2, 1)
    cls = visual.class_embedding.to(x.dtype).view(1, 1, -1).expand(b, -1, -1)
    x = torch.cat([cls, x], dim=1) + positional_embedding(visual, (h, w)).to(x.dtype)
    x = visual.ln_pre(x)
    blocks = visual.transformer.resblocks
    batch_first = getattr(visual.transformer, "batch_first", True)
    if not batch_first:
        x = x.transpose(0, 1)
    for block in blocks[:-1]:
        x = block(x)
    last_input = x
    x = blocks[-1](x)
    if not batch_first:
        x, last_input = x.transpose(0, 1), last_input.transpose(0, 1)
    return DenseFeatures(tokens=x, last_input=last_input, grid=(h, w))


@torch.no_grad()
def encode_dense(clip: ClipModel, images: list[np.ndarray] | np.ndarray,
                 size: tuple[int, int] | None = None) -> DenseFeatures:
    """Dense features of uint8 RGB images ``(H, W, 3)``, all resized to ``size`` ``(H, W)``
    (default: the model's own input size; must be a multiple of the patch size)."""
    check_dense_support(clip)
    size = tuple(size or clip.image_size)
    patch_grid(clip, size)
    x = clip.preprocess(images, size=size)
    x = x.to(next(clip.visual.parameters()).dtype)
    return run_vit(clip.visual, x)
