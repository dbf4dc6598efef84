"""Image-free prediction (docs/method.md §8): NMS → segment mean → VL-adapter → classification.

``p(c | q) = softmax_c(cos(f_q, t_c) / τ_l)`` over any vocabulary; the predicted class is the
argmax; confidence = class probability × proposal score, or 1 for every instance with
``confidence_one`` (how OpenMask3D and Open-YOLO 3D report). The student's forward pass and
classification rule live in :mod:`folk.student.classify`; this module applies them to a scene.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkInputError
from folk.predict.instances import InstancePrediction
from folk.proposals.nms import DEFAULT_IOU, nms_membership
from folk.student.classify import (
    DEFAULT_TAU_L,
    check_vocabulary,
    classify_embeddings,
    embed_segments,
)

if TYPE_CHECKING:
    from folk.student.model import VLAdapter


@dataclass(frozen=True)
class PredictConfig:
    tau_l: float | None = None  # None: the checkpoint's (the τ_l it was trained with)
    nms_iou: float = DEFAULT_IOU  # paper, App. B; >= 1 disables NMS
    confidence_one: bool = False


@dataclass
class ScenePrediction:
    """K predicted instances of one scene, highest confidence first, with what the student saw.

    ``masks`` is ``(N, K)`` bool, one column per instance (folk's one mask orientation, as in
    :class:`~folk.data.scene.Proposals` and :class:`InstancePrediction`); the constructor checks
    it against the K label ids.
    """

    scene: str
    masks: np.ndarray  # (N, K) bool, column k = instance k
    proposal_index: np.ndarray  # (K,) int64, column in the input proposals
    class_index: np.ndarray  # (K,) int64, index into the vocabulary
    label_ids: np.ndarray  # (K,) int64, benchmark label ids
    class_probs: np.ndarray  # (K,) float32, p(predicted class | q)
    confidences: np.ndarray  # (K,) float64
    embeddings: np.ndarray  # (K, D) float32, student embeddings f_q
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        k = int(np.asarray(self.label_ids).shape[0])
        per_instance = (self.proposal_index, self.class_index, self.class_probs,
                        self.confidences, self.embeddings)
        if any(int(np.asarray(a).shape[0]) != k for a in per_instance):
            raise FolkInputError(f"scene {self.scene!r}: per-instance arrays of different "
                                 f"lengths (label_ids has {k})")
        masks = np.asarray(self.masks)
        if masks.ndim != 2 or masks.shape[1] != k:
            hint = " (they look like K x N: pass masks.T)" if masks.shape[:1] == (k,) else ""
            raise FolkInputError(f"scene {self.scene!r}: masks of shape {masks.shape} for {k} "
                                 f"instances; masks must be N x K, one column per "
                                 f"instance{hint}")

    def __len__(self) -> int:
        return int(self.label_ids.shape[0])

    def to_instance_prediction(self) -> InstancePrediction:
        """The evaluator's and the submission files' view (:class:`InstancePrediction`)."""
        return InstancePrediction(self.masks, self.label_ids, self.confidences)


def predict_scene(features: PointFeatures | np.ndarray, proposals: Proposals,
                  adapter: VLAdapter, text_embeddings: np.ndarray, label_ids,
                  config: PredictConfig | None = None, *, tau_l: float = DEFAULT_TAU_L,
                  scene: str = "") -> ScenePrediction:
    """Classify the proposals of one scene.

    ``text_embeddings`` ``(C, D)`` and ``label_ids`` ``(C,)`` describe the vocabulary;
    ``tau_l`` is used when ``config.tau_l`` is None.
    """
    config = config or PredictConfig()
    tau = config.tau_l if config.tau_l is not None else tau_l
    text_embeddings, label_ids = check_vocabulary(text_embeddings, label_ids, adapter)
    x = features.features if isinstance(features, PointFeatures) else np.asarray(features)
    if x.ndim != 2 or x.shape[0] != proposals.num_points:
        raise FolkInputError(f"scene {scene!r}: point features {x.shape} but the proposals "
                             f"cover {proposals.num_points} points")
    t0 = time.perf_counter()
    keep, kept = nms_membership(proposals, config.nms_iou)
    t1 = time.perf_counter()
    emb = embed_segments(adapter, x, kept)
    t2 = time.perf_counter()
    order, cls, p, conf = classify_embeddings(emb, proposals.scores[keep], text_embeddings, tau,
                                              config.confidence_one)
    t3 = time.perf_counter()
    return ScenePrediction(
        scene=scene, masks=proposals.masks[:, keep[order]],
        proposal_index=keep[order].astype(np.int64), class_index=cls,
        label_ids=label_ids[cls], class_probs=p, confidences=conf, embeddings=emb[order],
        timings={"csr_nms": t1 - t0, "student": t2 - t1, "classify": t3 - t2})


def write_scannet_submission(out_dir: str | Path, prediction: ScenePrediction) -> Path:
    """Write one scene in the ScanNet submission format (docs/formats.md)::

        <out>/<scene>.txt              "pred_mask/<scene>_<k>.txt <label_id> <confidence>"
        <out>/pred_mask/<scene>_<k>.txt one 0/1 per vertex

    through :func:`folk.predict.submission.write_submission` (atomic files, the scene file
    last), so that what folk writes is what ``folk eval`` reads. Returns ``<out>/<scene>.txt``.
    """
    from folk.predict.submission import write_submission

    if not prediction.scene:
        raise FolkInputError("a prediction needs a scene name to be written")
    return write_submission(out_dir, prediction.scene, prediction.to_instance_prediction())


__all__ = ["PredictConfig", "ScenePrediction", "predict_scene", "write_scannet_submission"]
