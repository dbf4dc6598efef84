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

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from folk.errors import FolkInputError, one_line
from folk.files import atomic_open

ADAPTER_FORMAT = "folk-vl-adapter"
ADAPTER_VERSION = 1
ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


@dataclass(frozen=True)
class AdapterConfig:
    in_dim: int  # C, width of the point features
    hidden: int  # H
    out_dim: int  # D, CLIP's joint space
    activation: str = "gelu"

    def validate(self) -> AdapterConfig:
        for name in ("in_dim", "hidden", "out_dim"):
            if int(getattr(self, name)) < 1:
                raise FolkInputError(f"adapter {name} must be >= 1, got {getattr(self, name)}")
        if self.activation not in ACTIVATIONS:
            raise FolkInputError(f"unknown activation {self.activation!r}; choose from "
                                 f"{sorted(ACTIVATIONS)}")
        return self


class VLAdapter(nn.Module):
    """Linear(in_dim, hidden) → activation → Linear(hidden, out_dim), output L2-normalised."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, activation: str = "gelu"):
        super().__init__()
        self.config = AdapterConfig(int(in_dim), int(hidden), int(out_dim), activation).validate()
        self.mlp = nn.Sequential(nn.Linear(self.config.in_dim, self.config.hidden),
                                 ACTIVATIONS[activation](),
                                 nn.Linear(self.config.hidden, self.config.out_dim))

    @property
    def in_dim(self) -> int:
        return self.config.in_dim

    @property
    def out_dim(self) -> int:
        return self.config.out_dim

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """``(..., in_dim)`` pooled proposal features → ``(..., out_dim)`` unit embeddings."""
        if pooled.shape[-1] != self.config.in_dim:
            raise FolkInputError(f"the adapter takes {self.config.in_dim}-dim features, got "
                                 f"{pooled.shape[-1]}")
        return F.normalize(self.mlp(pooled), dim=-1)


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


def checkpoint_file(path: str | Path) -> Path:
    """The checkpoint file of ``path``: itself, or a ``folk distill`` output directory's
    ``best.pt`` (else ``last.pt``)."""
    path = Path(path)
    if path.is_dir():
        best = path / "best.pt"
        path = best if best.is_file() else path / "last.pt"
    return path


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
    if isinstance(state, dict) and "adapter" in state:
        state = state["adapter"]
    if not isinstance(state, dict) or state.get("format") != ADAPTER_FORMAT:
        raise FolkInputError("not a folk VL-adapter checkpoint", path)
    if int(state.get("version", -1)) != ADAPTER_VERSION:
        raise FolkInputError(f"adapter checkpoint version {state.get('version')}, this folk "
                             f"reads {ADAPTER_VERSION}", path)
    config = AdapterConfig(**state["config"]).validate()
    if in_dim is not None and int(in_dim) != config.in_dim:
        raise FolkInputError(f"the checkpoint's adapter takes {config.in_dim}-dim point "
                             f"features but the given features have {in_dim} dims (wrong "
                             "feature source or wrong checkpoint?)", path)
    if out_dim is not None and int(out_dim) != config.out_dim:
        raise FolkInputError(f"the checkpoint's adapter outputs {config.out_dim}-dim embeddings "
                             f"but the text embeddings have {out_dim} dims (another CLIP "
                             "model?)", path)
    model = VLAdapter(config.in_dim, config.hidden, config.out_dim, config.activation)
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise FolkInputError(f"checkpoint weights do not fit its config "
                             f"({one_line(exc)})", path) from None
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise FolkInputError("checkpoint weights hold NaN or infinite values (a training run "
                             "that diverged?)", path)
    model.eval()
    return model, dict(state.get("meta", {}))


def load_adapter(path: str | Path, in_dim: int | None = None, out_dim: int | None = None,
                 ) -> tuple[VLAdapter, dict[str, Any]]:
    """``(adapter in eval mode, meta)`` from an adapter file, a training checkpoint, or a
    ``folk distill`` output directory (its ``best.pt``, else ``last.pt``)."""
    return adapter_from_state(read_checkpoint(path), in_dim, out_dim, checkpoint_file(path))
