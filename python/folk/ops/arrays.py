"""Arrays of either kind — NumPy arrays or torch tensors (CPU or CUDA) — at the boundary of the
kernels in :mod:`folk.ops`: recognising, converting and checking them, with errors
(:class:`~folk.errors.FolkInputError`) that name the argument.

Nothing here imports torch unless a torch tensor is passed or asked for.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from folk.errors import FolkInputError


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (False without importing torch when it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_cuda(x: Any) -> bool:
    """Whether ``x`` is a torch tensor on a CUDA device."""
    return is_torch(x) and x.is_cuda


def resolve_device(device: str | None, *arrays: Any) -> str:
    """``"cpu"`` or a CUDA device string; None picks the device of the first CUDA tensor among
    ``arrays``, else ``"cpu"``."""
    if device is None:
        for a in arrays:
            if is_cuda(a):
                return str(a.device)
        return "cpu"
    device = str(device)
    if device != "cpu" and not device.startswith("cuda"):
        raise FolkInputError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    return device


def cuda_device(device: str):
    """The ``torch.device`` of a CUDA device string, with its index (``"cuda"`` = current)."""
    import torch

    dev = torch.device(device)
    return dev if dev.index is not None else torch.device("cuda", torch.cuda.current_device())


def to_numpy(x: Any, name: str) -> np.ndarray:
    """``x`` as a NumPy array (a torch tensor is copied to the host)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise FolkInputError(f"{name} is not an array ({exc})") from None


def to_torch(x: Any, device: Any, dtype: Any | None = None):
    """``x`` as a contiguous torch tensor on ``device`` (and of ``dtype`` when given), detached
    from autograd: the kernels read it, they do not differentiate through it."""
    import torch

    t = x.detach() if is_torch(x) else torch.from_numpy(np.ascontiguousarray(x))
    return t.to(device=device, dtype=dtype).contiguous()


def dtype_name(a: Any) -> str:
    """``"float32"``, ``"int64"``, ... for NumPy and torch alike."""
    return str(a.dtype).split(".")[-1]


def check_dtype(a: Any, name: str, kinds: str, what: str) -> None:
    """Raise unless ``a``'s dtype is of one of ``kinds``, NumPy kind letters (``"f"``
    floating, ``"iu"`` integer, ``"b"`` bool); ``what`` describes the expectation."""
    dtype = a.dtype
    if is_torch(a):
        import torch

        kind = ("b" if dtype == torch.bool else "f" if dtype.is_floating_point
                else "c" if dtype.is_complex else "i")
    else:
        kind = dtype.kind
    if kind not in kinds:
        raise FolkInputError(f"{name} must be {what}, got dtype {dtype}")


def check_shape(a: Any, name: str, shape: tuple, spec: str) -> None:
    """Raise unless ``a.shape`` matches ``shape``, whose entries are an int to match or None
    for any size; ``spec`` spells the expected shape in the message."""
    got = tuple(a.shape)
    if len(got) != len(shape) or any(
            s is not None and g != s for g, s in zip(got, shape, strict=True)):
        raise FolkInputError(f"{name} must have shape {spec}, got {got}")


def all_finite(a: Any) -> bool:
    """Whether every element of ``a`` is finite."""
    if is_torch(a):
        import torch

        return bool(torch.isfinite(a).all())
    return bool(np.isfinite(a).all())


def like_input(arrays: tuple, template: Any) -> tuple:
    """NumPy results as the caller's kind: torch (CPU) tensors when ``template`` is a tensor."""
    if is_torch(template):
        import torch

        return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
    return arrays
