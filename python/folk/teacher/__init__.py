"""The teacher: from a scene and its proposals to per-proposal CLIP targets.

One module per step, in the order the data flows::

    visibility counts (folk.ops.visibility)  ->  view selection (folk.ops.views)
    ->  sparse masks + density-guided completion (folk.ops.mask_completion)
    ->  per-view CLIP embeddings  ->  label vote  ->  targets (folk.teacher.targets)

:mod:`folk.teacher.config` holds one config dataclass per step; ``folk views``
(:mod:`folk.teacher.views_cli`) runs the geometric part on a scene.
"""

from folk.teacher.config import MaskCompletionConfig, ViewSelectionConfig, VisibilityConfig

__all__ = ["MaskCompletionConfig", "ViewSelectionConfig", "VisibilityConfig"]
