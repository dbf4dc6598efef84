"""Configuration of distillation, in one place. Each default says whose it is: *paper* (FOLK,
arXiv 2510.08849) or *ours* (the paper does not give the value; ours is a reasonable choice,
configurable, and documented in docs/student.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from folk.errors import FolkInputError
from folk.student.classify import DEFAULT_TAU_L


@dataclass(frozen=True)
class DistillConfig:
    """Everything that shapes a distillation run (``folk distill`` has one option per field).

    Attributes:
        hidden: hidden width of the adapter, Linear(C, hidden) -> activation ->
            Linear(hidden, D). Ours.
        activation: adapter activation: gelu, relu, silu or tanh. Ours.
        lambda_con: weight of the contrastive loss, L = lambda_con * L_con + lambda_ce * L_ce
            (docs/method.md §7). Paper: 0.2, the best of its ablation.
        lambda_ce: weight of the label loss. Paper: 0.8.
        tau_c: InfoNCE temperature. Ours: the usual 0.07.
        tau_l: classification temperature, kept in the checkpoint for inference. Ours
            (folk.student.classify.DEFAULT_TAU_L).
        epochs: training epochs. Ours.
        lr: peak learning rate of AdamW. Ours.
        weight_decay: AdamW weight decay. Ours.
        lr_schedule: cosine (decay per step, no warm-up) or constant. Ours.
        batch_proposals: proposals per batch and process, the InfoNCE negatives. Ours.
        seed: seed of the initialisation and of the data order.
    """

    hidden: int = 512
    activation: str = "gelu"
    lambda_con: float = 0.2
    lambda_ce: float = 0.8
    tau_c: float = 0.07
    tau_l: float = DEFAULT_TAU_L
    epochs: int = 30
    lr: float = 1e-3
    weight_decay: float = 1e-4
    lr_schedule: str = "cosine"
    batch_proposals: int = 256
    seed: int = 0

    def validate(self) -> DistillConfig:
        if self.hidden < 1 or self.epochs < 1 or self.batch_proposals < 1:
            raise FolkInputError("hidden, epochs and batch_proposals must be >= 1")
        if self.tau_c <= 0 or self.tau_l <= 0:
            raise FolkInputError("temperatures must be > 0")
        if self.lr <= 0 or self.weight_decay < 0:
            raise FolkInputError("lr must be > 0 and weight_decay >= 0")
        if self.lambda_con < 0 or self.lambda_ce < 0 or self.lambda_con + self.lambda_ce == 0:
            raise FolkInputError("loss weights must be >= 0 and not both 0")
        if self.lr_schedule not in ("cosine", "constant"):
            raise FolkInputError(f"lr_schedule must be 'cosine' or 'constant', got "
                                 f"{self.lr_schedule!r}")
        return self

    def replace(self, **changes) -> DistillConfig:
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise FolkInputError(f"unknown DistillConfig field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes).validate()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
