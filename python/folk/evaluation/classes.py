"""The class lists the benchmarks evaluate, loaded from the JSON files packaged with folk.

``scannet200``: 200 known classes (``class_ids``); instance evaluation uses the 198 of
``instance_eval_class_ids`` (all but wall and floor) and reports head/common/tail averages
over the official ScanNet200 splits. ``replica``: the 48 classes of OpenMask3D / Open-YOLO 3D;
all are evaluated and there is no head/common/tail split.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from folk.data.classes import load_class_list

SPLITS: tuple[str, ...] = ("head", "common", "tail")


@dataclass(frozen=True)
class DatasetClasses:
    """Which label ids a benchmark knows and which it evaluates.

    ``known_ids``: every label id a prediction may carry (predictions of a known but not
    evaluated class, e.g. wall/floor on ScanNet200, are dropped as the reference evaluator does).
    ``eval_ids`` / ``eval_names``: the evaluated classes, in the reference evaluator's order.
    ``split_of``: evaluated class name -> "head" | "common" | "tail", or ``None`` when the
    dataset has no such split (Replica).
    """

    dataset: str
    known_ids: frozenset[int]
    eval_ids: tuple[int, ...]
    eval_names: tuple[str, ...]
    split_of: dict[str, str] | None

    @property
    def num_classes(self) -> int:
        return len(self.eval_ids)

    def eval_index(self, label_ids: np.ndarray) -> np.ndarray:
        """Position of each label id in ``eval_ids``, or -1 where it is not evaluated."""
        label_ids = np.asarray(label_ids, dtype=np.int64)
        table = _lookup_table(self.eval_ids)
        out = np.full(label_ids.shape, -1, dtype=np.int64)
        inside = (label_ids >= 0) & (label_ids < table.size)
        out[inside] = table[label_ids[inside]]
        return out


@functools.cache
def _lookup_table(eval_ids: tuple[int, ...]) -> np.ndarray:
    table = np.full(max(eval_ids) + 1, -1, dtype=np.int64)
    table[np.asarray(eval_ids)] = np.arange(len(eval_ids))
    table.setflags(write=False)
    return table


@functools.cache
def load_classes(dataset: str) -> DatasetClasses:
    """The class lists of ``dataset`` (one of :data:`DATASETS`), from :mod:`folk.data.classes`."""
    classes = load_class_list(dataset)
    eval_names = tuple(classes.name_of(i) for i in classes.eval_ids)
    split_of = None
    if classes.head or classes.common or classes.tail:
        split_of = {name: split for split in SPLITS for name in getattr(classes, split)
                    if name in eval_names}
        missing = set(eval_names) - set(split_of)
        if missing:  # the packaged lists are inconsistent: a bug in folk, not user input
            raise RuntimeError(f"classes without head/common/tail split: {sorted(missing)}")
    return DatasetClasses(dataset=dataset, known_ids=frozenset(classes.ids),
                          eval_ids=classes.eval_ids, eval_names=eval_names, split_of=split_of)
