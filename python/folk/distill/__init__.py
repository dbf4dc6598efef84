"""Label-guided knowledge distillation (METHOD.md §7): the loss, the data it trains on, and the
trainer of the student's VL-adapter.

Names are imported on first use, so that the command line starts without loading PyTorch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DistillConfig": "config",
    "DistillData": "data", "ProposalTable": "data", "load_distill_data": "data",
    "LossTerms": "loss", "distillation_loss": "loss",
    "APValidator": "trainer", "TrainResult": "trainer", "distill": "trainer",
    "learning_rate": "trainer", "validate": "trainer",
}
__all__ = ["APValidator", "DistillConfig", "DistillData", "LossTerms", "ProposalTable",
    "TrainResult", "distill", "distillation_loss", "learning_rate", "load_distill_data",
    "validate"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"folk.distill.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'folk.distill' has no attribute {name!r}")
