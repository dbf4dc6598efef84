"""Image reading with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from folk.errors import FolkInputError


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise FolkInputError("image file not found", path)
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise FolkInputError(f"unreadable image ({exc})", path) from None
    return image


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from the header only."""
    path = Path(path)
    if not path.is_file():
        raise FolkInputError("image file not found", path)
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise FolkInputError(f"unreadable image ({exc})", path) from None


def _check_size(path: Path, actual: tuple[int, int], expected: tuple[int, int] | None,
                kind: str) -> None:
    if expected is not None and tuple(actual) != tuple(expected):
        raise FolkInputError(
            f"{kind} image is {actual[0]}x{actual[1]} but the scene's {kind} intrinsics are for "
            f"{expected[0]}x{expected[1]} (all {kind} frames of a scene must share one size)", path)


def read_depth(path: str | Path, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """Raw depth ``(H, W) uint16`` (divide by the dataset's depth scale for metres)."""
    path = Path(path)
    image = _open(path)
    _check_size(path, image.size, expected_size, "depth")
    array = np.asarray(image)
    if array.ndim != 2:
        raise FolkInputError(f"depth image must have one channel, got shape {array.shape}", path)
    if array.dtype != np.uint16:
        if np.issubdtype(array.dtype, np.integer) and array.min() >= 0 and array.max() < 2**16:
            array = array.astype(np.uint16)
        else:
            raise FolkInputError(f"depth image must be 16-bit unsigned, got {array.dtype}", path)
    return array


def read_color(path: str | Path, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """Colour ``(H, W, 3) uint8``."""
    path = Path(path)
    image = _open(path)
    _check_size(path, image.size, expected_size, "colour")
    return np.asarray(image.convert("RGB"))
