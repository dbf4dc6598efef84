"""CLIP for folk's teacher: offline loading, dense patch features, mask pooling, text cache.

* :func:`load_clip` (``loader``): the one place that knows about weight files and tags;
* :func:`encode_dense` (``dense``): one forward per image, patch tokens kept;
* :func:`area_weights`, :func:`mask_pool`, :func:`masked_attention_pool` (``pooling``);
* :func:`text_embeddings` (``text``): prompt embeddings cached per (model, vocabulary);
* ``defaults``: the default model, the prompt template and the poolings, without torch.

Names are imported on first use, so that importing ``folk.clip`` does not load PyTorch.
"""

from __future__ import annotations

from folk._lazy import lazy_getattr

_EXPORTS = {
    "DEFAULT_MODEL": "defaults", "POOLINGS": "defaults", "TEMPLATE": "defaults",
    "DenseFeatures": "dense", "encode_dense": "dense",
    "ClipModel": "loader", "load_clip": "loader",
    "area_weights": "pooling", "area_weights_from_pixels": "pooling", "mask_pool": "pooling",
    "masked_attention_pool": "pooling",
    "text_embeddings": "text",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
