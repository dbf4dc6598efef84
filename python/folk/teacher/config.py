"""Configuration of the teacher's geometry steps: one frozen dataclass per operation.

Each field's default is marked as the paper's (FOLK, arXiv 2510.08849), another method's, or
ours where the paper does not give it (METHOD.md: "keep it configurable and say so"). The op
functions in :mod:`folk.ops` take the same parameters as keywords with the same defaults;
``config.kwargs()`` passes a config to them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from folk.errors import FolkInputError


@dataclass(frozen=True)
class VisibilityConfig:
    """Projection and visibility (METHOD.md §1; :func:`folk.ops.visibility.visibility_counts`).

    Attributes:
        delta: depth tolerance δ in metres: a point is visible when ``|D − z| ≤ δ``. Default
            0.2 is OpenMask3D's (the paper does not say; Open-YOLO 3D uses 0.05).
    """

    delta: float = 0.2

    def __post_init__(self) -> None:
        if not (math.isfinite(self.delta) and self.delta >= 0):
            raise FolkInputError(f"VisibilityConfig.delta must be >= 0 metres, got {self.delta}")

    def kwargs(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ViewSelectionConfig:
    """Multi-view selection (METHOD.md §2; :func:`folk.ops.views.select_views`).

    Attributes:
        k: views pre-selected (and at most kept) per proposal. The paper explores 5…8; the
            default 5 is the low end of that range (ours).
        theta_deg: minimum rotation angle between kept views, degrees. Ours: 15.
        min_visible: frames with fewer visible points of the proposal are never candidates.
            Ours: 1.
        refill: keep walking the ranked frames past the top ``k`` until ``k`` views are kept
            (ours; off = the paper's "pre-select the top-k, then prune").
    """

    k: int = 5
    theta_deg: float = 15.0
    min_visible: int = 1
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
    """Density-guided mask completion (METHOD.md §3;
    :func:`folk.ops.mask_completion.complete_masks`).

    Attributes:
        radius: ``r``: dilation and fill squares are ``(2r+1)²``, growth steps ``r·d``. Ours: 2.
        gaussian_size: ``s``, odd; σ = 0.3·((s−1)/2 − 1) + 0.8 (OpenCV's rule). Ours: 7.
        tau: density threshold τ for seeds. Ours: 0.3.
        directions: ``m``, growth directions per seed (of 8). Ours: 3.
        iterations: ``T``. The paper's: 2.
    """

    radius: int = 2
    gaussian_size: int = 7
    tau: float = 0.3
    directions: int = 3
    iterations: int = 2

    def __post_init__(self) -> None:
        from folk.ops.mask_completion import _check_params

        _check_params(self.radius, self.gaussian_size, self.tau, self.directions,
                      self.iterations)

    def kwargs(self) -> dict:
        return asdict(self)
