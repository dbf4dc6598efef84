"""Loading what ``folk view`` shows of one scene: its points, the instances the student
scores (the proposals kept by NMS, with their embeddings computed once), their class names
from a prediction file when given, and the ground truth when given."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folk.data.scene import GroundTruth, PointFeatures, Proposals
from folk.errors import FolkInputError
from folk.predict.instances import InstancePrediction
from folk.proposals.nms import nms_membership
from folk.show.live_query import ViewInstances, instance_colors, view_instances
from folk.show.palette import match_instances, point_instance, unlabelled_colors
from folk.show.scene_outputs import ClassNames, gt_instances
from folk.show.scene_picture import ScenePoints
from folk.student.classify import embed_segments


@dataclass(frozen=True)
class ViewScene:
    """A scene ready to view: ``scene`` (points and colours), ``instances``, the points'
    colours by predicted instance (``pred_colors``), by GT instance (``gt_colors``, None
    without GT) and of no instance (``background``, the greys of unlabelled points), the GT
    instances' names and the GT instance each point is drawn with (``gt_owner``, −1: none)."""

    scene: ScenePoints
    instances: ViewInstances
    pred_colors: np.ndarray
    background: np.ndarray
    gt_colors: np.ndarray | None = None
    gt_names: tuple[str, ...] = ()
    gt_owner: np.ndarray | None = None


def instance_names(kept_masks: np.ndarray, pred: InstancePrediction | None,
                   names: ClassNames, keep: np.ndarray) -> tuple[str, ...]:
    """A name per kept proposal: the class of the predicted instance it matches (IoU ≥ 0.5;
    ``folk predict`` writes the kept proposals' own masks), else ``#<proposal index>``."""
    fallback = [f"#{int(q)}" for q in keep]
    if pred is None or pred.masks.shape[1] == 0:
        return tuple(fallback)
    match = match_instances(kept_masks, pred.masks)
    return tuple(names.name(pred.label_ids[m]) if m >= 0 else fallback[k]
                 for k, m in enumerate(match))


def load_view_scene(scene: ScenePoints, features: PointFeatures, proposals: Proposals,
                    adapter, nms_iou: float, names: ClassNames,
                    pred: InstancePrediction | None = None,
                    gt: GroundTruth | None = None) -> ViewScene:
    """Embed the scene's kept proposals with the student (``adapter``) once and colour its
    points by instance (:func:`folk.show.live_query.instance_colors`)."""
    n = scene.points.shape[0]
    if features.features.shape[0] != n or proposals.num_points != n:
        raise FolkInputError(f"scene {scene.name}: the scan has {n} points, the features "
                             f"{features.features.shape[0]} and the proposals "
                             f"{proposals.num_points}")
    keep, kept = nms_membership(proposals, nms_iou)
    embeddings = embed_segments(adapter, features.features, kept)
    masks = proposals.masks[:, keep]
    instances = view_instances(scene.points, masks, embeddings, proposals.scores[keep],
                               instance_names(masks, pred, names, keep))
    background = unlabelled_colors(scene.colors)
    if gt is None:
        pred_colors, _ = instance_colors(instances, scene.colors)
        return ViewScene(scene, instances, pred_colors, background)
    truth = gt_instances(gt, names)
    gt_owner = point_instance(truth.masks)
    pred_colors, gt_colors = instance_colors(instances, scene.colors, truth.masks, gt_owner)
    return ViewScene(scene, instances, pred_colors, background, gt_colors, truth.names,
                     gt_owner)
