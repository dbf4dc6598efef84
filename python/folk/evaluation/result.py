"""The numbers one evaluation produces, and how they are printed and serialised."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from folk.evaluation.ap import AP25_COLUMN, AP50_COLUMN, AP_COLUMNS
from folk.evaluation.classes import SPLITS

_METRICS = ("ap", "ap50", "ap25")


def _nanmean(values: np.ndarray) -> float:
    with warnings.catch_warnings():  # "mean of empty slice" when nothing has GT: nan is meant
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(values)) if np.size(values) else math.nan


def _json_number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


@dataclass(frozen=True, eq=False)
class EvalResult:
    """AP of every evaluated class at every IoU threshold, and the benchmark's averages.

    ``class_ap[c, t]`` is class ``c``'s AP at ``thresholds[t]``: NaN when no scene has a GT
    instance of the class (whether or not it was predicted), 0 when it has GT but no kept
    prediction. All values are fractions in [0, 1]. Averages are NaN-means over classes, as
    in the reference evaluator; ``head_ap`` etc. are ``None`` for datasets without a
    head/common/tail split (Replica).
    """

    dataset: str
    class_ids: tuple[int, ...]
    class_names: tuple[str, ...]
    split_of: dict[str, str] | None
    thresholds: np.ndarray
    class_ap: np.ndarray
    num_scenes: int
    missing_scenes: tuple[str, ...] = ()
    confidence_one: bool = False
    _per_class: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            per_class = np.stack(
                [
                    np.average(self.class_ap[:, AP_COLUMNS], axis=1),
                    self.class_ap[:, AP50_COLUMN],
                    self.class_ap[:, AP25_COLUMN],
                ],
                axis=1,
            )
        object.__setattr__(self, "_per_class", per_class)

    # -- overall -------------------------------------------------------------------------
    @property
    def ap(self) -> float:
        """Mean over classes with GT of the AP averaged over IoU 0.50:0.05:0.90."""
        return _nanmean(self.class_ap[:, AP_COLUMNS])

    @property
    def ap50(self) -> float:
        return _nanmean(self.class_ap[:, AP50_COLUMN])

    @property
    def ap25(self) -> float:
        return _nanmean(self.class_ap[:, AP25_COLUMN])

    # -- head / common / tail ------------------------------------------------------------
    def split_metric(self, split: str, metric: str = "ap") -> float | None:
        """NaN-mean of ``metric`` ("ap", "ap50", "ap25") over the classes of ``split``
        ("head", "common", "tail"); ``None`` when the dataset has no such split."""
        if split not in SPLITS or metric not in _METRICS:
            raise ValueError(f"unknown split/metric {split!r}/{metric!r}")
        if self.split_of is None:
            return None
        rows = [i for i, name in enumerate(self.class_names) if self.split_of[name] == split]
        return _nanmean(self._per_class[rows, _METRICS.index(metric)])

    @property
    def head_ap(self) -> float | None:
        return self.split_metric("head")

    @property
    def common_ap(self) -> float | None:
        return self.split_metric("common")

    @property
    def tail_ap(self) -> float | None:
        return self.split_metric("tail")

    # -- per class -----------------------------------------------------------------------
    def per_class(self) -> dict[str, dict[str, Any]]:
        """``{class name: {"id", "split", "ap", "ap50", "ap25"}}`` (NaN: no GT)."""
        out = {}
        for i, (name, cid) in enumerate(zip(self.class_names, self.class_ids)):
            row = self._per_class[i]
            out[name] = {
                "id": cid,
                "split": None if self.split_of is None else self.split_of[name],
                **{m: float(row[k]) for k, m in enumerate(_METRICS)},
            }
        return out

    @property
    def num_classes_with_gt(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.class_ap[:, 0])))

    # -- output --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN (no GT) and not-applicable values become ``None``."""
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "num_scenes": self.num_scenes,
            "confidence_one": self.confidence_one,
            "ap": _json_number(self.ap),
            "ap50": _json_number(self.ap50),
            "ap25": _json_number(self.ap25),
        }
        for split in SPLITS:
            for metric in _METRICS:
                out[f"{split}_{metric}"] = _json_number(self.split_metric(split, metric))
        out["num_classes"] = len(self.class_ids)
        out["num_classes_with_gt"] = self.num_classes_with_gt
        out["iou_thresholds"] = [round(float(t), 2) for t in self.thresholds]
        out["ap_per_threshold"] = [
            _json_number(_nanmean(self.class_ap[:, t])) for t in range(len(self.thresholds))
        ]
        out["missing_scenes"] = list(self.missing_scenes)
        out["classes"] = {
            name: {k: (_json_number(v) if k in _METRICS else v) for k, v in row.items()}
            for name, row in self.per_class().items()
        }
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (strict JSON: no NaN)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def table(self, per_class: bool = False) -> str:
        """A readable summary in percent: overall, then head/common/tail where defined."""

        def pct(value: float | None) -> str:
            return f"{'-':>7}" if value is None or math.isnan(value) else f"{100 * value:7.1f}"

        width = max([12] + [len(n) for n in self.class_names]) if per_class else 12
        scores = "as given" if not self.confidence_one else "all set to 1"
        lines = [
            (
                f"{self.dataset}: {self.num_scenes} scenes, {self.num_classes_with_gt}/"
                f"{len(self.class_ids)} classes with GT, confidences {scores}"
            ),
            f"{'':<{width}} {'AP':>7} {'AP50':>7} {'AP25':>7}   (%)",
            f"{'all':<{width}} {pct(self.ap)} {pct(self.ap50)} {pct(self.ap25)}",
        ]
        if self.split_of is not None:
            for split in SPLITS:
                values = [self.split_metric(split, m) for m in _METRICS]
                lines.append(f"{split:<{width}} " + " ".join(pct(v) for v in values))
        if self.missing_scenes:
            lines.append(f"({len(self.missing_scenes)} scenes had no predictions)")
        if per_class:
            lines.append("")
            for name, row in self.per_class().items():
                lines.append(f"{name:<{width}} " + " ".join(pct(row[m]) for m in _METRICS))
        return "\n".join(lines)
