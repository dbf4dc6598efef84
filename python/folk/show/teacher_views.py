"""What the teacher sees of one proposal: its selected frames, the sparse mask of its visible
points' pixels in each, the completed dense mask, each view's CLIP label and the vote — the
teacher's own steps (:class:`folk.teacher.pipeline.Teacher`: visibility counts, view
selection, :func:`~folk.ops.visibility.visible_pixels`,
:func:`~folk.ops.mask_completion.complete_masks`, its embedder and its vote) run for that one
proposal. Visibility, selection and masks of a proposal do not depend on the other proposals,
so they are those of a full ``folk teacher`` run with the same settings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from folk.data.membership import ProposalMembership
from folk.data.scene import Proposals, Scene
from folk.errors import FolkInputError
from folk.ops.mask_completion import complete_masks
from folk.ops.visibility import PixelLists, visible_pixels
from folk.show.drawing import caption, font, side_by_side, stack_vertically
from folk.teacher.embed import FrameMasks
from folk.teacher.pipeline import Teacher

#: Width of one tile of the teacher-views picture, pixels.
TILE_WIDTH = 320
SPARSE_COLOR = (255, 40, 40)
DENSE_COLOR = (40, 200, 255)


@dataclass(frozen=True)
class TeacherView:
    """One selected view of a proposal: the frame's ``color`` image, the ``sparse`` and
    ``dense`` masks ``(H, W)`` bool over its depth image, the view's nearest class ``label``
    (index into the vocabulary, −1: no usable embedding) and its cosine ``similarity``."""

    frame_id: int
    visible_points: int
    color: np.ndarray
    sparse: np.ndarray
    dense: np.ndarray
    label: int
    similarity: float


@dataclass(frozen=True)
class ProposalViews:
    """The teacher's views of proposal ``proposal`` of ``scene`` and its voted ``label``."""

    scene: str
    proposal: int
    num_points: int
    vocabulary: tuple[str, ...]
    views: tuple[TeacherView, ...]
    label: int

    def name(self, label: int) -> str:
        return self.vocabulary[label] if label >= 0 else "(none)"


def proposal_views(teacher: Teacher, scene: Scene, proposals: Proposals,
                   proposal: int) -> ProposalViews:
    """Run ``teacher``'s steps for column ``proposal`` of ``proposals`` on ``scene``."""
    if not 0 <= proposal < proposals.num_proposals:
        raise FolkInputError(f"--proposal {proposal} does not exist: the file holds "
                             f"{proposals.num_proposals} proposals (0 to "
                             f"{proposals.num_proposals - 1})")
    config = teacher.config
    membership = ProposalMembership.from_masks(proposals.masks[:, [proposal]])
    counts = teacher.visibility(scene, membership)
    chosen = [int(f) for f in teacher.select(scene, counts)[0] if f >= 0]
    views: list[TeacherView] = []
    if chosen:
        frames = [scene.frames[f] for f in chosen]
        depths = np.stack([f.load_depth() for f in frames])
        poses = np.stack([f.pose for f in frames])
        intrinsics = np.array([[f.depth_intrinsics.fx, f.depth_intrinsics.fy,
                                f.depth_intrinsics.cx, f.depth_intrinsics.cy] for f in frames],
                              np.float32)
        pairs = np.stack([np.zeros(len(frames), np.int64), np.arange(len(frames))], axis=1)
        sparse = visible_pixels(scene.points, poses, intrinsics, depths, membership, pairs,
                                **config.visibility.kwargs(), device="cpu")
        dense = sparse
        if config.teacher == "folk" and config.dense_masks:
            dense = complete_masks(sparse, **config.completion.kwargs(), device="cpu")
        pooled = dense if config.teacher == "folk" else sparse
        colors = [f.load_color() for f in frames]
        results = teacher.embedder.embed([
            FrameMasks(color=c, masks=[np.asarray(pooled[j])], height=pooled.height,
                       width=pooled.width) for j, c in enumerate(colors)])
        emb = np.stack([e[0] for e, _ in results])[None]
        valid = np.array([bool(ok[0]) for _, ok in results])[None]
        result = teacher.aggregate(emb, valid)
        sims = emb[0] @ np.asarray(teacher.text).T
        for j, frame in enumerate(frames):
            label = int(result.view_labels[0, j])
            views.append(TeacherView(
                frame.frame_id, int(counts[chosen[j], 0]), colors[j], _dense(sparse, j),
                _dense(dense, j), label, float(sims[j, label]) if label >= 0 else float("nan")))
        label = int(result.labels[0])
    else:
        label = -1
    return ProposalViews(scene.name, proposal, int(proposals.masks[:, proposal].sum()),
                         tuple(teacher.vocabulary), tuple(views), label)


def _dense(masks: PixelLists, k: int) -> np.ndarray:
    lists = PixelLists(np.asarray(masks.offsets), np.asarray(masks.pixels), masks.height,
                       masks.width)
    return lists.to_dense(k)


def _tile(color: np.ndarray, mask: np.ndarray | None, tint: tuple[int, int, int],
          dim: float, *, every_pixel: bool = False) -> Image.Image:
    """The colour image scaled to :data:`TILE_WIDTH`, dimmed by ``dim``, with ``mask`` (over
    the depth image, resized to the tile) painted in ``tint``. ``every_pixel``: a tile pixel
    is in the mask when any mask pixel it covers is (a sparse mask's single pixels stay
    visible), else when most are."""
    h, w = color.shape[:2]
    size = (TILE_WIDTH, max(1, round(h * TILE_WIDTH / w)))
    image = np.asarray(Image.fromarray(color).resize(size, Image.BILINEAR), np.float32) * dim
    if mask is not None:
        cover = np.asarray(Image.fromarray(mask.astype(np.float32)).resize(size, Image.BOX))
        m = cover > 0 if every_pixel else cover >= 0.5
        image[m] = 0.3 * image[m] + 0.7 * np.array(tint, np.float32)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def teacher_views_picture(pv: ProposalViews) -> Image.Image:
    """One row per selected view — the frame, the sparse mask (red), the dense mask (blue)
    with the view's label — under a header with the vote."""
    agree = sum(v.label == pv.label for v in pv.views)
    header = (f"{pv.scene}, proposal {pv.proposal} ({pv.num_points} points): vote -> "
              f"{pv.name(pv.label)!r} ({agree} of {len(pv.views)} views)")
    width = 3 * TILE_WIDTH + 2 * 6
    parts = [caption(header, width),
             side_by_side([caption(t, TILE_WIDTH, size=13) for t in
                           ("selected frame", "sparse mask: visible points' pixels",
                            "completed dense mask (pooled by CLIP)")])]
    if not pv.views:
        parts.append(caption("no usable view: the proposal is visible in no frame", width))
    for view in pv.views:
        dense = _tile(view.color, view.dense, DENSE_COLOR, 0.8)
        text = (f"label {pv.name(view.label)!r} cos {view.similarity:.2f}"
                if view.label >= 0 else "no embedding")
        ImageDraw.Draw(dense).rectangle([0, 0, TILE_WIDTH, 22], fill=(0, 0, 0))
        ImageDraw.Draw(dense).text((6, 4), text, fill=(255, 255, 255), font=font(14),
                                   anchor="lt")
        frame = _tile(view.color, None, (0, 0, 0), 1.0)
        ImageDraw.Draw(frame).text(
            (6, 4), f"frame {view.frame_id}: {view.visible_points} visible points",
            fill=(255, 255, 255), font=font(13), anchor="lt", stroke_width=2,
            stroke_fill=(0, 0, 0))
        parts.append(side_by_side([frame, _tile(view.color, view.sparse, SPARSE_COLOR, 0.35, every_pixel=True), dense]))
    return stack_vertically(parts)
