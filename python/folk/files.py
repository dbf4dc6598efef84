"""Writing files safely: every file folk writes goes through here (temp file + rename), so an
interrupted run never leaves a half-written file that a later run would trust."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from folk.errors import FolkInputError


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically.

    The file gets the permissions of any new file (0666 less the umask; the temporary file
    itself is 0600). An OSError without a file name (a full disk) is raised naming ``path``.
    """
    if "w" not in mode:
        raise ValueError(f"atomic_open is for writing, got mode {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not exc.filename and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


@contextlib.contextmanager
def exclusive_lock(path: str | Path) -> Iterator[Path]:
    """Hold the lock file ``path`` (created with O_EXCL, holding this process id) while the
    block runs, so that a second run on the same output refuses instead of mixing files. A
    lock left by a process that no longer runs is taken over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            owner = _lock_owner(path)
            if owner is None or _process_runs(owner):
                raise FolkInputError(f"another run (process {owner or '?'}) is writing here; "
                                     "wait for it, or delete this lock file if none runs",
                                     path) from None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    else:
        raise FolkInputError("could not take the lock file", path)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{os.getpid()}\n")
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _lock_owner(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_json_lines(path: str | Path, items: Iterable[Any]) -> None:
    """One JSON object per line (JSON Lines), written atomically."""
    write_text(path, "".join(json.dumps(item) + "\n" for item in items))


def append_json_line(path: str | Path, item: Any) -> None:
    """Append one line to a JSON Lines file (a reader following it sees whole lines)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(item) + "\n")


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` made atomic (and without NumPy appending ``.npz``)."""
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
