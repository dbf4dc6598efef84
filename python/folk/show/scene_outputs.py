"""The files ``folk show`` writes for one scene: ``<scene>.png`` (the scene picture),
``<scene>_pred.ply`` and, with ground truth, ``<scene>_gt.ply`` (the same colours as the
picture), from a scan, its predictions in the ScanNet submission format and its GT."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folk.data.classes import load_class_list
from folk.data.scene import GroundTruth
from folk.data.vocabulary import Vocabulary
from folk.features.scan import read_scan
from folk.predict.instances import InstancePrediction
from folk.show.palette import assign_colors
from folk.show.scene_picture import LabelledInstances, ScenePoints, scene_picture, write_png
from folk.show.scene_ply import write_instance_ply


@dataclass(frozen=True)
class ClassNames:
    """Label id → class name, and the label ids of benchmark instances (``eval_ids``): GT
    instances of other classes (ScanNet200: wall, floor) are drawn as unlabelled."""

    names: dict[int, str]
    eval_ids: frozenset[int]

    def name(self, label_id: int) -> str:
        return self.names.get(int(label_id), f"id {int(label_id)}")


def class_names(classes: str = "scannet200", vocabulary: Vocabulary | None = None) -> ClassNames:
    """The names of benchmark ``classes`` (``scannet200``, ``replica``); a ``vocabulary``'s
    names take precedence for its label ids (predictions made with a custom vocabulary)."""
    class_list = load_class_list(classes)
    names = dict(zip(class_list.ids, class_list.names, strict=True))
    if vocabulary is not None:
        names.update(zip(vocabulary.label_ids, vocabulary.names, strict=True))
    return ClassNames(names, frozenset(class_list.eval_ids))


def read_scan_points(scan: str | Path) -> ScenePoints:
    """The points of a scan — a scene folder or a ``.ply`` (:func:`folk.features.read_scan`:
    the mesh only, so a scene without frames works too)."""
    scene = read_scan(scan)
    return ScenePoints(scene.name, scene.points, scene.colors, scene.normals)


def predicted_instances(pred: InstancePrediction, names: ClassNames) -> LabelledInstances:
    return LabelledInstances(pred.masks, tuple(names.name(i) for i in pred.label_ids),
                             pred.confidences)


def gt_instances(gt: GroundTruth, names: ClassNames) -> LabelledInstances:
    """The benchmark's GT instances (those of classes in ``names.eval_ids``)."""
    masks, labels = gt.instance_masks()
    keep = np.isin(labels, list(names.eval_ids))
    return LabelledInstances(masks[:, keep], tuple(names.name(i) for i in labels[keep]))


def write_scene_outputs(out_dir: str | Path, scene: ScenePoints, pred: InstancePrediction,
                        gt: GroundTruth | None, names: ClassNames,
                        min_confidence: float = 0.0) -> list[Path]:
    """Write the scene picture and PLY file(s) into ``out_dir``; returns their paths. Predicted
    instances below ``min_confidence`` are left out."""
    out_dir = Path(out_dir)
    keep = pred.confidences >= min_confidence
    pred = InstancePrediction(pred.masks[:, keep], pred.label_ids[keep], pred.confidences[keep])
    predicted = predicted_instances(pred, names)
    truth = gt_instances(gt, names) if gt is not None else None
    picture = scene_picture(scene, predicted, truth)
    paths = [write_png(out_dir / f"{scene.name}.png", picture)]
    colors = assign_colors(predicted.masks, None if truth is None else truth.masks)
    paths.append(write_instance_ply(out_dir / f"{scene.name}_pred.ply", scene.points,
                                    scene.colors, predicted.masks, colors.pred,
                                    predicted.draw_order, scene.normals))
    if truth is not None:
        paths.append(write_instance_ply(out_dir / f"{scene.name}_gt.ply", scene.points,
                                        scene.colors, truth.masks, colors.gt,
                                        normals=scene.normals))
    return paths
