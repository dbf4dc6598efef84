"""The predicted instances of one scene, as the submission files hold them and the evaluator
scores them (:class:`InstancePrediction`). Defined with prediction, which makes them;
:mod:`folk.evaluation` imports it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folk.errors import FolkInputError


@dataclass(frozen=True, eq=False)
class InstancePrediction:
    """K predicted instances of one scene.

    masks:       (N, K) bool, **one column per instance** over the scene's N vertices (the
                 ``*_vh_clean_2.ply`` vertices on ScanNet) — folk's one mask orientation,
                 that of :class:`~folk.data.scene.Proposals` and Mask3D's files. Any numeric
                 array is accepted and read as ``!= 0``.
    label_ids:   (K,) int64, benchmark label ids (e.g. ScanNet200 ``VALID_CLASS_IDS_200``), not
                 indices into a class list.
    confidences: (K,) float64, finite; higher ranks first.

    The constructor normalises dtypes and checks shapes, raising :class:`FolkInputError` (a
    ``(K, N)`` array is recognised and rejected when K != N).
    """

    masks: np.ndarray
    label_ids: np.ndarray
    confidences: np.ndarray

    def __post_init__(self) -> None:
        masks = np.asarray(self.masks)
        label_ids = np.asarray(self.label_ids)
        confidences = np.asarray(self.confidences, dtype=np.float64)
        if label_ids.ndim != 1 or confidences.ndim != 1:
            raise FolkInputError(
                f"label_ids and confidences must be 1-D, got shapes {label_ids.shape} and "
                f"{confidences.shape}"
            )
        k = label_ids.shape[0]
        if masks.size == 0 and k == 0:
            masks = masks.reshape(masks.shape[0] if masks.ndim == 2 else 0, 0)
        if masks.ndim != 2:
            raise FolkInputError(f"masks must be 2-D (N vertices x K instances), got "
                                 f"{masks.shape}")
        if confidences.shape[0] != k or masks.shape[1] != k:
            hint = ""
            if masks.shape[0] == k and masks.shape[1] != k:
                hint = " (masks look like K x N: pass masks.T)"
            raise FolkInputError(
                f"inconsistent prediction: {k} label_ids, {confidences.shape[0]} confidences, "
                f"masks of shape {masks.shape}; masks must be N x K, one column per "
                f"instance{hint}"
            )
        if label_ids.dtype.kind == "f":
            if not np.all(np.isfinite(label_ids)) or np.any(label_ids != np.round(label_ids)):
                raise FolkInputError("label_ids must be integers")
        elif label_ids.dtype.kind not in "iub":
            raise FolkInputError(f"label_ids must be integers, got dtype {label_ids.dtype}")
        if not np.all(np.isfinite(confidences)):
            raise FolkInputError("confidences must be finite (no NaN or inf)")
        if masks.dtype != np.bool_:
            masks = masks != 0
        object.__setattr__(self, "masks", masks)
        object.__setattr__(self, "label_ids", label_ids.astype(np.int64))
        object.__setattr__(self, "confidences", confidences)

    @classmethod
    def empty(cls, num_vertices: int = 0) -> InstancePrediction:
        """No predicted instance."""
        return cls(
            np.zeros((num_vertices, 0), dtype=bool),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.float64),
        )

    def __len__(self) -> int:
        return int(self.label_ids.shape[0])

    @property
    def num_vertices(self) -> int:
        return int(self.masks.shape[0])

    def instance_masks(self) -> np.ndarray:
        """``(K, N)`` bool, C-contiguous: row ``k`` is instance ``k``'s mask (a copy, for code
        that walks instances one at a time)."""
        return np.ascontiguousarray(self.masks.T)

    def with_confidence_one(self) -> InstancePrediction:
        """The same instances, every confidence set to 1 (how OpenMask3D and Open-YOLO 3D
        report their numbers)."""
        return InstancePrediction(self.masks, self.label_ids, np.ones_like(self.confidences))
