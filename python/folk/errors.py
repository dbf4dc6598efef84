"""Errors folk raises on purpose, and the warnings it issues. Anything else escaping folk is a
bug. This module is the bottom of the layer order (:mod:`folk.layers`): every step may use it."""

from __future__ import annotations

import re
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def without_ansi(text: str) -> str:
    """``text`` without terminal colour / style codes (torch puts some in its messages)."""
    return _ANSI.sub("", text)


def one_line(exc: BaseException | str, limit: int = 300) -> str:
    """Another library's error text fit for one line of a folk message: no terminal codes,
    whitespace (newlines, paragraphs) collapsed, cut after ``limit`` characters."""
    text = " ".join(without_ansi(str(exc)).split())
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


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


class UntrainedWordWarning(UserWarning):
    """A class name or query the CLIP in use never saw in training (folk's small CLIP knows
    only the synthetic scenes' object names): its scores mean little.

    Issued by :func:`folk.clip.text.text_embeddings`."""


class NonFinitePoseWarning(UserWarning):
    """A frame was skipped because its camera pose holds NaN or inf (or cannot be inverted).

    Issued by the scene reader (:func:`folk.data.read_scene`) and by the visibility kernels
    (:func:`folk.ops.visibility.visibility_counts`)."""
