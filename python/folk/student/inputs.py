"""Per-scene inputs of the image-free steps (distillation, prediction, queries), found by scene
name: point features and proposals, from files or computed from the scan's geometry.

- features: a directory (``<dir>/<scene>.{npy,npz,pt}`` or ``<scene>_features.*``, see
  :func:`folk.features.feature_file`) or ``geometric``;
- proposals: a directory (``<dir>/<scene>_masks.{pt,npy,npz}`` or ``<scene>.*``, scores in
  ``<scene>_scores.*``, see :mod:`folk.proposals.files`) or ``geometric``;
- scans: a directory with ``<scene>/`` folders (ScanNet / Replica layout) or ``<scene>.ply``
  files; needed by ``geometric`` and used to check point counts when given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from folk.data.scene import PointFeatures, Proposals, Scene
from folk.errors import FolkInputError
from folk.features import FeatureSource, FileFeatures, GeometricFeatures, read_scan
from folk.proposals.files import load_scene_proposals, proposal_scenes
from folk.proposals.geometric import geometric_proposals


def parse_scene_list(spec: str | Path | None) -> list[str] | None:
    """Scene names from a file (one per line) or a comma-separated list; None stays None."""
    if spec is None:
        return None
    path = Path(spec)
    if path.is_file():
        names = [line.strip() for line in path.read_text().splitlines()]
    else:
        if "/" in str(spec) or str(spec).endswith(".txt"):
            raise FolkInputError("scene list file not found", path)
        names = str(spec).split(",")
    names = [n.strip() for n in names if n.strip() and not n.strip().startswith("#")]
    if not names:
        raise FolkInputError(f"no scene names in {spec!r}")
    if len(set(names)) != len(names):
        raise FolkInputError(f"scene list {spec!r} names a scene twice")
    return names


@dataclass
class SceneInputs:
    features: str | Path  # directory or "geometric"
    proposals: str | Path  # directory or "geometric"
    scans: str | Path | None = None
    allow_pickle: bool = False

    def __post_init__(self) -> None:
        for what in ("features", "proposals"):
            value = str(getattr(self, what))
            if value == "geometric":
                if self.scans is None:
                    raise FolkInputError(f"{what} 'geometric' needs the scans (--scans DIR)")
            elif not Path(value).is_dir():
                raise FolkInputError(f"{what} directory not found", value)
        if self.scans is not None and not Path(self.scans).is_dir():
            raise FolkInputError("scans directory not found", self.scans)
        self.source: FeatureSource = (
            GeometricFeatures() if str(self.features) == "geometric"
            else FileFeatures(self.features, allow_pickle=self.allow_pickle))

    @property
    def feature_name(self) -> str:
        return self.source.name

    def available_scenes(self) -> list[str]:
        """Scenes with proposals (a proposals directory) or with a scan (``geometric``)."""
        if str(self.proposals) != "geometric":
            return proposal_scenes(self.proposals)
        names = set()
        for path in Path(self.scans).iterdir():
            if path.is_dir():
                names.add(path.name)
            elif path.suffix == ".ply":
                names.add(path.stem)
        return sorted(names)

    def scan(self, scene: str) -> Scene | None:
        if self.scans is None:
            return None
        root = Path(self.scans) / scene
        return read_scan(root if root.is_dir() else root.with_suffix(".ply"), name=scene)

    def load(self, scene: str) -> tuple[PointFeatures, Proposals]:
        """Features and proposals of ``scene``, checked to cover the same points."""
        scan = self.scan(scene)
        n = scan.num_points if scan is not None else None
        if str(self.proposals) == "geometric":
            proposals = geometric_proposals(scan)
        else:
            proposals = load_scene_proposals(self.proposals, scene, n, self.allow_pickle)
        if isinstance(self.source, FileFeatures):
            features = self.source.load(scene, proposals.num_points)
        else:
            features = self.source(scan)
        if features.num_points != proposals.num_points:
            raise FolkInputError(f"scene {scene!r}: {features.num_points} feature rows but "
                                 f"proposals over {proposals.num_points} points")
        return features, proposals
