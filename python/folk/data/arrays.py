"""Loading the arrays users bring (proposal masks, scores, point features) from ``.npy``,
``.npz`` or ``.pt`` files, with errors that name the file."""

from __future__ import annotations

import codecs
import pickle
import zipfile
from pathlib import Path

import numpy as np

from folk.errors import FolkInputError, one_line


def _numpy_safe_globals() -> list:
    """The globals a pickled plain NumPy array needs (NumPy 2 and NumPy 1 spellings).

    They only rebuild an ndarray of a plain dtype, so allowing them keeps ``torch.load``'s
    ``weights_only`` protection against arbitrary code in the file."""
    from numpy._core.multiarray import _reconstruct

    return [np.ndarray, np.dtype, _reconstruct,
            (_reconstruct, "numpy.core.multiarray._reconstruct"),
            *[type(np.dtype(c)) for c in "?bBhHiIlLqQefdg"]]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles only plain NumPy arrays: the globals of :func:`_numpy_safe_globals` (and
    ``_codecs.encode`` and ``bytes``, which protocol 2 uses for the raw data), and no persistent
    ids (a torch tensor's storage is one)."""

    def __init__(self, file):
        super().__init__(file)
        self._allowed = {}
        for entry in _numpy_safe_globals():
            obj, alias = entry if isinstance(entry, tuple) else (entry, None)
            self._allowed[(obj.__module__, obj.__qualname__)] = obj
            if alias is not None:
                module, _, name = alias.rpartition(".")
                self._allowed[(module, name)] = obj

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):  # bytes in protocol-2 pickles
            return codecs.encode
        if module in ("__builtin__", "builtins") and name == "bytes":  # empty arrays
            return bytes
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not a NumPy array type") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("holds torch storages")


def _load_pt_numpy(path: Path) -> np.ndarray | None:
    """A ``torch.save`` of a plain NumPy array (what OpenMask3D writes), read without importing
    torch: the archive's ``data.pkl`` through :class:`_NumpyOnlyUnpickler`. ``None`` when the
    file holds anything else (a tensor, a dict, the legacy format): torch reads it then."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                return None
            with archive.open(pickles[0]) as handle:
                obj = _NumpyOnlyUnpickler(handle).load()
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError,
            TypeError, AttributeError, IndexError, KeyError):
        return None
    return obj if isinstance(obj, np.ndarray) else None


def _load_pt(path: Path, allow_pickle: bool):
    array = _load_pt_numpy(path)
    if array is not None:
        return array
    import torch

    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
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

    ``.pt`` files written by OpenMask3D hold a pickled NumPy array. They are read with only
    NumPy's array constructors allowed (without importing torch), anything else with
    ``torch.load(weights_only=True)``; what needs more needs ``allow_pickle=True``, which
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
