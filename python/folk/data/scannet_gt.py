"""Ground truth from ScanNet's annotation files: the per-vertex ScanNet200 benchmark ids and
NYU40 labels of a scan, from ``<scene>.aggregation.json`` (objects: an ``objectId``, a raw
category ``label`` and the over-segmentation ``segments`` they cover),
``<scene>_vh_clean_2.0.010000.segs.json`` (``segIndices``: the segment of every mesh vertex)
and ``scannetv2-labels.combined.tsv`` (raw category → ids).

Semantics, as ScanNet's own export scripts (``BenchmarkScripts/ScanNet200``,
``export_train_mesh_for_evaluation.py``) and Mask3D / OpenMask3D's preprocessing define them:

* A vertex belongs to the object whose ``segments`` hold its segment; objects are applied in
  file order, so a segment two objects claim ends up with the later one (ScanNet's
  annotations rarely do this; :attr:`ScanNetAnnotation.contested_vertices` counts it).
* A raw category's ids are those of its first row in the tsv (``id``: the ScanNet200 label id,
  ``nyu40id``); a category the tsv lacks has id 0.
* ScanNet200 GT value: ``id * 1000 + objectId + 1`` when ``id`` is one of ScanNet200's 200
  label ids, else 0, as are vertices of no object. (Mask3D writes the tsv id even outside the
  200 and ScanNet's preprocessing writes ``objectId + 1`` with label 0; the benchmark treats
  all three the same: a vertex whose class is not a benchmark class is void.)
* NYU40 label: ``nyu40id`` of the vertex's object, 0 for vertices of no object.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folk.errors import FolkInputError

#: The ScanNet200 value of an instance is ``label_id * GT_LABEL_DIVISOR + objectId + 1``.
GT_LABEL_DIVISOR = 1000


@dataclass(frozen=True)
class LabelMap:
    """``scannetv2-labels.combined.tsv``: raw category → ``(id, nyu40id)`` (first row wins)."""

    ids: dict[str, tuple[int, int]]

    def scannet_id(self, raw_category: str) -> int:
        return self.ids.get(raw_category, (0, 0))[0]

    def nyu40_id(self, raw_category: str) -> int:
        return self.ids.get(raw_category, (0, 0))[1]


def read_label_map(path: str | Path) -> LabelMap:
    """Read ScanNet's label tsv; it needs the columns ``raw_category``, ``id`` and
    ``nyu40id``."""
    path = Path(path)
    if not path.is_file():
        raise FolkInputError("label map (scannetv2-labels.combined.tsv) not found", path)
    ids: dict[str, tuple[int, int]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"raw_category", "id", "nyu40id"} - set(reader.fieldnames or ())
        if missing:
            raise FolkInputError(f"label map lacks the column(s) {sorted(missing)}", path)
        for line, row in enumerate(reader, 2):
            try:
                value = (int(row["id"]), int(row["nyu40id"] or 0))
            except (TypeError, ValueError):
                raise FolkInputError(f"line {line}: id / nyu40id are not integers", path) \
                    from None
            ids.setdefault(row["raw_category"], value)
    return LabelMap(ids)


@dataclass(frozen=True)
class SegGroup:
    """One annotated object of ``aggregation.json``."""

    object_id: int
    label: str
    segments: tuple[int, ...]


def read_aggregation(path: str | Path) -> list[SegGroup]:
    """The ``segGroups`` of an ``aggregation.json``, in file order."""
    path = Path(path)
    data = _read_json(path)
    groups = data.get("segGroups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise FolkInputError("no 'segGroups' list (not a ScanNet aggregation file)", path)
    result = []
    for i, group in enumerate(groups):
        try:
            result.append(SegGroup(int(group["objectId"]), str(group["label"]),
                                   tuple(int(s) for s in group["segments"])))
        except (KeyError, TypeError, ValueError):
            raise FolkInputError(f"segGroups[{i}] needs an integer objectId, a label and a "
                                 "list of integer segments", path) from None
        if result[-1].object_id < 0:
            raise FolkInputError(f"segGroups[{i}] has a negative objectId", path)
    return result


def read_segments(path: str | Path) -> np.ndarray:
    """``segIndices`` of a ``segs.json``: ``(N,) int64``, the segment of every vertex."""
    path = Path(path)
    data = _read_json(path)
    indices = data.get("segIndices") if isinstance(data, dict) else None
    if not isinstance(indices, list) or not indices:
        raise FolkInputError("no 'segIndices' list (not a ScanNet segs.json file)", path)
    try:
        return np.asarray(indices, dtype=np.int64)
    except (TypeError, ValueError):
        raise FolkInputError("'segIndices' are not all integers", path) from None


def _read_json(path: Path):
    if not path.is_file():
        raise FolkInputError("file not found", path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FolkInputError(f"not valid JSON ({exc})", path) from None


@dataclass(frozen=True)
class ScanNetAnnotation:
    """The objects of a scan, per vertex.

    Attributes:
        group: ``(N,) int64`` index into ``groups`` of every vertex's object, -1 for none.
        groups: the aggregation's objects, in file order.
        contested_vertices: vertices whose segment more than one object claims.
    """

    group: np.ndarray
    groups: tuple[SegGroup, ...]
    contested_vertices: int

    @property
    def num_points(self) -> int:
        return int(self.group.shape[0])

    def scannet200_gt(self, label_map: LabelMap, valid_ids) -> np.ndarray:
        """``(N,) int64`` benchmark GT: ``id * 1000 + objectId + 1`` where the object's
        ScanNet id is in ``valid_ids`` (ScanNet200's 200 label ids), else 0."""
        valid = {int(i) for i in valid_ids}
        values = np.array([
            label_map.scannet_id(g.label) * GT_LABEL_DIVISOR + g.object_id + 1
            if label_map.scannet_id(g.label) in valid else 0 for g in self.groups] + [0],
            dtype=np.int64)
        return values[self.group]  # index -1 is the trailing 0

    def scannet_ids(self, label_map: LabelMap) -> np.ndarray:
        """``(N,) int64`` ScanNet label id (the tsv's ``id``, any of its ids, not only the
        200) of every vertex's object, 0 for none or for a category the tsv lacks."""
        values = np.array([label_map.scannet_id(g.label) for g in self.groups] + [0],
                          dtype=np.int64)
        return values[self.group]

    def nyu40_labels(self, label_map: LabelMap) -> np.ndarray:
        """``(N,) int64`` NYU40 id of every vertex's object, 0 for none."""
        values = np.array([label_map.nyu40_id(g.label) for g in self.groups] + [0],
                          dtype=np.int64)
        return values[self.group]


def read_annotation(aggregation: str | Path, segs: str | Path,
                    num_points: int | None = None) -> ScanNetAnnotation:
    """Assign every vertex of ``segs`` to its object of ``aggregation`` (see the module
    docstring). ``num_points``, when given, must equal the number of vertices in ``segs``
    (the mesh's)."""
    segments = read_segments(segs)
    if num_points is not None and segments.shape[0] != num_points:
        raise FolkInputError(f"{segments.shape[0]} segIndices but the mesh has {num_points} "
                             "vertices", segs)
    groups = read_aggregation(aggregation)
    ids = np.unique(segments)
    position = np.searchsorted(ids, segments)  # vertex -> its segment's position in ids
    owner = np.full(ids.shape[0], -1, dtype=np.int64)
    claims = np.zeros(ids.shape[0], dtype=np.int64)
    for index, group in enumerate(groups):
        wanted = np.unique(np.asarray(group.segments, dtype=np.int64))
        at = np.searchsorted(ids, wanted)
        present = (at < ids.shape[0]) & (ids[np.minimum(at, ids.shape[0] - 1)] == wanted)
        owner[at[present]] = index
        claims[at[present]] += 1
    group_of_vertex = owner[position]
    contested = int((claims[position] > 1).sum())
    return ScanNetAnnotation(group_of_vertex, tuple(groups), contested)
