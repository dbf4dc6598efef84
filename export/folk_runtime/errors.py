"""The errors folk_runtime raises on purpose. Anything else escaping it is a bug.

* :class:`DeploymentError`: the deployment folder (``manifest.json``, ``model.onnx``,
  ``model.plan``) is missing, malformed or inconsistent; the message names the file and key.
* :class:`RuntimeInputError`: the arrays given to the runtime are malformed or do not fit the
  deployment (wrong feature width, bad CSR offsets, out-of-range point indices, ...).
* :class:`BackendUnavailable`: the requested backend cannot run here (no TensorRT, no GPU, an
  execution provider onnxruntime does not have).

All three are ``ValueError`` / ``RuntimeError`` subclasses of :class:`FolkRuntimeError`, so a
caller can catch the family at once; the ``folk-runtime`` command prints them on one line.
"""

from __future__ import annotations

from pathlib import Path


class FolkRuntimeError(Exception):
    """Base class of folk_runtime's own errors."""


class DeploymentError(FolkRuntimeError, ValueError):
    """A deployment folder is missing, malformed or inconsistent. ``path``: the file at fault."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class RuntimeInputError(FolkRuntimeError, ValueError):
    """Input arrays (features, proposals, scores) are malformed or do not fit the deployment."""


class BackendUnavailable(FolkRuntimeError, RuntimeError):
    """The requested backend (TensorRT, an onnxruntime execution provider) cannot run here."""
