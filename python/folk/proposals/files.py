"""Where a scene's proposals live in a proposals directory (one place that knows the names).

``<dir>/<scene>_masks.{pt,npy,npz}`` (OpenMask3D's name) or ``<dir>/<scene>.{npy,npz,pt}``:
``(N, Q)`` 0/1 masks. Scores, optional: ``<dir>/<scene>_scores.{npy,npz,pt}``, or a
``scores`` array inside the masks ``.npz``; without scores every proposal scores 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folk.data.inputs import read_proposals
from folk.data.scene import Proposals
from folk.errors import FolkInputError
from folk.files import save_npz

ARRAY_SUFFIXES = (".pt", ".npy", ".npz", ".pth")


def _first_existing(directory: Path, stems: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for suffix in ARRAY_SUFFIXES:
            path = directory / f"{stem}{suffix}"
            if path.is_file():
                return path
    return None


def proposal_files(directory: str | Path, scene: str) -> tuple[Path, Path | None]:
    """``(masks file, scores file or None)`` of ``scene`` in ``directory``."""
    directory = Path(directory)
    masks = _first_existing(directory, (f"{scene}_masks", scene))
    if masks is None:
        raise FolkInputError(f"no proposals for scene {scene!r} (looked for {scene}_masks.* and "
                             f"{scene}.* with suffix .pt/.npy/.npz)", directory)
    scores = _first_existing(directory, (f"{scene}_scores",))
    if scores is None and masks.suffix == ".npz":
        with np.load(masks, allow_pickle=False) as z:
            if "scores" in z.files:
                scores = masks
    return masks, scores


def load_scene_proposals(directory: str | Path, scene: str, num_points: int | None = None,
                         allow_pickle: bool = False) -> Proposals:
    """The proposals of ``scene`` from ``directory`` (see the module docstring for names)."""
    masks, scores = proposal_files(directory, scene)
    return read_proposals(masks, num_points, scores_path=scores, allow_pickle=allow_pickle)


def proposal_scenes(directory: str | Path) -> list[str]:
    """Scene names that have a masks file in ``directory``, sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FolkInputError("proposals directory not found", directory)
    names = set()
    for path in directory.iterdir():
        if path.suffix in ARRAY_SUFFIXES and path.is_file():
            stem = path.stem
            if stem.endswith("_scores"):
                continue
            names.add(stem.removesuffix("_masks"))
    return sorted(names)


def save_scene_proposals(directory: str | Path, scene: str, proposals: Proposals) -> Path:
    """Write ``<dir>/<scene>_masks.npz`` (``masks`` (N, Q) bool + ``scores``), atomically."""
    path = Path(directory) / f"{scene}_masks.npz"
    save_npz(path, masks=proposals.masks, scores=proposals.scores.astype(np.float32))
    return path
