"""The student's checkpoint without PyTorch: what a checkpoint holds and how it is checked
(one place, used by :mod:`folk.student.model` too), a reader of ``torch.save`` files into NumPy
arrays, and :class:`NumpyAdapter`, the VL-adapter's forward pass in NumPy.

Why: ``import torch`` alone takes 2–3 s on a small CPU. Whatever only *applies* a trained
student (``folk view`` at start-up) reads its checkpoint with :func:`read_checkpoint_arrays`
and embeds proposals with :class:`NumpyAdapter`, and never imports torch.

A checkpoint (``folk distill``'s ``best.pt`` / ``last.pt``, or an adapter file) is a
``torch.save`` archive of plain containers, numbers, strings and tensors, which
:mod:`folk.data.torch_archive` reads without torch (no code in the file runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from folk.data.torch_archive import TorchArchiveError, read_torch_archive
from folk.errors import FolkInputError, one_line

ADAPTER_FORMAT = "folk-vl-adapter"
ADAPTER_VERSION = 1


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # exact GELU, as torch.nn.GELU()

    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


#: The adapter's activations by name, in NumPy; :data:`folk.student.model.ACTIVATIONS` holds
#: the same names as torch modules (tests check that the two agree).
NUMPY_ACTIVATIONS = {"gelu": _gelu, "relu": lambda x: np.maximum(x, 0),
                     "silu": _silu, "tanh": np.tanh}


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
        if self.activation not in NUMPY_ACTIVATIONS:
            raise FolkInputError(f"unknown activation {self.activation!r}; choose from "
                                 f"{sorted(NUMPY_ACTIVATIONS)}")
        return self

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """The state-dict entries of an adapter of this config and their shapes."""
        return {"mlp.0.weight": (self.hidden, self.in_dim), "mlp.0.bias": (self.hidden,),
                "mlp.2.weight": (self.out_dim, self.hidden), "mlp.2.bias": (self.out_dim,)}


def checkpoint_file(path: str | Path) -> Path:
    """The checkpoint file of ``path``: itself, or a ``folk distill`` output directory's
    ``best.pt`` (else ``last.pt``)."""
    path = Path(path)
    if path.is_dir():
        best = path / "best.pt"
        path = best if best.is_file() else path / "last.pt"
    return path


def checked_adapter_state(state: Any, in_dim: int | None = None, out_dim: int | None = None,
                          path: str | Path | None = None,
                          ) -> tuple[AdapterConfig, dict[str, Any], dict[str, Any]]:
    """``(config, state_dict, meta)`` of a checkpoint dict (an adapter's, or a training
    checkpoint holding one under ``"adapter"``), checked: format and version, a valid config,
    ``in_dim`` / ``out_dim`` (the widths the caller will feed / compare with) — each mismatch a
    clear error naming ``path``. The state dict's tensors are left as they are."""
    if isinstance(state, dict) and "adapter" in state:
        state = state["adapter"]
    if not isinstance(state, dict) or state.get("format") != ADAPTER_FORMAT:
        raise FolkInputError("not a folk VL-adapter checkpoint", path)
    if int(state.get("version", -1)) != ADAPTER_VERSION:
        raise FolkInputError(f"adapter checkpoint version {state.get('version')}, this folk "
                             f"reads {ADAPTER_VERSION}", path)
    try:
        config = AdapterConfig(**state["config"]).validate()
    except (KeyError, TypeError, ValueError) as exc:
        raise FolkInputError(f"the checkpoint's adapter config is unreadable ({one_line(exc)})",
                             path) from None
    if in_dim is not None and int(in_dim) != config.in_dim:
        raise FolkInputError(f"the checkpoint's adapter takes {config.in_dim}-dim point "
                             f"features but the given features have {in_dim} dims (wrong "
                             "feature source or wrong checkpoint?)", path)
    if out_dim is not None and int(out_dim) != config.out_dim:
        raise FolkInputError(f"the checkpoint's adapter outputs {config.out_dim}-dim embeddings "
                             f"but the text embeddings have {out_dim} dims (another CLIP "
                             "model?)", path)
    weights = state.get("state_dict")
    if not isinstance(weights, dict):
        raise FolkInputError("the checkpoint has no adapter weights", path)
    return config, weights, dict(state.get("meta", {}))


NONFINITE_WEIGHTS = ("checkpoint weights hold NaN or infinite values (a training run that "
                     "diverged?)")


def read_checkpoint_arrays(path: str | Path) -> dict[str, Any]:
    """A folk checkpoint (see :func:`checkpoint_file`) as a dict, tensors as NumPy arrays, read
    without PyTorch (:mod:`folk.data.torch_archive`). Raises :class:`FolkInputError` naming the
    file when it is missing, or is not a checkpoint this reader takes."""
    path = checkpoint_file(path)
    if not path.is_file():
        raise FolkInputError("checkpoint not found", path)
    try:
        state = read_torch_archive(path)
    except (TorchArchiveError, OSError) as exc:
        raise FolkInputError(f"not a readable folk checkpoint ({one_line(exc)})", path) from None
    if not isinstance(state, dict):
        raise FolkInputError("not a folk checkpoint (it holds no dict)", path)
    return state


# ---- the adapter in NumPy ------------------------------------------------------------------


class AdapterWidths:
    """``in_dim`` and ``out_dim`` of an adapter holding its :class:`AdapterConfig` as
    ``config`` (both adapter classes)."""

    config: AdapterConfig

    @property
    def in_dim(self) -> int:
        return self.config.in_dim

    @property
    def out_dim(self) -> int:
        return self.config.out_dim


class NumpyAdapter(AdapterWidths):
    """The VL-adapter's forward pass in NumPy (float32): ``normalise(W2 act(W1 x + b1) + b2)``,
    the same function as :class:`folk.student.model.VLAdapter` (tests compare them)."""

    def __init__(self, config: AdapterConfig, weights: dict[str, np.ndarray],
                 path: str | Path | None = None):
        self.config = config.validate()
        arrays = {}
        for name, shape in config.weight_shapes().items():
            value = weights.get(name)
            if not isinstance(value, np.ndarray) or value.shape != shape:
                got = getattr(value, "shape", None if value is None else type(value).__name__)
                raise FolkInputError(f"checkpoint weights do not fit its config: {name} is "
                                     f"{got}, {shape} expected", path)
            arrays[name] = np.ascontiguousarray(value, dtype=np.float32)
        if not all(np.isfinite(a).all() for a in arrays.values()):
            raise FolkInputError(NONFINITE_WEIGHTS, path)
        self._w1, self._b1 = arrays["mlp.0.weight"].T.copy(), arrays["mlp.0.bias"]
        self._w2, self._b2 = arrays["mlp.2.weight"].T.copy(), arrays["mlp.2.bias"]
        self._act = NUMPY_ACTIVATIONS[config.activation]

    def embed(self, pooled: np.ndarray) -> np.ndarray:
        """``(Q, in_dim)`` pooled proposal features → ``(Q, out_dim) float32`` unit
        embeddings."""
        x = np.asarray(pooled, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise FolkInputError(f"the adapter takes {self.in_dim}-dim features, got shape "
                                 f"{x.shape}")
        y = self._act(x @ self._w1 + self._b1) @ self._w2 + self._b2
        norm = np.linalg.norm(y, axis=1, keepdims=True)
        return (y / np.maximum(norm, 1e-12)).astype(np.float32, copy=False)


def load_numpy_adapter(path: str | Path, in_dim: int | None = None,
                       out_dim: int | None = None) -> tuple[NumpyAdapter, dict[str, Any]]:
    """``(adapter, meta)`` as :func:`folk.student.model.load_adapter` gives them, without
    PyTorch."""
    where = checkpoint_file(path)
    config, weights, meta = checked_adapter_state(read_checkpoint_arrays(path), in_dim,
                                                  out_dim, where)
    return NumpyAdapter(config, weights, where), meta


__all__ = ["ADAPTER_FORMAT", "ADAPTER_VERSION", "NONFINITE_WEIGHTS", "NUMPY_ACTIVATIONS",
           "AdapterConfig", "AdapterWidths", "NumpyAdapter", "checked_adapter_state", "checkpoint_file",
           "load_numpy_adapter", "read_checkpoint_arrays"]
