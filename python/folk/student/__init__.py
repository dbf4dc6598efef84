"""The student (docs/method.md §6): segment-mean pooling of point features over each proposal,
then the VL-adapter into CLIP's joint space, and the classification rule over any vocabulary.
Image-free. Also the per-scene inputs (features + proposals) every image-free step reads.

Names are imported on first use, so that the command line starts without loading PyTorch.
"""

from __future__ import annotations

from folk._lazy import lazy_getattr

_EXPORTS = {
    "AdapterConfig": "checkpoint", "NumpyAdapter": "checkpoint",
    "load_numpy_adapter": "checkpoint", "read_checkpoint_arrays": "checkpoint",
    "VLAdapter": "model", "adapter_from_state": "model",
    "load_adapter": "model", "read_checkpoint": "model", "save_adapter": "model",
    "SceneInputs": "inputs", "parse_scene_list": "inputs",
    "DEFAULT_TAU_L": "classify", "check_vocabulary": "classify",
    "class_probabilities": "classify", "classify_embeddings": "classify",
    "embed_proposals": "classify", "embed_segments": "classify",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
