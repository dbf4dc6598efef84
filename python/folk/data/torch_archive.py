"""Reading ``torch.save`` files without PyTorch (``import torch`` alone takes 2–3 s on a small
CPU): OpenMask3D's proposal masks (a pickled NumPy array) and folk's own checkpoints (dicts of
tensors, numbers and strings).

A ``torch.save`` file is a zip archive: ``<root>/data.pkl``, a pickle whose tensors refer to
raw storages ``<root>/data/<key>`` by persistent id. :func:`read_torch_archive` unpickles it with
a closed list of classes, as ``torch.load(weights_only=True)`` does, so no code in the file
runs: plain containers, NumPy's array constructors (plain dtypes), and
``torch._utils._rebuild_tensor_v2`` over the typed storages of NumPy-representable dtypes. A
tensor comes back as a NumPy array of its dtype, shape and strides (a copy that owns its
memory). Anything else — another class, bfloat16, the legacy non-zip format, a big-endian
archive — raises :class:`TorchArchiveError`: the caller decides whether torch reads it then.
"""

from __future__ import annotations

import codecs
import io
import math
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class TorchArchiveError(ValueError):
    """The file is not a ``torch.save`` archive this module reads (the message says why)."""


def numpy_safe_globals() -> list:
    """The globals a pickled plain NumPy array needs (NumPy 2 and NumPy 1 spellings).

    They only rebuild an ndarray of a plain dtype, so allowing them keeps ``torch.load``'s
    ``weights_only`` protection against arbitrary code in the file."""
    from numpy._core.multiarray import _reconstruct

    return [np.ndarray, np.dtype, _reconstruct,
            (_reconstruct, "numpy.core.multiarray._reconstruct"),
            *[type(np.dtype(c)) for c in "?bBhHiIlLqQefdg"]]


#: ``torch.<Name>Storage`` → the NumPy dtype of its elements (bfloat16, complex: not read).
_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
                   "HalfStorage": np.float16, "LongStorage": np.int64,
                   "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
                   "ByteStorage": np.uint8, "BoolStorage": np.bool_}


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_ignored) -> np.ndarray:
    """``torch._utils._rebuild_tensor_v2`` over a NumPy storage: a copy of the strided view
    (``requires_grad``, hooks and metadata ignored)."""
    size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(offset)
    if any(s < 0 for s in size) or any(s < 0 for s in stride) or offset < 0:
        raise TorchArchiveError("a tensor with a negative size, stride or offset")
    if math.prod(size) == 0:
        return np.zeros(size, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= storage.shape[0]:
        raise TorchArchiveError("a tensor reaches past the end of its storage")
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(s * storage.itemsize for s in stride),
        writeable=False)
    return np.array(view)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, root: str):
        super().__init__(io.BytesIO(data))
        self._archive, self._root = archive, root
        self._allowed = {}
        for entry in numpy_safe_globals():
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
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(np.dtype(_STORAGE_DTYPES[name]))
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise TorchArchiveError(f"holds {module}.{name}, which is read only by PyTorch") \
                from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise TorchArchiveError("holds a storage of an unknown kind")
        dtype, key, numel = pid[1].dtype, str(pid[2]), int(pid[4])
        raw = self._archive.read(f"{self._root}data/{key}")
        if numel < 0 or len(raw) < numel * dtype.itemsize:
            raise TorchArchiveError(f"storage {key} holds {len(raw)} bytes, "
                                    f"{max(numel, 0) * dtype.itemsize} expected")
        return np.frombuffer(raw, dtype=dtype, count=numel)


def read_torch_archive(path: str | Path):
    """The object a ``torch.save`` file holds, tensors as NumPy arrays, read without PyTorch;
    raises :class:`TorchArchiveError` (see the module docstring) or :class:`OSError`."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise TorchArchiveError("not a torch.save archive (no single data.pkl)")
            root = pickles[0][: -len("data.pkl")]
            if f"{root}byteorder" in archive.namelist() \
                    and archive.read(f"{root}byteorder").strip() != b"little":
                raise TorchArchiveError("a big-endian archive")
            return _Unpickler(archive.read(pickles[0]), archive, root).load()
    except zipfile.BadZipFile:
        raise TorchArchiveError("not a zip archive (a legacy torch file?)") from None
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError,
            IndexError) as exc:
        raise TorchArchiveError(f"a damaged pickle ({exc.__class__.__name__}: {exc})") from None


__all__ = ["TorchArchiveError", "numpy_safe_globals", "read_torch_archive"]
