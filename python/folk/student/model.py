"""The student's VL-adapter (docs/method.md §6): ``f_q = normalise(MLP(mean_{i∈q} X_i))`` with
MLP = Linear(C, H) → activation → Linear(H, D). It is vocabulary-agnostic: any set of text
embeddings of dimension D classifies its outputs.

One constructor (:class:`VLAdapter`), one place that knows about files
(:func:`save_adapter` / :func:`load_adapter`). A checkpoint is a ``torch.save`` of plain
tensors, numbers and strings, read back with ``weights_only=True``::

    {"format": "folk-vl-adapter", "version": 1,
     "config": {"in_dim": C, "hidden": H, "out_dim": D, "activation": "gelu"},
     "state_dict": {...}, "meta": {...}}

Training checkpoints (``folk distill``'s ``last.pt`` / ``best.pt``) hold such a dict under
``"adapter"``; :func:`load_adapter` reads both.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from folk.errors import FolkInputError, one_line
from folk.files import atomic_open
from folk.student.checkpoint import (
    ADAPTER_FORMAT,
    ADAPTER_VERSION,
    NONFINITE_WEIGHTS,
    AdapterConfig,
    AdapterWidths,
    checked_adapter_state,
    checkpoint_file,
)

#: The adapter's activations as torch modules, by the names of
#: :data:`folk.student.checkpoint.NUMPY_ACTIVATIONS`.
ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


class VLAdapter(AdapterWidths, nn.Module):
    """Linear(in_dim, hidden) → activation → Linear(hidden, out_dim), output L2-normalised."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, activation: str = "gelu"):
        super().__init__()
        self.config = AdapterConfig(int(in_dim), int(hidden), int(out_dim), activation).validate()
        self.mlp = nn.Sequential(nn.Linear(self.config.in_dim, self.config.hidden),
                                 ACTIVATIONS[activation](),
                                 nn.Linear(self.config.hidden, self.config.out_dim))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """``(..., in_dim)`` pooled proposal features → ``(..., out_dim)`` unit embeddings."""
        if pooled.shape[-1] != self.config.in_dim:
            raise FolkInputError(f"the adapter takes {self.config.in_dim}-dim features, got "
                                 f"{pooled.shape[-1]}")
        return F.normalize(self.mlp(pooled), dim=-1)

    def embed(self, pooled: np.ndarray) -> np.ndarray:
        """``(Q, in_dim)`` pooled features (NumPy) → ``(Q, out_dim) float32`` unit embeddings;
        the interface :class:`folk.student.checkpoint.NumpyAdapter` shares."""
        with torch.inference_mode():
            return self(torch.from_numpy(np.ascontiguousarray(pooled, np.float32))).numpy()


def adapter_state(model: VLAdapter, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The checkpoint dict of ``model`` (see the module docstring)."""
    return {"format": ADAPTER_FORMAT, "version": ADAPTER_VERSION,
            "config": asdict(model.config),
            "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "meta": dict(meta or {})}


def save_adapter(path: str | Path, model: VLAdapter, meta: dict[str, Any] | None = None) -> None:
    """Write ``model`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        torch.save(adapter_state(model, meta), handle)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A folk checkpoint as a dict (``weights_only`` loading: no code runs)."""
    path = checkpoint_file(path)
    if not path.is_file():
        raise FolkInputError("checkpoint not found", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds on a bad file
        raise FolkInputError(f"not a readable folk checkpoint ({exc.__class__.__name__}: "
                             f"{one_line(str(exc).splitlines()[0] if str(exc) else '')})",
                             path) from None


def adapter_from_state(state: dict[str, Any], in_dim: int | None = None,
                       out_dim: int | None = None, path: str | Path | None = None,
                       ) -> tuple[VLAdapter, dict[str, Any]]:
    """``(adapter, meta)`` from a checkpoint dict; ``in_dim`` / ``out_dim``: the widths the
    caller will feed / compare with (a mismatch is a clear error)."""
    config, weights, meta = checked_adapter_state(state, in_dim, out_dim, path)
    model = VLAdapter(config.in_dim, config.hidden, config.out_dim, config.activation)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise FolkInputError(f"checkpoint weights do not fit its config "
                             f"({one_line(exc)})", path) from None
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise FolkInputError(NONFINITE_WEIGHTS, path)
    model.eval()
    return model, meta


def load_adapter(path: str | Path, in_dim: int | None = None, out_dim: int | None = None,
                 ) -> tuple[VLAdapter, dict[str, Any]]:
    """``(adapter in eval mode, meta)`` from an adapter file, a training checkpoint, or a
    ``folk distill`` output directory (its ``best.pt``, else ``last.pt``)."""
    return adapter_from_state(read_checkpoint(path), in_dim, out_dim, checkpoint_file(path))
