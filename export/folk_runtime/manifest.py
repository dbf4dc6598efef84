"""The deployment folder's manifest: what a ``folk-export`` folder holds and how to read it.

A deployment folder (written by ``folk-export``, read by :class:`folk_runtime.Runtime`)::

    <folder>/manifest.json   this module's Deployment, as JSON (below)
    <folder>/model.onnx      the graph (features + proposal membership -> embeddings, labels)
    <folder>/model.plan      optional: a serialized TensorRT engine of the same graph

``manifest.json`` (format ``folk-deployment``, version 1)::

    {"format": "folk-deployment", "version": 1, "folk_version": "0.1.0",
     "vocabulary": ["chair", ...],          K class names, unique, non-empty
     "label_ids": [2, ...] | null,          benchmark ids, one per class (unique), or null
     "clip": {"model": "ViT-L-14", "pretrained": "openai" | null,
              "weights_sha256": "<64 hex>" | null},   where the text embeddings came from
     "tau_l": 0.01,                         classification temperature (> 0)
     "feature_dim": 96,                     C, width of the point features the graph takes
     "feature_source": "mask3d",            what produced those features
     "embedding_dim": 768,                  D, width of the embeddings (CLIP's joint space)
     "precision": "fp32" | "fp16",          dtype of the graph's features input
     "nms_iou": 0.9,                        mask-NMS IoU threshold (>= 1: no NMS)
     "opset": 17,                           ONNX opset of model.onnx (>= 17)
     "files": {"onnx": "model.onnx", "tensorrt": "model.plan" | null}}

Every key is required and no other key is allowed (a typo is an error, not a silently ignored
setting). The same keys are stored in ``model.onnx``'s ``metadata_props`` with JSON-encoded
values (:meth:`Deployment.to_metadata`), so the runtime can tell a manifest from another export.

:meth:`Deployment.load` reads and validates a folder; :func:`write_manifest` writes one
atomically (temporary file + ``os.replace``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from folk_runtime.errors import DeploymentError

FORMAT = "folk-deployment"
VERSION = 1
MANIFEST_NAME = "manifest.json"
MIN_OPSET = 17
PRECISIONS = ("fp32", "fp16")
KEYS = ("format", "version", "folk_version", "vocabulary", "label_ids", "clip", "tau_l",
        "feature_dim", "feature_source", "embedding_dim", "precision", "nms_iou", "opset",
        "files")
CLIP_KEYS = ("model", "pretrained", "weights_sha256")
FILE_KEYS = ("onnx", "tensorrt")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ClipSource:
    """The CLIP whose text encoder produced the deployment's text embeddings."""

    model: str
    pretrained: str | None = None
    weights_sha256: str | None = None  # 64 lowercase hex digits, or None when unknown


@dataclass(frozen=True)
class DeploymentFiles:
    """File names inside the deployment folder (bare names, no directories)."""

    onnx: str = "model.onnx"
    tensorrt: str | None = None


@dataclass(frozen=True)
class Deployment:
    """A deployment folder's manifest (see the module docstring for each field's meaning).

    ``folder`` is where it was loaded from (None for one being built by the exporter); it is
    not part of the manifest and not compared.
    """

    folk_version: str
    vocabulary: tuple[str, ...]
    label_ids: tuple[int, ...] | None
    clip: ClipSource
    tau_l: float
    feature_dim: int
    feature_source: str
    embedding_dim: int
    precision: str = "fp32"
    nms_iou: float = 0.9
    opset: int = MIN_OPSET
    files: DeploymentFiles = field(default_factory=DeploymentFiles)
    folder: Path | None = field(default=None, compare=False)

    # ---- views ----------------------------------------------------------------------------

    @property
    def num_classes(self) -> int:
        return len(self.vocabulary)

    @property
    def onnx_path(self) -> Path:
        return self._file(self.files.onnx)

    @property
    def tensorrt_path(self) -> Path | None:
        return self._file(self.files.tensorrt) if self.files.tensorrt else None

    def _file(self, name: str) -> Path:
        if self.folder is None:
            raise DeploymentError(f"this Deployment was not loaded from a folder; {name} has "
                                  "no location")
        return self.folder / name

    # ---- conversions ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The manifest as a JSON-ready dict (keys in :data:`KEYS` order)."""
        return {
            "format": FORMAT, "version": VERSION, "folk_version": self.folk_version,
            "vocabulary": list(self.vocabulary),
            "label_ids": None if self.label_ids is None else [int(i) for i in self.label_ids],
            "clip": {"model": self.clip.model, "pretrained": self.clip.pretrained,
                     "weights_sha256": self.clip.weights_sha256},
            "tau_l": float(self.tau_l), "feature_dim": int(self.feature_dim),
            "feature_source": self.feature_source, "embedding_dim": int(self.embedding_dim),
            "precision": self.precision, "nms_iou": float(self.nms_iou), "opset": int(self.opset),
            "files": {"onnx": self.files.onnx, "tensorrt": self.files.tensorrt},
        }

    def to_metadata(self) -> dict[str, str]:
        """The manifest as ONNX ``metadata_props``: each key with its JSON-encoded value."""
        return {key: json.dumps(value) for key, value in self.to_dict().items()}

    @classmethod
    def from_dict(cls, data: Any, source: str | Path | None = None,
                  folder: str | Path | None = None) -> Deployment:
        """A validated Deployment from a manifest dict; :class:`DeploymentError` naming
        ``source`` (the file) and the key at fault otherwise."""
        return _parse(data, source, Path(folder) if folder is not None else None)

    @classmethod
    def from_metadata(cls, props: dict[str, str], source: str | Path | None = None,
                      ) -> Deployment:
        """A validated Deployment from ONNX ``metadata_props`` (JSON-encoded values; keys
        other than the manifest's are ignored)."""
        data = {}
        for key in KEYS:
            if key in props:
                try:
                    data[key] = json.loads(props[key])
                except (TypeError, ValueError):
                    raise DeploymentError(f"metadata key {key!r} is not JSON: "
                                          f"{str(props[key])[:80]!r}", source) from None
        return _parse(data, source, None)

    def validated(self) -> Deployment:
        """This Deployment, checked as :meth:`from_dict` checks a manifest."""
        return replace(_parse(self.to_dict(), None, None), folder=self.folder)

    @classmethod
    def load(cls, folder: str | Path) -> Deployment:
        """Read and validate ``<folder>/manifest.json`` and check that the files it names
        exist. Raises :class:`DeploymentError` naming the file and key at fault."""
        folder = Path(folder)
        if not folder.is_dir():
            raise DeploymentError("not a deployment folder (no such directory); write one "
                                  "with folk-export", folder)
        path = folder / MANIFEST_NAME
        if not path.is_file():
            raise DeploymentError(f"no {MANIFEST_NAME}: not a deployment folder (write one "
                                  "with folk-export)", folder)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DeploymentError(f"not readable JSON ({exc.__class__.__name__}: {exc})",
                                  path) from None
        deployment = _parse(data, path, folder)
        for key in FILE_KEYS:
            name = getattr(deployment.files, key)
            if name is not None and not (folder / name).is_file():
                raise DeploymentError(f"files.{key} names {name!r}, which is not in the "
                                      "folder", path)
        return deployment


def write_manifest(folder: str | Path, deployment: Deployment) -> Path:
    """Validate ``deployment`` and write it as ``<folder>/manifest.json`` atomically (a
    temporary file beside it, then ``os.replace``). Returns the manifest's path."""
    folder = Path(folder)
    text = json.dumps(deployment.validated().to_dict(), indent=2) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST_NAME}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, readable_mode())  # mkstemp makes 0600; a deployment is shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def readable_mode() -> int:
    """``0o666`` less the process umask: the mode ``open()`` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# ---- validation ---------------------------------------------------------------------------

class _Checker:
    """Raises :class:`DeploymentError` naming the source file and the key."""

    def __init__(self, source: str | Path | None):
        self.source = source

    def fail(self, key: str, message: str) -> DeploymentError:
        return DeploymentError(f"key {key!r} {message}", self.source)

    def string(self, key: str, value: Any, nullable: bool = False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            kind = "a non-empty string or null" if nullable else "a non-empty string"
            raise self.fail(key, f"must be {kind}, got {value!r}")
        return value

    def integer(self, key: str, value: Any, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be an integer >= {minimum}, got {value!r}")
        return value

    def number(self, key: str, value: Any, minimum: float, strict: bool) -> float:
        ok = (not isinstance(value, bool) and isinstance(value, (int, float))
              and math.isfinite(value) and (value > minimum if strict else value >= minimum))
        if not ok:
            bound = f"> {minimum}" if strict else f">= {minimum}"
            raise self.fail(key, f"must be a finite number {bound}, got {value!r}")
        return float(value)

    def mapping(self, key: str, value: Any, keys: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object with keys {list(keys)}, got {value!r}")
        missing = [k for k in keys if k not in value]
        extra = sorted(set(value) - set(keys))
        if missing or extra:
            raise self.fail(key, f"must have exactly the keys {list(keys)} (missing "
                                 f"{missing}, unknown {extra})")
        return value


def _parse(data: Any, source: str | Path | None, folder: Path | None) -> Deployment:
    check = _Checker(source)
    if not isinstance(data, dict):
        raise DeploymentError(f"the manifest must be a JSON object, got {type(data).__name__}",
                              source)
    if data.get("format") != FORMAT:
        raise check.fail("format", f"must be {FORMAT!r}, got {data.get('format')!r} (not a "
                                   "folk deployment manifest)")
    if data.get("version") != VERSION:
        raise check.fail("version", f"is {data.get('version')!r}; this folk_runtime reads "
                                    f"version {VERSION} (re-export with a matching folk-export)")
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise DeploymentError(f"missing key(s) {missing}", source)
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise DeploymentError(f"unknown key(s) {unknown} (allowed: {list(KEYS)})", source)

    vocabulary = data["vocabulary"]
    if (not isinstance(vocabulary, list) or not vocabulary
            or not all(isinstance(n, str) and n.strip() for n in vocabulary)):
        raise check.fail("vocabulary", "must be a non-empty list of non-empty class names")
    duplicates = sorted({n for n in vocabulary if vocabulary.count(n) > 1})
    if duplicates:
        raise check.fail("vocabulary", f"has duplicate class names {duplicates[:5]}")
    label_ids = data["label_ids"]
    if label_ids is not None:
        if (not isinstance(label_ids, list)
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in label_ids)):
            raise check.fail("label_ids", "must be a list of integers or null")
        if len(label_ids) != len(vocabulary):
            raise check.fail("label_ids", f"has {len(label_ids)} ids for {len(vocabulary)} "
                                          "classes in 'vocabulary'")
        if len(set(label_ids)) != len(label_ids):
            raise check.fail("label_ids", "has duplicate ids")
    clip = check.mapping("clip", data["clip"], CLIP_KEYS)
    sha = check.string("clip.weights_sha256", clip["weights_sha256"], nullable=True)
    if sha is not None and not _SHA256.match(sha):
        raise check.fail("clip.weights_sha256", f"must be 64 lowercase hex digits, got {sha!r}")
    files = check.mapping("files", data["files"], FILE_KEYS)
    for key in FILE_KEYS:
        name = check.string(f"files.{key}", files[key], nullable=key == "tensorrt")
        if name is not None and (Path(name).name != name or name in (".", "..")):
            raise check.fail(f"files.{key}", f"must be a file name inside the folder, got "
                                             f"{name!r}")
    precision = data["precision"]
    if precision not in PRECISIONS:
        raise check.fail("precision", f"must be one of {list(PRECISIONS)}, got {precision!r}")
    return Deployment(
        folk_version=check.string("folk_version", data["folk_version"]),
        vocabulary=tuple(vocabulary),
        label_ids=None if label_ids is None else tuple(label_ids),
        clip=ClipSource(check.string("clip.model", clip["model"]),
                        check.string("clip.pretrained", clip["pretrained"], nullable=True),
                        sha),
        tau_l=check.number("tau_l", data["tau_l"], 0.0, strict=True),
        feature_dim=check.integer("feature_dim", data["feature_dim"], 1),
        feature_source=check.string("feature_source", data["feature_source"]),
        embedding_dim=check.integer("embedding_dim", data["embedding_dim"], 1),
        precision=precision,
        nms_iou=check.number("nms_iou", data["nms_iou"], 0.0, strict=False),
        opset=check.integer("opset", data["opset"], MIN_OPSET),
        files=DeploymentFiles(files["onnx"], files["tensorrt"]),
        folder=folder,
    )
