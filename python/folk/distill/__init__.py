"""Label-guided knowledge distillation (docs/method.md §7): the loss, the data it trains on, and the
trainer of the student's VL-adapter.

Names are imported on first use, so that the command line starts without loading PyTorch.
"""

from __future__ import annotations

from folk._lazy import lazy_getattr

_EXPORTS = {
    "DistillConfig": "config",
    "DistillData": "data", "ProposalTable": "data", "load_distill_data": "data",
    "LossTerms": "loss", "distillation_loss": "loss",
    "TrainResult": "trainer", "distill": "trainer",
    "learning_rate": "trainer", "validate": "trainer",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
