"""The label vote (docs/method.md §5): from a proposal's view embeddings to its label and target.

Per view ``v``: ``c_v = argmax_c cos(e_v, t_c)``. The proposal's label ``c*`` is the most frequent
``c_v``; a tie is broken by the highest mean similarity ``mean_{v: c_v = c} cos(e_v, t_c)`` among
the tied classes (then by the lowest class index). The target is the L2-normalised mean of the
views with ``c_v = c*``. A proposal without a usable view gets label ``-1`` and a zero target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class VoteResult:
    view_labels: np.ndarray  # (Q, K) int32 nearest class per view, -1 where no view
    labels: np.ndarray  # (Q,) int64 voted class, -1 = no usable view
    targets: np.ndarray  # (Q, D) float32 normalised mean of the agreeing views


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(n > 0, x / np.maximum(n, 1e-12), 0.0)


def vote(view_embeddings: np.ndarray, valid: np.ndarray, text_embeddings: np.ndarray
         ) -> VoteResult:
    """Vote over ``K`` views for each of ``Q`` proposals.

    Args:
        view_embeddings: ``(Q, K, D)`` L2-normalised view embeddings (anything where invalid).
        valid: ``(Q, K)`` bool, which views exist.
        text_embeddings: ``(C, D)`` L2-normalised class embeddings.
    """
    e = np.asarray(view_embeddings, np.float32)
    valid = np.asarray(valid, bool)
    t = np.asarray(text_embeddings, np.float32)
    q, _, d = e.shape
    c = t.shape[0]
    sims = e @ t.T  # (Q, K, C)
    view_labels = np.where(valid, sims.argmax(axis=-1), -1).astype(np.int32)
    labels = np.full(q, -1, np.int64)
    targets = np.zeros((q, d), np.float32)
    for i in range(q):
        keep = view_labels[i] >= 0
        if not keep.any():
            continue
        lab = view_labels[i][keep]
        counts = np.bincount(lab, minlength=c)
        tied = np.flatnonzero(counts == counts.max())
        if tied.size > 1:
            s = sims[i][keep]
            means = [s[lab == j, j].mean() for j in tied]
            best = tied[int(np.argmax(means))]  # argmax takes the first (lowest index) on ties
        else:
            best = tied[0]
        labels[i] = best
        targets[i] = _normalise(e[i][view_labels[i] == best].mean(axis=0))
    return VoteResult(view_labels=view_labels, labels=labels, targets=targets)
