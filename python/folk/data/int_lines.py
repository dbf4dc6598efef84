"""Reading the benchmark's one-integer-per-line text files (GT ids, submission masks) quickly
and with clear errors, and listing a folder's ``<scene>.txt`` files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folk.errors import FolkInputError

_ZERO, _ONE, _NEWLINE = ord("0"), ord("1"), ord("\n")


def read_int_lines(path: Path, what: str) -> np.ndarray:
    """The integers of ``path``, one per line, as int64 (trailing whitespace is allowed)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FolkInputError(f"{what} file does not exist", path) from None
    except OSError as exc:
        raise FolkInputError(f"cannot read {what} file: {exc.strerror or exc}", path) from None
    # Fast path: the "0\n1\n..." masks the benchmark's writers produce.
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size and raw.size % 2 == 0:
        digits, ends = raw[0::2], raw[1::2]
        if np.all(ends == _NEWLINE) and np.all((digits == _ZERO) | (digits == _ONE)):
            return (digits - _ZERO).astype(np.int64)
    body = data.rstrip()
    if not body:
        return np.zeros(0, dtype=np.int64)
    tokens = body.split()
    num_lines = body.count(b"\n") + 1
    try:
        values = np.array(tokens, dtype=np.int64) if len(tokens) == num_lines else None
    except (ValueError, OverflowError):
        values = None
    if values is None:
        raise FolkInputError(
            f"malformed {what} file: expected one integer per line; {_first_bad_line(body)}",
            path,
        )
    return values


def _first_bad_line(body: bytes) -> str:
    for number, line in enumerate(body.split(b"\n"), start=1):
        text = line.strip()
        try:
            int(text)
        except ValueError:
            return f"line {number} is {line.decode('utf-8', 'replace')[:60]!r}"
    return "a line holds more than one value"


def scene_files(directory: Path, what: str) -> dict[str, Path]:
    """``{scene: path}`` for every ``<scene>.txt`` directly inside ``directory``, sorted."""
    if not directory.is_dir():
        raise FolkInputError(f"{what} directory does not exist", directory)
    files = {p.stem: p for p in sorted(directory.glob("*.txt")) if p.is_file()}
    if not files:
        raise FolkInputError(f"{what} directory holds no <scene>.txt file", directory)
    return files
