"""CLIP for folk's teacher: offline loading, dense patch features, mask pooling, text cache.

* :func:`load_clip` (``loader``): the one place that knows about weight files and tags;
* :func:`encode_dense` (``dense``): one forward per image, patch tokens kept;
* :func:`area_weights`, :func:`mask_pool`, :func:`masked_attention_pool` (``pooling``);
* :func:`text_embeddings` (``text``): prompt embeddings cached per (model, vocabulary).
"""

from folk.clip.dense import DenseFeatures, encode_dense
from folk.clip.loader import DEFAULT_MODEL, ClipModel, load_clip
from folk.clip.pooling import (
           area_weights,
           area_weights_from_pixels,
           mask_pool,
           masked_attention_pool,
)
from folk.clip.text import TEMPLATE, text_embeddings

__all__ = ["DEFAULT_MODEL", "TEMPLATE", "ClipModel", "DenseFeatures", "area_weights",
           "area_weights_from_pixels", "encode_dense", "load_clip", "mask_pool",
           "masked_attention_pool", "text_embeddings"]
