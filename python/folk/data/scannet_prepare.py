"""One ScanNet release scene folder → folk's scene layout, its superpoints and its ScanNet200
GT (the work of ``folk prepare scannet``, one scene at a time).

Output of scene ``s`` under ``out``::

    out/s/s_vh_clean_2.ply          the mesh, copied
    out/s/s_superpoints.npy         (N,) int64 superpoint id per vertex
    out/s/color/ depth/ pose/ intrinsic/   every stride-th frame of s.sens (when there is one)
    out/s/prepared.json             written last: the scene is complete
    out/gt/s.txt                    ScanNet200 GT (when s is annotated)

A scene whose ``prepared.json`` exists and records the same stride is complete and is left
as it is; anything else in ``out/s`` is redone from scratch (its frame folders are removed
first, so frames of an interrupted run at another stride cannot mix in). Superpoints are
computed by a function the caller passes (the data layer does not import folk.ops).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from folk.data.ply import read_ply_faces, read_ply_vertices
from folk.data.scannet_gt import LabelMap, read_annotation
from folk.data.scannet_raw import MESH_SUFFIX, RawScene, export_frames
from folk.data.sens import SensFile
from folk.errors import FolkInputError
from folk.files import atomic_open, write_json, write_text

MARKER = "prepared.json"
MARKER_FORMAT = "folk-prepare-scannet"
MARKER_VERSION = 1
FRAME_FOLDERS = ("color", "depth", "pose", "intrinsic")

#: ``superpoints(vertices (N, 3) float32, faces (F, 3) int64) -> (N,) integer ids``.
SuperpointFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PreparedScene:
    """What was written for one scene (also the content of ``prepared.json``).

    Attributes:
        name: the scene.
        stride: every ``stride``-th frame was exported.
        num_points: mesh vertices.
        num_superpoints: distinct superpoints.
        frames_total: frames in the ``.sens`` file (0 without one).
        frames_written: frames exported.
        lost_poses: exported frames whose pose is not finite.
        gt_instances: annotated ScanNet200 instances written to the GT file (-1: no GT).
        seconds: wall time of the preparation.
        skipped: True when the scene was complete already (nothing written).
    """

    name: str
    stride: int
    num_points: int
    num_superpoints: int
    frames_total: int
    frames_written: int
    lost_poses: int
    gt_instances: int
    seconds: float
    skipped: bool = False

    @property
    def has_frames(self) -> bool:
        return self.frames_written > 0


def check_output_location(scans_dir: str | Path, out: str | Path) -> None:
    """Refuse an output folder that is the input folder or lies inside it, or is a file:
    ``folk prepare`` never writes into the release folders."""
    scans, target = Path(scans_dir).resolve(), Path(out).resolve()
    if target == scans or scans in target.parents:
        raise FolkInputError(f"--out {out} is inside the input folder {scans_dir}; choose an "
                             "output folder outside it (the release files stay untouched)")
    if target.exists() and not target.is_dir():
        raise FolkInputError("--out exists and is not a folder", out)


def read_marker(scene_out: Path) -> dict | None:
    """The ``prepared.json`` of an output scene folder, or None (absent or unreadable)."""
    try:
        marker = json.loads((scene_out / MARKER).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(marker, dict) and marker.get("format") == MARKER_FORMAT \
        and marker.get("version") == MARKER_VERSION
    return marker if ok else None


def is_prepared(scene_out: Path, stride: int, gt_file: Path | None = None) -> bool:
    """Whether ``scene_out`` holds a complete preparation at ``stride`` (and its GT file,
    when one is expected)."""
    marker = read_marker(scene_out)
    if marker is None or marker.get("stride") != stride:
        return False
    return gt_file is None or (marker.get("gt_instances", -1) >= 0 and gt_file.is_file())


def prepare_scene(raw: RawScene, out: str | Path, *, stride: int,
                  superpoints: SuperpointFunction, label_map: LabelMap | None,
                  valid_ids=(), require_frames: bool = False, overwrite: bool = False,
                  on_frame: Callable[[int], None] | None = None) -> PreparedScene:
    """Prepare ``raw`` into ``out/<scene>`` and ``out/gt/<scene>.txt`` (see the module
    docstring). GT is written when the scene is annotated and ``label_map`` is given
    (``valid_ids``: ScanNet200's label ids). A scene without ``.sens`` gets no frames, which
    is an error only with ``require_frames``. Raises :class:`FolkInputError` on bad release
    files; the marker is then not written."""
    start = time.perf_counter()
    out = Path(out)
    scene_out, gt_file = out / raw.name, out / "gt" / f"{raw.name}.txt"
    want_gt = raw.annotated and label_map is not None
    if not overwrite and is_prepared(scene_out, stride, gt_file if want_gt else None):
        marker = read_marker(scene_out) or {}
        fields = {k: marker[k] for k in PreparedScene.__dataclass_fields__ if k in marker}
        return PreparedScene(**{**fields, "skipped": True})
    if raw.sens is None and require_frames:
        raise FolkInputError(f"no {raw.name}.sens: the scene has no RGB-D frames "
                             "(--require-frames)", raw.folder)
    sens = SensFile(raw.sens) if raw.sens is not None else None  # checked before writing

    (scene_out / MARKER).unlink(missing_ok=True)
    for folder in FRAME_FOLDERS:
        shutil.rmtree(scene_out / folder, ignore_errors=True)
    scene_out.mkdir(parents=True, exist_ok=True)

    vertices = read_ply_vertices(raw.mesh)
    if not {"x", "y", "z"} <= vertices.keys():
        raise FolkInputError("PLY vertices have no x/y/z", raw.mesh)
    points = np.stack([vertices[k] for k in "xyz"], axis=1).astype(np.float32)
    segments = np.asarray(superpoints(points, read_ply_faces(raw.mesh)), dtype=np.int64)

    gt_instances = -1
    if want_gt:
        annotation = read_annotation(raw.aggregation, raw.segs, num_points=points.shape[0])
        gt = annotation.scannet200_gt(label_map, valid_ids)
        write_text(gt_file, "".join(f"{v}\n" for v in gt.tolist()))
        gt_instances = int(np.unique(gt[gt > 0]).size)

    with open(raw.mesh, "rb") as source, \
            atomic_open(scene_out / f"{raw.name}{MESH_SUFFIX}", "wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    with atomic_open(scene_out / f"{raw.name}_superpoints.npy", "wb") as handle:
        np.save(handle, segments)

    total = written = lost = 0
    if sens is not None:
        export = export_frames(sens, scene_out, stride, on_frame)
        total, written, lost = export.total, export.written, export.lost_poses

    result = PreparedScene(raw.name, stride, int(points.shape[0]),
                           int(np.unique(segments).size), total, written, lost, gt_instances,
                           round(time.perf_counter() - start, 3))
    marker = {"format": MARKER_FORMAT, "version": MARKER_VERSION, **asdict(result)}
    marker.pop("skipped")
    write_json(scene_out / MARKER, marker)
    return result
