"""Configuration of distillation, in one place. Each default says whose it is: *paper* (FOLK,
arXiv 2510.08849) or *ours* (the paper does not give the value; ours is a reasonable choice,
configurable, and documented in docs/student.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from folk.errors import FolkInputError


@dataclass(frozen=True)
class DistillConfig:
    # Student (VL-adapter: Linear(C, hidden) -> activation -> Linear(hidden, D)).
    hidden: int = 512  # ours
    activation: str = "gelu"  # ours
    # Loss L = lambda_con * L_con + lambda_ce * L_ce (METHOD.md §7).
    lambda_con: float = 0.2  # paper (best of its ablation)
    lambda_ce: float = 0.8  # paper
    tau_c: float = 0.07  # ours (the usual InfoNCE temperature)
    tau_l: float = 0.01  # ours (CLIP's learned logit scale is 100 = 1/0.01); reused at inference
    # Optimisation: AdamW, cosine decay of the learning rate per step, no warm-up.
    epochs: int = 30  # ours
    lr: float = 1e-3  # ours
    weight_decay: float = 1e-4  # ours
    lr_schedule: str = "cosine"  # ours; or "constant"
    batch_proposals: int = 256  # ours: proposals per batch (per process), the InfoNCE negatives
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
