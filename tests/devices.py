"""The devices every kernel parity test runs on: the CPU always, CUDA wherever a GPU and
folk._cuda are available (skipped, with the reason, elsewhere). One test body serves both, so
the CUDA kernels are held to exactly the cases the C++ kernels are."""

from __future__ import annotations

import numpy as np
import pytest

from folk.ops import extensions

CUDA = pytest.param("cuda", marks=[
    pytest.mark.cuda,
    pytest.mark.skipif(not extensions.cuda_available(), reason="needs a CUDA GPU and folk._cuda"),
])
DEVICES = ["cpu", CUDA]


def to_device(device: str, *arrays):
    """The arrays as given on the CPU, as torch tensors on ``device`` otherwise."""
    if device == "cpu":
        return arrays
    import torch

    return tuple(torch.as_tensor(a).to(device) for a in arrays)


def host(x) -> np.ndarray:
    """A NumPy array of a NumPy array or a torch tensor (any device)."""
    return x.cpu().numpy() if hasattr(x, "cpu") else np.asarray(x)


def poison_allocator(device: str, nbytes: int) -> None:
    """Leave freed blocks of ``nbytes`` filled with 0xAB in the allocator's cache (NumPy's on the
    CPU, torch's caching allocator on CUDA), so that an output a kernel forgets to write shows
    garbage rather than zeros."""
    if device == "cpu":
        blocks = [np.full(nbytes, 0xAB, np.uint8) for _ in range(8)]
    else:
        import torch

        blocks = [torch.full((nbytes,), 0xAB, dtype=torch.uint8, device=device)
                  for _ in range(8)]
    del blocks
