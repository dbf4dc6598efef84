"""Configuration of the teacher: one frozen dataclass per step (the geometry operations, CLIP)
and :class:`TeacherConfig` holding them all. Importing it loads neither PyTorch nor CLIP.

Each field's default is marked as the paper's (FOLK, arXiv 2510.08849), another method's, or
ours where the paper does not give it (docs/method.md: "keep it configurable and say so"). The op
functions in :mod:`folk.ops` take the same parameters as keywords; each default value is defined
once, as a ``DEFAULT_*`` constant of the op's module, and both the op and the config here use it.
``config.kwargs()`` passes a config to the op.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from folk.clip.defaults import DEFAULT_MODEL, TEMPLATE
from folk.errors import FolkInputError
from folk.ops.mask_completion import (
    DEFAULT_DIRECTIONS,
    DEFAULT_GAUSSIAN_SIZE,
    DEFAULT_ITERATIONS,
    DEFAULT_RADIUS,
    DEFAULT_TAU,
)
from folk.ops.views import DEFAULT_K, DEFAULT_MIN_VISIBLE, DEFAULT_THETA_DEG
from folk.ops.visibility import DEFAULT_DELTA

if TYPE_CHECKING:
    from folk.clip.loader import ClipModel


@dataclass(frozen=True)
class VisibilityConfig:
    """Projection and visibility (docs/method.md §1; :func:`folk.ops.visibility.visibility_counts`).

    Attributes:
        delta: depth tolerance δ in metres: a point is visible when ``|D − z| ≤ δ``. Default
            0.2 is OpenMask3D's (the paper does not say; Open-YOLO 3D uses 0.05).
    """

    delta: float = DEFAULT_DELTA

    def __post_init__(self) -> None:
        if not (math.isfinite(self.delta) and self.delta >= 0):
            raise FolkInputError(f"VisibilityConfig.delta must be >= 0 metres, got {self.delta}")

    def kwargs(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ViewSelectionConfig:
    """Multi-view selection (docs/method.md §2; :func:`folk.ops.views.select_views`).

    Attributes:
        k: views pre-selected (and at most kept) per proposal. The paper explores 5…8; the
            default 5 is the low end of that range (ours).
        theta_deg: minimum rotation angle between kept views, degrees. Ours: 15.
        min_visible: frames with fewer visible points of the proposal are never candidates.
            Ours: 1.
        refill: keep walking the ranked frames past the top ``k`` until ``k`` views are kept
            (ours; off = the paper's "pre-select the top-k, then prune").
    """

    k: int = DEFAULT_K
    theta_deg: float = DEFAULT_THETA_DEG
    min_visible: int = DEFAULT_MIN_VISIBLE
    refill: bool = False

    def __post_init__(self) -> None:
        if int(self.k) != self.k or self.k < 1:
            raise FolkInputError(f"ViewSelectionConfig.k must be a positive integer, got {self.k}")
        if not (math.isfinite(self.theta_deg) and 0 <= self.theta_deg <= 180):
            raise FolkInputError("ViewSelectionConfig.theta_deg must lie in [0, 180], got "
                                 f"{self.theta_deg}")
        if int(self.min_visible) != self.min_visible or self.min_visible < 1:
            raise FolkInputError("ViewSelectionConfig.min_visible must be an integer >= 1, got "
                                 f"{self.min_visible}")

    def kwargs(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MaskCompletionConfig:
    """Density-guided mask completion (docs/method.md §3;
    :func:`folk.ops.mask_completion.complete_masks`).

    Attributes:
        radius: ``r``: dilation and fill squares are ``(2r+1)²``, growth steps ``r·d``. Ours: 2.
        gaussian_size: ``s``, odd; σ = 0.3·((s−1)/2 − 1) + 0.8 (OpenCV's rule). Ours: 7.
        tau: density threshold τ for seeds. Ours: 0.3.
        directions: ``m``, growth directions per seed (of 8). Ours: 3.
        iterations: ``T``. The paper's: 2.
    """

    radius: int = DEFAULT_RADIUS
    gaussian_size: int = DEFAULT_GAUSSIAN_SIZE
    tau: float = DEFAULT_TAU
    directions: int = DEFAULT_DIRECTIONS
    iterations: int = DEFAULT_ITERATIONS

    def __post_init__(self) -> None:
        from folk.ops.mask_completion import _check_params

        _check_params(self.radius, self.gaussian_size, self.tau, self.directions,
                      self.iterations)

    def kwargs(self) -> dict:
        return asdict(self)


TEACHERS = ("folk", "openmask3d")
#: Default CLIP input short side per model, where the model's own is not the best choice.
#: folk-small-clip was trained on whole 640 x 480 frames resized to 96 x 128 (and on 64 px object
#: crops, scripts/train_small_clip.py); encoding frames at 128 x 168 (positional embedding
#: resized) labels small objects better. Chosen on validation scenes (synthetic seeds 100-109:
#: short side 96 / 128 / 160 / 192 -> AP 84.3 / 90.1 / 90.0 / 90.2), not the benchmark's.
RECOMMENDED_SHORT_SIDE: dict[str, int] = {"folk-small-clip": 128}


@dataclass(frozen=True)
class ClipConfig:
    """Which CLIP, and how the teacher uses it.

    Attributes:
        model: open_clip architecture (default: the project's small CLIP — synthetic
            vocabulary only; for real scans give real weights).
        pretrained: open_clip pretrained tag, resolved from the local cache only.
        checkpoint: local checkpoint file (takes precedence over ``pretrained``).
        weights_cache_dir: where cached tags are looked up (default: HF cache, ~/.cache/clip).
        text_cache_dir: text-embedding cache folder (default ``~/.cache/folk/text``).
        template: prompt, docs/method.md §5.
        pooling: ``"attention"`` (masked attention in the last block) or ``"mean"``
            (``φ(Σ F·m / Σ m)``). Ours: ``"attention"`` (measured better, docs/teacher.md).
        short_side: CLIP input size of a frame's shorter side in pixels (the longer side keeps
            the aspect ratio); ``None``: :data:`RECOMMENDED_SHORT_SIDE` or the model's own.
        batch_frames: frames per CLIP forward.
        device: ``"cpu"`` or ``"cuda"``.
    """

    model: str = DEFAULT_MODEL
    pretrained: str | None = None
    checkpoint: str | None = None
    weights_cache_dir: str | None = None
    text_cache_dir: str | None = None
    template: str = TEMPLATE
    pooling: str = "attention"
    short_side: int | None = None
    batch_frames: int = 8
    device: str = "cpu"

    def load(self) -> ClipModel:
        from folk.clip.loader import load_clip

        return load_clip(self.model, pretrained=self.pretrained, checkpoint=self.checkpoint,
                         cache_dir=self.weights_cache_dir, device=self.device)

    def resolved_short_side(self) -> int | None:
        return self.short_side or RECOMMENDED_SHORT_SIDE.get(self.model)


@dataclass(frozen=True)
class TeacherConfig:
    """Everything the teacher does, one config per step (geometry steps: folk.teacher.config).

    Attributes:
        teacher: ``"folk"`` or ``"openmask3d"`` (the baseline).
        dense_masks: complete the sparse masks (docs/method.md §3) before pooling (folk only).
        crop_levels, crop_expansion: the baseline's multi-level crops (OpenMask3D: 3, 0.1).
        frame_chunk: frames whose depth images are held at once in the visibility pass.
        geometry_device: where the visibility and mask-completion kernels run (``"cpu"``,
            ``"cuda"``); CLIP runs on ``clip.device``.
    """

    teacher: str = "folk"
    visibility: VisibilityConfig = field(default_factory=VisibilityConfig)
    views: ViewSelectionConfig = field(default_factory=ViewSelectionConfig)
    completion: MaskCompletionConfig = field(default_factory=MaskCompletionConfig)
    dense_masks: bool = True
    clip: ClipConfig = field(default_factory=ClipConfig)
    crop_levels: int = 3
    crop_expansion: float = 0.1
    frame_chunk: int = 64
    geometry_device: str = "cpu"

    def __post_init__(self) -> None:
        if self.teacher not in TEACHERS:
            raise FolkInputError(f"unknown teacher {self.teacher!r}; expected one of {TEACHERS}")

    @classmethod
    def openmask3d(cls, **overrides) -> TeacherConfig:
        """The baseline: top-5 views by visible points, no rotation pruning, crops."""
        base = {"teacher": "openmask3d", "views": ViewSelectionConfig(k=5, theta_deg=0.0),
                "dense_masks": False}
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def result_settings(self) -> dict:
        """:meth:`to_dict` less what does not change the targets (devices, batch sizes,
        cache folders): targets made with other result settings are not reused."""
        settings = self.to_dict()
        for name in ("frame_chunk", "geometry_device"):
            settings.pop(name)
        for name in ("batch_frames", "device", "weights_cache_dir", "text_cache_dir"):
            settings["clip"].pop(name)
        return settings
