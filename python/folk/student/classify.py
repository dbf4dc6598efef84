"""The student's forward pass and classification rule (docs/method.md §6, §8), shared by
prediction, queries and the AP validation of distillation.

* :func:`embed_segments`: ``f_q = adapter(mean_{i∈q} X_i)`` for each proposal of a
  :class:`~folk.data.membership.ProposalMembership`;
* :func:`class_probabilities`: ``p(c | q) = softmax_c(cos(f_q, t_c) / τ_l)`` over any
  vocabulary of text embeddings ``t_c``;
* :func:`classify_embeddings`: the predicted class (argmax) and the confidence
  (class probability × proposal score, or 1 with ``confidence_one``), by descending confidence.

PyTorch is imported when a function runs, not when this module is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from folk.data.membership import ProposalMembership
from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkInputError

if TYPE_CHECKING:
    from folk.student.model import VLAdapter

#: τ_l, the classification temperature, when neither the caller nor the checkpoint gives one.
#: Ours (the paper does not give it): CLIP's learned logit scale is 100 = 1 / 0.01. Distillation
#: trains with it (:class:`folk.distill.config.DistillConfig`) and stores it in the checkpoint.
DEFAULT_TAU_L = 0.01


def embed_segments(adapter: VLAdapter, features: np.ndarray, segments: ProposalMembership,
                   ) -> np.ndarray:
    """``(Q, D) float32`` student embeddings of the proposals of ``segments``; ``adapter``: a
    :class:`~folk.student.model.VLAdapter` or a torch-free
    :class:`~folk.student.checkpoint.NumpyAdapter`."""
    from folk.ops.segment_mean import segment_mean

    if features.ndim != 2 or features.shape[1] != adapter.in_dim:
        raise FolkInputError(f"the adapter takes {adapter.in_dim}-dim point features, the "
                             f"features have shape {features.shape}")
    if segments.num_proposals == 0:
        return np.zeros((0, adapter.out_dim), dtype=np.float32)
    return adapter.embed(segment_mean(features, segments))


def embed_proposals(adapter: VLAdapter, features: PointFeatures | np.ndarray,
                    proposals: Proposals) -> np.ndarray:
    """``(Q, D) float32`` student embeddings of every proposal."""
    x = features.features if isinstance(features, PointFeatures) else np.asarray(features)
    if x.ndim != 2 or x.shape[0] != proposals.num_points:
        raise FolkInputError(f"point features {x.shape} but the proposals cover "
                             f"{proposals.num_points} points")
    return embed_segments(adapter, x, ProposalMembership.from_masks(proposals.masks))


def class_probabilities(embeddings: np.ndarray, text_embeddings: np.ndarray, tau_l: float,
                        ) -> np.ndarray:
    """``(Q, C)`` softmax over classes of ``cos(f_q, t_c) / τ_l``."""
    import torch

    if tau_l <= 0:
        raise FolkInputError(f"tau_l must be > 0, got {tau_l}")
    f = torch.nn.functional.normalize(torch.as_tensor(embeddings, dtype=torch.float32), dim=-1)
    t = torch.nn.functional.normalize(torch.as_tensor(text_embeddings, dtype=torch.float32),
                                      dim=-1)
    if f.shape[-1] != t.shape[-1]:
        raise FolkInputError(f"student embeddings have {f.shape[-1]} dims but the text "
                             f"embeddings {t.shape[-1]}")
    return torch.softmax(f @ t.T / tau_l, dim=-1).numpy()


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
