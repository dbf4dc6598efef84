"""Label-guided distillation loss (docs/method.md §7).

For the B proposals of a batch that have a teacher view (``labels >= 0``), with student
embeddings f_i, teacher targets ē_i and text embeddings t_c (all L2-normalised here):

- contrastive (InfoNCE over the batch): ``L_con = −(1/B) Σ_i log softmax_j(cos(f_i, ē_j)/τ_c)[i]``
- label: ``L_ce = (1/B) Σ_i CE(cos(f_i, t_·)/τ_l, c*_i)``
- ``L = λ1·L_con + λ2·L_ce``; the paper's best is λ1 = 0.2, λ2 = 0.8.

Proposals with ``labels == -1`` take no part: neither as anchors nor as negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from folk.distill.config import DistillConfig
from folk.errors import FolkInputError

_DEFAULTS = DistillConfig()  # the weights and temperatures default to the config's


@dataclass(frozen=True)
class LossTerms:
    total: torch.Tensor  # scalar, differentiable
    contrastive: torch.Tensor  # scalar, detached
    label: torch.Tensor  # scalar, detached
    count: int  # proposals that entered the loss


def distillation_loss(student: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor,
                      text_embeddings: torch.Tensor, *,
                      lambda_con: float = _DEFAULTS.lambda_con,
                      lambda_ce: float = _DEFAULTS.lambda_ce, tau_c: float = _DEFAULTS.tau_c,
                      tau_l: float = _DEFAULTS.tau_l) -> LossTerms:
    """The loss of one batch. ``student`` ``(B, D)``, ``targets`` ``(B, D)``, ``labels`` ``(B,)``
    (−1 = no teacher view), ``text_embeddings`` ``(C, D)``.

    A batch without a single valid proposal gives a zero loss that still back-propagates (so
    every process of a distributed run takes part in each step).
    """
    if student.ndim != 2 or targets.shape != student.shape:
        raise FolkInputError(f"student {tuple(student.shape)} and targets "
                             f"{tuple(targets.shape)} must both be (B, D)")
    if labels.shape != (student.shape[0],):
        raise FolkInputError(f"labels must be ({student.shape[0]},), got {tuple(labels.shape)}")
    if text_embeddings.ndim != 2 or text_embeddings.shape[1] != student.shape[1]:
        raise FolkInputError(f"text embeddings must be (C, {student.shape[1]}), got "
                             f"{tuple(text_embeddings.shape)}")
    if tau_c <= 0 or tau_l <= 0:
        raise FolkInputError(f"temperatures must be > 0, got tau_c={tau_c}, tau_l={tau_l}")
    labels = labels.long()
    if (labels >= text_embeddings.shape[0]).any():
        raise FolkInputError(f"labels index {int(labels.max())} but there are only "
                             f"{text_embeddings.shape[0]} classes")
    valid = labels >= 0
    count = int(valid.sum())
    if count == 0:
        zero = student.sum() * 0.0
        return LossTerms(zero, zero.detach(), zero.detach(), 0)
    f = F.normalize(student[valid], dim=-1)
    e = F.normalize(targets[valid], dim=-1)
    t = F.normalize(text_embeddings, dim=-1)
    y = labels[valid]
    arange = torch.arange(count, device=student.device)
    con = F.cross_entropy(f @ e.T / tau_c, arange)
    ce = F.cross_entropy(f @ t.T / tau_l, y)
    total = lambda_con * con + lambda_ce * ce
    return LossTerms(total, con.detach(), ce.detach(), count)
