"""Errors folk raises on purpose. Anything else escaping folk is a bug."""

from __future__ import annotations

from pathlib import Path


class FolkError(Exception):
    """Base class of folk's own errors."""


class FolkInputError(FolkError, ValueError):
    """Input data is missing, malformed or inconsistent.

    The message names the offending file (when there is one) and what is wrong with it, so a
    user can fix their data without reading a traceback from deep inside NumPy.
    """

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class FolkExtensionError(FolkError, RuntimeError):
    """A compiled extension (folk._C / folk._cuda) or a GPU is not available."""
