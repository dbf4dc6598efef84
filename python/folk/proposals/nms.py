"""Mask non-maximum suppression: drop a proposal when a higher-scored one covers nearly the same
points (FOLK evaluates after NMS at mask IoU 0.9, paper App. B)."""

from __future__ import annotations

import numpy as np

from folk.data.membership import ProposalMembership
from folk.data.scene import Proposals
from folk.errors import FolkInputError

#: The paper's NMS threshold (App. B).
DEFAULT_IOU = 0.9


def _membership(masks: np.ndarray | None, membership: ProposalMembership | None,
                caller: str) -> ProposalMembership:
    if membership is not None:
        return membership
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 2:
        raise FolkInputError(f"{caller}: proposal masks must be (N, Q), got shape {masks.shape}")
    return ProposalMembership.from_masks(masks)


def mask_iou(masks: np.ndarray | None = None, *,
             membership: ProposalMembership | None = None) -> np.ndarray:
    """``(Q, Q) float64`` pairwise IoU of the columns of an ``(N, Q)`` boolean mask matrix (or
    of the proposals of ``membership``).

    Intersections come from a sparse product (cost grows with the overlaps, not with N × Q²);
    a pair of empty proposals has IoU 0.
    """
    membership = _membership(masks, membership, "mask_iou")
    a = membership.to_scipy()
    inter = (a @ a.T).toarray().astype(np.float64)
    sizes = np.asarray(membership.sizes, dtype=np.float64)
    union = sizes[:, None] + sizes[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def mask_nms(masks: np.ndarray | None, scores: np.ndarray, iou_threshold: float = DEFAULT_IOU,
             *, membership: ProposalMembership | None = None) -> np.ndarray:
    """Greedy mask NMS. Returns the kept proposal indices, highest score first.

    Proposals are visited by descending score (ties: lower index first); a proposal is
    suppressed when its IoU with an already kept one is **strictly greater** than
    ``iou_threshold`` (as ``torchvision.ops.nms``). ``masks`` is ``(N, Q)`` bool (or pass
    ``None`` and its ``membership``), ``scores`` ``(Q,)``. ``iou_threshold >= 1`` keeps
    everything.
    """
    membership = _membership(masks, membership, "mask_nms")
    q = membership.num_proposals
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape[0] != q:
        raise FolkInputError(f"mask_nms: {q} masks and {scores.shape[0]} scores do not match")
    if not np.isfinite(scores).all():
        raise FolkInputError("mask_nms: scores contain NaN or inf")
    if not 0.0 <= iou_threshold:
        raise FolkInputError(f"mask_nms: iou_threshold must be >= 0, got {iou_threshold}")
    order = np.argsort(-scores, kind="stable")
    if q == 0 or iou_threshold >= 1.0:
        return order.astype(np.int64)
    over = mask_iou(membership=membership)[np.ix_(order, order)] > iou_threshold  # visiting order
    suppressed = np.zeros(q, dtype=bool)
    keep = []
    for i in range(q):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= over[i]
    return order[np.asarray(keep, dtype=np.int64)]


def nms_proposals(proposals: Proposals, iou_threshold: float = DEFAULT_IOU,
                  ) -> tuple[Proposals, np.ndarray]:
    """``(kept proposals, kept indices)``, kept ones ordered by descending score."""
    keep = mask_nms(proposals.masks, proposals.scores, iou_threshold)
    return Proposals(proposals.masks[:, keep], proposals.scores[keep]), keep


def nms_membership(proposals: Proposals, iou_threshold: float = DEFAULT_IOU,
                   ) -> tuple[np.ndarray, ProposalMembership]:
    """The proposals mask NMS keeps, as prediction uses them: ``(kept indices (K,) int64,
    highest score first; their ProposalMembership, in that order)``. The membership of all
    proposals is built once and serves both the IoUs and the selection."""
    membership = ProposalMembership.from_masks(proposals.masks)
    keep = mask_nms(None, proposals.scores, iou_threshold, membership=membership)
    return keep, membership.select(keep)
