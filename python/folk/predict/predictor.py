"""Image-free prediction (METHOD.md §8): NMS → segment mean → VL-adapter → classification.

``p(c | q) = softmax_c(cos(f_q, t_c) / τ_l)`` over any vocabulary; the predicted class is the
argmax; confidence = class probability × proposal score, or 1 for every instance with
``confidence_one`` (how OpenMask3D and Open-YOLO 3D report).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkInputError
from folk.proposals.csr import ProposalCSR, masks_to_csr
from folk.proposals.nms import DEFAULT_IOU, mask_nms
from folk.student.model import VLAdapter
from folk.student.segment_mean import segment_mean

#: τ_l when neither the caller nor the checkpoint gives one (ours; the paper's is unknown).
DEFAULT_TAU_L = 0.01


@dataclass(frozen=True)
class PredictConfig:
    tau_l: float | None = None  # None: the checkpoint's (the τ_l it was trained with)
    nms_iou: float = DEFAULT_IOU  # paper, App. B; >= 1 disables NMS
    confidence_one: bool = False


@dataclass
class ScenePrediction:
    """K predicted instances of one scene, highest confidence first."""

    scene: str
    masks: np.ndarray  # (N, K) bool
    proposal_index: np.ndarray  # (K,) int64, column in the input proposals
    class_index: np.ndarray  # (K,) int64, index into the vocabulary
    label_ids: np.ndarray  # (K,) int64, benchmark label ids
    class_probs: np.ndarray  # (K,) float32, p(predicted class | q)
    confidences: np.ndarray  # (K,) float64
    embeddings: np.ndarray  # (K, D) float32, student embeddings f_q
    timings: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.label_ids.shape[0])

    def to_instance_prediction(self):
        """The evaluator's view (:class:`folk.evaluation.prediction.InstancePrediction`)."""
        from folk.evaluation.prediction import InstancePrediction

        return InstancePrediction(np.ascontiguousarray(self.masks.T), self.label_ids,
                                  self.confidences)


def embed_segments(adapter: VLAdapter, features: np.ndarray, segments: ProposalCSR,
                   ) -> np.ndarray:
    """``(Q, D) float32`` student embeddings of the proposals of ``segments`` (CSR)."""
    if features.ndim != 2 or features.shape[1] != adapter.in_dim:
        raise FolkInputError(f"the adapter takes {adapter.in_dim}-dim point features, the "
                             f"features have shape {features.shape}")
    if segments.num_proposals == 0:
        return np.zeros((0, adapter.out_dim), dtype=np.float32)
    pooled = segment_mean(features, segments)
    with torch.inference_mode():
        return adapter(torch.from_numpy(pooled)).numpy()


def embed_proposals(adapter: VLAdapter, features: PointFeatures | np.ndarray,
                    proposals: Proposals) -> np.ndarray:
    """``(Q, D) float32`` student embeddings of every proposal."""
    x = features.features if isinstance(features, PointFeatures) else np.asarray(features)
    if x.ndim != 2 or x.shape[0] != proposals.num_points:
        raise FolkInputError(f"point features {x.shape} but the proposals cover "
                             f"{proposals.num_points} points")
    return embed_segments(adapter, x, masks_to_csr(proposals.masks))


def class_probabilities(embeddings: np.ndarray, text_embeddings: np.ndarray, tau_l: float,
                        ) -> np.ndarray:
    """``(Q, C)`` softmax over classes of ``cos(f_q, t_c) / τ_l``."""
    if tau_l <= 0:
        raise FolkInputError(f"tau_l must be > 0, got {tau_l}")
    f = torch.nn.functional.normalize(torch.as_tensor(embeddings, dtype=torch.float32), dim=-1)
    t = torch.nn.functional.normalize(torch.as_tensor(text_embeddings, dtype=torch.float32),
                                      dim=-1)
    if f.shape[-1] != t.shape[-1]:
        raise FolkInputError(f"student embeddings have {f.shape[-1]} dims but the text "
                             f"embeddings {t.shape[-1]}")
    return torch.softmax(f @ t.T / tau_l, dim=-1).numpy()


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
    csr = masks_to_csr(proposals.masks)
    keep = mask_nms(None, proposals.scores, config.nms_iou, csr=csr)
    t1 = time.perf_counter()
    emb = embed_segments(adapter, x, csr.select(keep))
    t2 = time.perf_counter()
    order, cls, p, conf = classify_embeddings(emb, proposals.scores[keep], text_embeddings, tau,
                                              config.confidence_one)
    t3 = time.perf_counter()
    return ScenePrediction(
        scene=scene, masks=proposals.masks[:, keep[order]],
        proposal_index=keep[order].astype(np.int64), class_index=cls,
        label_ids=label_ids[cls], class_probs=p, confidences=conf, embeddings=emb[order],
        timings={"csr_nms": t1 - t0, "student": t2 - t1, "classify": t3 - t2})


def check_vocabulary(text_embeddings: np.ndarray, label_ids, adapter: VLAdapter,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(text_embeddings (C, D) float32, label_ids (C,) int64)``, checked against each other
    and against the adapter's output width."""
    text_embeddings = np.asarray(text_embeddings, dtype=np.float32)
    label_ids = np.asarray(label_ids, dtype=np.int64).reshape(-1)
    if text_embeddings.ndim != 2 or text_embeddings.shape[0] != label_ids.shape[0]:
        raise FolkInputError(f"text embeddings {text_embeddings.shape} and "
                             f"{label_ids.shape[0]} label ids do not describe one vocabulary")
    if text_embeddings.shape[0] == 0:
        raise FolkInputError("the vocabulary is empty")
    if text_embeddings.shape[1] != adapter.out_dim:
        raise FolkInputError(f"the adapter outputs {adapter.out_dim}-dim embeddings but the text "
                             f"embeddings have {text_embeddings.shape[1]} dims (another CLIP "
                             "model?)")
    return text_embeddings, label_ids


def classify_embeddings(embeddings: np.ndarray, scores: np.ndarray, text_embeddings: np.ndarray,
                        tau_l: float, confidence_one: bool = False,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Classify K student embeddings: ``(order, class_index, class_probs, confidences)``, the
    last three already in ``order`` (by descending confidence, stable)."""
    k = embeddings.shape[0]
    if k == 0:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32),
                np.zeros(0, np.float64))
    probs = class_probabilities(embeddings, text_embeddings, tau_l)
    cls = probs.argmax(axis=1)
    p = probs[np.arange(k), cls].astype(np.float32)
    conf = np.ones(k) if confidence_one else p.astype(np.float64) * np.asarray(scores, np.float64)
    order = np.argsort(-conf, kind="stable")
    return order, cls[order].astype(np.int64), p[order], conf[order]


def write_scannet_submission(out_dir: str | Path, prediction: ScenePrediction) -> Path:
    """Write one scene in the ScanNet submission format (FORMATS.md)::

        <out>/<scene>.txt              "pred_mask/<scene>_<k>.txt <label_id> <confidence>"
        <out>/pred_mask/<scene>_<k>.txt one 0/1 per vertex

    through :func:`folk.evaluation.submission.write_submission` (atomic files, the scene file
    last), so that what folk writes is what ``folk eval`` reads. Returns ``<out>/<scene>.txt``.
    """
    from folk.evaluation.submission import write_submission

    if not prediction.scene:
        raise FolkInputError("a prediction needs a scene name to be written")
    return write_submission(out_dir, prediction.scene, prediction.to_instance_prediction())


__all__ = ["DEFAULT_TAU_L", "PredictConfig", "ScenePrediction",
           "check_vocabulary", "class_probabilities", "classify_embeddings", "embed_proposals",
           "embed_segments", "predict_scene", "write_scannet_submission"]
