"""Free-text queries: the instances of a scene ranked by ``cos(f_q, t)`` with the text's
embedding ``t`` (image-free, like prediction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkInputError
from folk.proposals.nms import DEFAULT_IOU, nms_membership
from folk.student.classify import embed_segments

if TYPE_CHECKING:
    from folk.student.model import VLAdapter


@dataclass
class QueryResult:
    """Instances by descending similarity to the query."""

    proposal_index: np.ndarray  # (K,) int64 columns of the input proposals
    similarity: np.ndarray  # (K,) float32 cosine similarity
    num_points: np.ndarray  # (K,) int64
    scores: np.ndarray  # (K,) float32 proposal scores


def rank_instances(features: PointFeatures | np.ndarray, proposals: Proposals,
                   adapter: VLAdapter, text_embedding: np.ndarray,
                   nms_iou: float = DEFAULT_IOU) -> QueryResult:
    """Rank the proposals (after NMS) by cosine similarity to ``text_embedding`` ``(D,)``."""
    t = np.asarray(text_embedding, dtype=np.float32).reshape(-1)
    if t.shape[0] != adapter.out_dim:
        raise FolkInputError(f"the query embedding has {t.shape[0]} dims, the adapter outputs "
                             f"{adapter.out_dim}")
    norm = float(np.linalg.norm(t))
    if not np.isfinite(norm) or norm == 0:
        raise FolkInputError("the query embedding is zero or not finite")
    x = features.features if isinstance(features, PointFeatures) else np.asarray(features)
    if x.ndim != 2 or x.shape[0] != proposals.num_points:
        raise FolkInputError(f"point features {x.shape} but the proposals cover "
                             f"{proposals.num_points} points")
    keep, kept = nms_membership(proposals, nms_iou)
    emb = embed_segments(adapter, x, kept)
    sim = (emb @ (t / norm)).astype(np.float32)
    order = np.argsort(-sim, kind="stable")
    return QueryResult(keep[order].astype(np.int64), sim[order],
                       kept.sizes[order].astype(np.int64), proposals.scores[keep][order])
