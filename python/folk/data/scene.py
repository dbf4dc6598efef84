"""The scene data model: typed dataclasses at the seam between readers and every later step.

Arrays follow one convention throughout folk: points ``(N, 3) float32`` in metres in the world
frame, colours ``(N, 3) uint8``, poses ``(4, 4) float64`` camera-to-world (camera x right, y down,
z forward, as ScanNet), depth ``(H, W) float32`` metres with 0 = invalid. Frames load their images
lazily, so a scene with thousands of frames costs nothing until a frame is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from folk.errors import FolkInputError


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics valid for images of exactly ``width`` × ``height`` pixels."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, width: int, height: int) -> Intrinsics:
        m = np.asarray(matrix, dtype=np.float64)
        return cls(float(m[0, 0]), float(m[1, 1]), float(m[0, 2]), float(m[1, 2]),
                   int(width), int(height))

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.width, self.height

    def scaled(self, width: int, height: int) -> Intrinsics:
        """Intrinsics for the same camera at another resolution.

        x-quantities scale with the width ratio and y-quantities with the height ratio. (Several
        public pipelines pass (H, W) where (W, H) is meant and end up about a pixel off.)
        """
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy,
                          int(width), int(height))


@dataclass(frozen=True)
class Frame:
    """One RGB-D frame; images are read on demand."""

    frame_id: int
    color_path: Path
    depth_path: Path
    pose: np.ndarray  # (4, 4) float64 camera-to-world
    depth_intrinsics: Intrinsics
    color_intrinsics: Intrinsics
    depth_scale: float  # raw depth units per metre (1000 for ScanNet, 6553.5 for Replica)

    def load_depth(self) -> np.ndarray:
        """Depth in metres, ``(H, W) float32``, 0 where invalid."""
        from folk.data.images import read_depth

        raw = read_depth(self.depth_path, expected_size=self.depth_intrinsics.size)
        return raw.astype(np.float32) / np.float32(self.depth_scale)

    def load_color(self) -> np.ndarray:
        """Colour image, ``(H, W, 3) uint8``."""
        from folk.data.images import read_color

        return read_color(self.color_path, expected_size=self.color_intrinsics.size)

    @property
    def world_to_camera(self) -> np.ndarray:
        return np.linalg.inv(self.pose)


@dataclass
class Scene:
    """A scanned scene: its point set and the frames that observed it."""

    name: str
    points: np.ndarray  # (N, 3) float32
    colors: np.ndarray  # (N, 3) uint8
    frames: list[Frame]
    normals: np.ndarray | None = None  # (N, 3) float32
    root: Path | None = None
    skipped_frames: list[int] = field(default_factory=list)  # ids dropped for bad poses

    def __post_init__(self) -> None:
        n = self.points.shape[0]
        if self.points.ndim != 2 or self.points.shape[1] != 3:
            raise FolkInputError(f"scene {self.name}: points must be (N, 3), got "
                                 f"{self.points.shape}", self.root)
        if n == 0:
            raise FolkInputError(f"scene {self.name} has no points", self.root)
        if not np.isfinite(self.points).all():
            raise FolkInputError(f"scene {self.name}: points contain NaN or inf", self.root)
        for attr in ("colors", "normals"):
            value = getattr(self, attr)
            if value is not None and value.shape != (n, 3):
                raise FolkInputError(f"scene {self.name}: {attr} has shape {value.shape}, "
                                     f"expected ({n}, 3)", self.root)

    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def frame_ids(self) -> np.ndarray:
        return np.array([f.frame_id for f in self.frames], dtype=np.int64)

    @property
    def poses(self) -> np.ndarray:
        """``(F, 4, 4)`` camera-to-world poses of the usable frames."""
        if not self.frames:
            return np.zeros((0, 4, 4))
        return np.stack([f.pose for f in self.frames])


@dataclass
class Proposals:
    """Class-agnostic instance proposals over a scene's points.

    ``masks`` is ``(N, Q)`` bool, **one column per proposal** (Mask3D's layout). This is folk's
    one mask orientation: :class:`folk.predict.instances.InstancePrediction` and
    :class:`folk.predict.predictor.ScenePrediction` hold their masks the same way, and
    :class:`folk.data.membership.ProposalMembership` is the compact form of the same columns.
    """

    masks: np.ndarray  # (N, Q) bool, column q = proposal q
    scores: np.ndarray  # (Q,) float32

    def __post_init__(self) -> None:
        self.masks = np.asarray(self.masks, dtype=bool)
        if self.masks.ndim != 2:
            raise FolkInputError(f"proposal masks must be (N, Q), got {self.masks.shape}")
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if self.scores.shape[0] != self.masks.shape[1]:
            q = self.scores.shape[0]
            hint = (" (the masks look like Q x N: pass masks.T)"
                    if self.masks.shape[0] == q else "")
            raise FolkInputError(f"{self.masks.shape[1]} proposals but {q} scores; masks must "
                                 f"be N x Q, one column per proposal{hint}")

    @property
    def num_points(self) -> int:
        return int(self.masks.shape[0])

    @property
    def num_proposals(self) -> int:
        return int(self.masks.shape[1])

    @property
    def sizes(self) -> np.ndarray:
        return self.masks.sum(axis=0)


@dataclass
class PointFeatures:
    """Per-point features of a 3D backbone (Mask3D: C = 96 or 128), aligned with the points."""

    features: np.ndarray  # (N, C) float32

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        if self.features.ndim != 2:
            raise FolkInputError(f"point features must be (N, C), got {self.features.shape}")

    @property
    def num_points(self) -> int:
        return int(self.features.shape[0])

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])


@dataclass
class GroundTruth:
    """Per-vertex instance GT in the ScanNet benchmark encoding ``label_id * 1000 + instance + 1``.
    Values below 1000 (label 0; 0 itself in practice) belong to no instance."""

    ids: np.ndarray  # (N,) int64

    @property
    def num_points(self) -> int:
        return int(self.ids.shape[0])

    @property
    def label_ids(self) -> np.ndarray:
        return self.ids // 1000

    @property
    def instance_ids(self) -> np.ndarray:
        """``instance + 1`` per vertex, 0 where the vertex belongs to no instance."""
        return np.where(self.ids >= 1000, self.ids % 1000, 0)

    def instance_masks(self) -> tuple[np.ndarray, np.ndarray]:
        """``(masks (N, I) bool, label_ids (I,))`` for every GT instance."""
        codes = np.unique(self.ids[self.ids >= 1000])
        masks = self.ids[:, None] == codes[None, :]
        return masks, codes // 1000
