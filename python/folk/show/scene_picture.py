"""The picture of one scene: its points coloured by predicted instance, seen from above and
from one oblique view, with class labels at the instances, beside the ground truth when given
(same cameras; a prediction matched to a GT instance has its colour), and a legend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from folk.errors import FolkInputError
from folk.files import atomic_open
from folk.show.drawing import (
    Label,
    caption,
    draw_labels,
    font,
    legend_strip,
    side_by_side,
    stack_vertically,
    visible_anchors,
)
from folk.show.palette import (
    InstanceColors,
    assign_colors,
    instance_point_colors,
    palette_color,
    point_instance,
)
from folk.show.render import (
    Camera,
    oblique_camera,
    point_spacing,
    render_points,
    top_down_camera,
)

#: Size of one view of the scene picture, pixels.
PANEL_SIZE = (640, 480)


@dataclass(frozen=True)
class LabelledInstances:
    """Instances over a scene's points: ``masks`` (N, K) bool (one column per instance), a
    class ``names`` entry per instance and, for predictions, ``confidences`` (K,)."""

    masks: np.ndarray
    names: tuple[str, ...]
    confidences: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.masks.ndim != 2 or self.masks.shape[1] != len(self.names):
            raise FolkInputError(f"{len(self.names)} instance names for masks of shape "
                                 f"{self.masks.shape}")

    @property
    def draw_order(self) -> np.ndarray:
        """Instances in ascending confidence (the most confident drawn last, on top)."""
        if self.confidences is None:
            return np.arange(len(self.names))
        return np.argsort(self.confidences, kind="stable")


@dataclass(frozen=True)
class ScenePoints:
    """What the picture shows of a scene: ``points`` (N, 3), the scan's ``colors`` (N, 3)
    uint8 and optional ``normals`` (N, 3)."""

    name: str
    points: np.ndarray
    colors: np.ndarray
    normals: np.ndarray | None = None


def scene_cameras(points: np.ndarray, size: tuple[int, int] = PANEL_SIZE
                  ) -> list[tuple[str, Camera]]:
    """The picture's views, framed on the points' bounding box: top-down and oblique."""
    return [("top-down", top_down_camera(points, *size)),
            ("oblique", oblique_camera(points, *size))]


def render_panel(scene: ScenePoints, camera: Camera, instances: LabelledInstances,
                 color_index: np.ndarray, tag: str, text_size: int,
                 spacing: np.ndarray) -> Image.Image:
    """One view of ``instances``: points in the palette colours ``color_index[k]`` (grey: no
    instance), each instance's class name at its visible centroid, ``tag`` in the corner.
    ``spacing``: :func:`~folk.show.render.point_spacing` of the scene's points."""
    owner = point_instance(instances.masks, instances.draw_order)
    colors = instance_point_colors(owner, color_index, scene.colors)
    rendering = render_points(camera, scene.points, colors, normals=scene.normals,
                              spacing=spacing)
    owner_at_pixel = np.where(rendering.index >= 0, owner[np.maximum(rendering.index, 0)], -1)
    picture = Image.fromarray(rendering.image)
    anchors = visible_anchors(owner_at_pixel, len(instances.names))
    labels = [Label(instances.names[k], x, y, palette_color(color_index[k]))
              for k, (x, y) in sorted(anchors.items(), key=lambda item: item[1][1])]
    draw_labels(picture, labels, size=text_size)
    ImageDraw.Draw(picture).text((6, 4), tag, fill=(90, 90, 90), font=font(13), anchor="lt")
    return picture


def _legend(pred: LabelledInstances, gt: LabelledInstances | None,
            colors: InstanceColors) -> list[tuple[tuple[int, int, int], str]]:
    """Legend entries: each prediction by descending confidence (with the GT class it matched
    when that differs, or "no GT match"), then the GT instances no prediction matched."""
    entries = []
    for k in np.argsort(-(pred.confidences if pred.confidences is not None
                          else np.zeros(len(pred.names))), kind="stable"):
        text = pred.names[k]
        if pred.confidences is not None:
            text += f" {pred.confidences[k]:.2f}"
        if gt is not None:
            g = colors.match[k]
            text += (f" = GT {gt.names[g]}" if g >= 0 and gt.names[g] != pred.names[k]
                     else "" if g >= 0 else " (no GT match)")
        entries.append((palette_color(colors.pred[k]), text))
    if gt is not None:
        matched = set(colors.match[colors.match >= 0].tolist())
        entries += [(palette_color(colors.gt[i]), f"GT {gt.names[i]} (missed)")
                    for i in range(len(gt.names)) if i not in matched]
    return entries


def scene_picture(scene: ScenePoints, pred: LabelledInstances,
                  gt: LabelledInstances | None = None, *, size: tuple[int, int] = PANEL_SIZE,
                  text_size: int = 13) -> Image.Image:
    """The scene picture as a PIL image: rows top-down and oblique, columns prediction and
    (when given) ground truth, a legend of the predicted instances (and the missed GT ones)
    and a summary line."""
    n = scene.points.shape[0]
    for what, inst in (("prediction", pred), ("ground truth", gt)):
        if inst is not None and inst.masks.shape[0] != n:
            raise FolkInputError(f"the {what} covers {inst.masks.shape[0]} points but scene "
                                 f"{scene.name} has {n}")
    colors = assign_colors(pred.masks, None if gt is None else gt.masks)
    columns = [("prediction", pred, colors.pred)]
    if gt is not None:
        columns.append(("ground truth", gt, colors.gt))
    spacing = point_spacing(scene.points)
    rows = []
    for tag, camera in scene_cameras(scene.points, size):
        rows.append(side_by_side([render_panel(scene, camera, inst, index, tag, text_size, spacing)
                                  for _, inst, index in columns]))
    width = rows[0].width
    titles = side_by_side([caption(f"{title}: {len(inst.names)} instances", size[0])
                           for title, inst, _ in columns])
    summary = f"{scene.name}: {n} points, {len(pred.names)} predicted instances"
    if gt is not None:
        summary += (f", {len(gt.names)} GT instances, {int((colors.match >= 0).sum())} matched "
                    "(IoU >= 0.5, same colour in both)")
    legend = legend_strip(_legend(pred, gt, colors), width)
    return stack_vertically([caption(summary, width), titles, *rows, legend])


def write_png(path: str | Path, image: Image.Image) -> Path:
    """Write ``image`` as a PNG, atomically."""
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        image.save(handle, format="PNG")
    return path
