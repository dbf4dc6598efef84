"""The CLIP choices that configs and command lines need without loading CLIP (no torch here):
the default model, the prompt template and the mask-pooling methods."""

from __future__ import annotations

#: The packaged default: the project's small CLIP (synthetic vocabulary only; see
#: :mod:`folk.clip.loader`).
DEFAULT_MODEL = "folk-small-clip"

#: The teacher's prompt (docs/method.md §5).
TEMPLATE = "a {} in the scene"

#: Mask pooling of dense CLIP features (:mod:`folk.clip.pooling`).
POOLINGS = ("mean", "attention")
