"""Per-point features of a scene, from any source behind one interface.

A :class:`FeatureSource` turns a :class:`~folk.data.Scene` into
:class:`~folk.data.PointFeatures` aligned with its points. Two sources ship with folk:

- :class:`FileFeatures`: features exported by a 3D backbone (Mask3D: 96 or 128 dims), one file
  per scene in a directory (:func:`feature_file` says which names are looked for);
- :class:`GeometricFeatures`: colour, normal, height and local-shape descriptors computed from
  the points (:mod:`folk.features.geometric`), so that folk runs on any scan.

A learned backbone is added by writing a class with the same three members.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from folk.data.inputs import read_features
from folk.data.scene import PointFeatures, Scene
from folk.errors import FolkInputError
from folk.features.geometric import GeometricFeatureConfig, geometric_features
from folk.features.scan import read_scan

_SUFFIXES = (".npy", ".npz", ".pt", ".pth")


@runtime_checkable
class FeatureSource(Protocol):
    """Anything that gives per-point features for a scene.

    ``name`` identifies the source (stored in checkpoints, so a model is not applied to features
    of another kind unnoticed); ``dim`` is the feature width C, or ``None`` when it is only
    known once a scene has been read; calling it returns ``(N, C)`` features for the scene's N
    points.
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int | None: ...

    def __call__(self, scene: Scene) -> PointFeatures: ...


def feature_file(directory: str | Path, scene: str) -> Path:
    """The features file of ``scene``: ``<dir>/<scene>.{npy,npz,pt}`` or
    ``<dir>/<scene>_features.{npy,npz,pt}`` (first found, in that order)."""
    directory = Path(directory)
    for stem in (scene, f"{scene}_features"):
        for suffix in _SUFFIXES:
            path = directory / f"{stem}{suffix}"
            if path.is_file():
                return path
    raise FolkInputError(f"no point features for scene {scene!r} (looked for {scene}.* and "
                         f"{scene}_features.* with suffix .npy/.npz/.pt)", directory)


class FileFeatures:
    """Features read from ``<directory>/<scene>.*`` (Mask3D exports and the like).

    ``dim``: the expected width; a file of another width is an error. ``None`` accepts any.
    ``allow_pickle``: allow ``.pt`` files that need full unpickling (trusted files only).
    """

    def __init__(self, directory: str | Path, dim: int | None = None, *,
                 name: str = "file", allow_pickle: bool = False):
        self.directory = Path(directory)
        self._dim = dim
        self._name = name
        self.allow_pickle = allow_pickle

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int | None:
        return self._dim

    def load(self, scene: str, num_points: int | None = None) -> PointFeatures:
        """Features of the scene named ``scene`` (no point cloud needed)."""
        path = feature_file(self.directory, scene)
        features = read_features(path, num_points, allow_pickle=self.allow_pickle)
        if self._dim is not None and features.dim != self._dim:
            raise FolkInputError(f"features have {features.dim} dims, expected {self._dim}", path)
        return features

    def __call__(self, scene: Scene) -> PointFeatures:
        return self.load(scene.name, scene.num_points)

    def __repr__(self) -> str:
        return f"FileFeatures({str(self.directory)!r}, dim={self._dim})"


class GeometricFeatures:
    """Geometric features computed from the points (see :mod:`folk.features.geometric`)."""

    def __init__(self, config: GeometricFeatureConfig | None = None):
        self.config = config or GeometricFeatureConfig()

    @property
    def name(self) -> str:
        return "geometric" if self.config.fpfh else "geometric-nofpfh"

    @property
    def dim(self) -> int:
        return self.config.dim

    def __call__(self, scene: Scene) -> PointFeatures:
        return geometric_features(scene, self.config)

    def __repr__(self) -> str:
        return f"GeometricFeatures({self.config})"


def feature_source(spec: str | Path, *, allow_pickle: bool = False) -> FeatureSource:
    """The source a command-line value names: ``geometric`` or a directory of feature files."""
    if str(spec) == "geometric":
        return GeometricFeatures()
    path = Path(spec)
    if not path.is_dir():
        raise FolkInputError("features: expected 'geometric' or a directory of per-scene "
                             "feature files", path)
    return FileFeatures(path, allow_pickle=allow_pickle)


__all__ = ["FeatureSource", "FileFeatures", "GeometricFeatureConfig", "GeometricFeatures",
           "feature_file", "feature_source", "geometric_features", "read_scan"]
