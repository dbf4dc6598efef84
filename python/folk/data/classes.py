"""The class vocabularies shipped with folk: copies of ScanNet200's and Replica's lists, and the
classes of folk's synthetic scenes (ScanNet200 names; the generator, :mod:`folk.synthetic`,
furnishes rooms with them)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from folk.errors import FolkInputError

DATASETS = ("scannet200", "replica")

#: Object classes of folk's synthetic scenes (ScanNet200 names, so they carry ScanNet200's label
#: ids), in a fixed order: the ``synthetic`` vocabulary.
SYNTHETIC_CLASSES: tuple[str, ...] = (
    "chair", "table", "desk", "couch", "bed", "cabinet", "bookshelf", "nightstand", "stool",
    "toilet", "trash can", "lamp", "plant", "box", "monitor", "pillow",
)
_FILES = {"scannet200": "scannet200.json", "replica": "replica48.json"}


@dataclass(frozen=True)
class ClassList:
    """A benchmark vocabulary: names and label ids in the same order, and the instance
    evaluation subset (ScanNet200: the 198 classes without wall and floor)."""

    dataset: str
    names: tuple[str, ...]
    ids: tuple[int, ...]
    eval_ids: tuple[int, ...]
    head: frozenset[str] = frozenset()
    common: frozenset[str] = frozenset()
    tail: frozenset[str] = frozenset()

    def name_of(self, label_id: int) -> str:
        return self.names[self.ids.index(label_id)]

    def id_of(self, name: str) -> int:
        return self.ids[self.names.index(name)]


@functools.cache
def load_class_list(dataset: str) -> ClassList:
    if dataset not in _FILES:
        raise FolkInputError(f"unknown dataset {dataset!r}; expected one of {list(DATASETS)}")
    raw = json.loads((resources.files("folk.data") / "resources" / _FILES[dataset]).read_text())
    names, ids = tuple(raw["class_names"]), tuple(int(i) for i in raw["class_ids"])
    eval_ids = tuple(int(i) for i in raw.get("instance_eval_class_ids", ids))
    return ClassList(dataset, names, ids, eval_ids, frozenset(raw.get("head", ())),
                     frozenset(raw.get("common", ())), frozenset(raw.get("tail", ())))
