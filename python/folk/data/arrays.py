"""Loading the arrays users bring (proposal masks, scores, point features) from ``.npy``,
``.npz`` or ``.pt`` files, with errors that name the file."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np

from folk.data.torch_archive import TorchArchiveError, numpy_safe_globals, read_torch_archive
from folk.errors import FolkInputError, one_line


def _load_pt(path: Path, allow_pickle: bool):
    try:
        return read_torch_archive(path)  # without importing torch when it can
    except TorchArchiveError:
        pass
    import torch

    try:
        with torch.serialization.safe_globals(numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not allow_pickle:
            raise FolkInputError(
                "this .pt file needs full unpickling (torch.load(weights_only=False)), which can "
                "run arbitrary code. If you trust the file, pass allow_pickle=True (CLI: "
                f"--trust-pickle). torch said: {one_line(str(exc).splitlines()[0])}",
                path) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise FolkInputError(f"not a readable torch file ({one_line(exc)})", path) from None
    return torch.load(path, map_location="cpu", weights_only=False)  # trusted by the caller


def load_array(path: str | Path, key: str | None = None, allow_pickle: bool = False) -> np.ndarray:
    """One array from ``.npy`` / ``.npz`` (``key``, or the only array) / ``.pt`` (a NumPy array,
    a tensor, or a dict holding ``key``).

    ``.pt`` files written by OpenMask3D hold a pickled NumPy array. They are read without
    importing torch (:mod:`folk.data.torch_archive`: NumPy's array constructors and tensors of
    plain dtypes only), anything else with ``torch.load(weights_only=True)``; what needs more needs ``allow_pickle=True``, which
    executes the pickle: use it only on files you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise FolkInputError("file not found", path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            obj = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                if key is None and len(names) != 1:
                    raise FolkInputError(f"holds arrays {names}; say which one (key=...)", path)
                if key is not None and key not in names:
                    raise FolkInputError(f"has no array {key!r} (it holds {names})", path)
                obj = archive[key or names[0]]
        elif suffix in (".pt", ".pth"):
            obj = _load_pt(path, allow_pickle)
        else:
            raise FolkInputError(f"unsupported array file type {suffix!r} (use .npy/.npz/.pt)",
                                 path)
    except FolkInputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FolkInputError(f"unreadable array file ({exc})", path) from None

    if isinstance(obj, dict):
        if key is None or key not in obj:
            raise FolkInputError(f"holds a dict with keys {sorted(obj)}; say which (key=...)", path)
        obj = obj[key]
    if hasattr(obj, "detach"):  # torch.Tensor
        obj = obj.detach().cpu().numpy()
    if not isinstance(obj, np.ndarray):
        raise FolkInputError(f"holds a {type(obj).__name__}, not an array", path)
    return obj
