"""Loading of the compiled extensions, in one place.

``folk._C`` is always built by ``pip install .``; ``folk._cuda`` whenever the build machine has
a CUDA toolkit. Neither is imported when folk itself is imported: a machine without a GPU (or
without a CUDA driver) imports folk and runs every CPU path, and only asking for a CUDA kernel
raises :class:`~folk.errors.FolkExtensionError` with an explanation.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

from folk.errors import FolkExtensionError


@functools.cache
def cpu_extension() -> ModuleType:
    """The C++ kernels, ``folk._C``."""
    try:
        return importlib.import_module("folk._C")
    except ImportError as exc:
        raise FolkExtensionError(
            "folk._C is not built. Install folk with `pip install .` from the repository root "
            f"(it compiles the C++ kernels). Import error: {exc}"
        ) from exc


@functools.cache
def _cuda_module() -> ModuleType | None:
    try:
        return importlib.import_module("folk._cuda")
    except ImportError:
        return None


def cuda_built() -> bool:
    """Whether ``folk._cuda`` was compiled into this installation."""
    return _cuda_module() is not None


def cuda_available() -> bool:
    """Whether CUDA kernels can run here: ``folk._cuda`` built and a GPU visible."""
    mod = _cuda_module()
    return mod is not None and mod.device_count() > 0


def cuda_extension() -> ModuleType:
    """The CUDA kernels, ``folk._cuda``; raises a clear error when they cannot run here."""
    mod = _cuda_module()
    if mod is None:
        raise FolkExtensionError(
            "folk._cuda is not built: this installation was compiled without a CUDA toolkit "
            "(or with FOLK_CUDA=off). Reinstall on a machine with nvcc, or use CPU tensors."
        )
    if mod.device_count() == 0:
        raise FolkExtensionError(
            "folk._cuda is built but no CUDA GPU is visible (no driver or no device). "
            "Use CPU inputs, or run on a machine with a GPU."
        )
    return mod
