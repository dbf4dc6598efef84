"""Ground truth of the ScanNet200 / Replica instance benchmarks.

``<gt_dir>/<scene>.txt`` holds one integer per vertex, ``label_id * 1000 + instance``
(ScanNet / Mask3D write ``instance + 1``, so that 0 means "no instance"). How the evaluator
reads a value ``v``, exactly as the reference ``evaluate_semantic_instance.py`` does:

* ``v // 1000`` is the label; a vertex whose label is not an evaluated class (0 = unlabeled,
  wall/floor on ScanNet200, any other id) is *void*: it belongs to no GT instance, and
  predictions lying mostly on void are not counted as false positives.
* every other distinct nonzero value is one GT instance of class ``v // 1000``, including a
  value with a zero suffix (``label * 1000``, which the standard exporters write only for
  vertices labelled but outside every annotated object, i.e. practically never).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folk.data.inputs import read_ground_truth
from folk.data.int_lines import scene_files


def read_gt(path: str | Path) -> np.ndarray:
    """One scene's GT file as an int64 array of ``label_id * 1000 + instance`` per vertex
    (:func:`folk.data.inputs.read_ground_truth`'s checks)."""
    return read_ground_truth(path).ids


def gt_scene_files(gt_dir: str | Path) -> dict[str, Path]:
    """``{scene: path}`` for every ``<scene>.txt`` directly inside ``gt_dir``, sorted by scene."""
    return scene_files(Path(gt_dir), "ground-truth")
