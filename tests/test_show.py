"""``folk show``: the renderer (projection, z-test), instance colours shared by prediction and
GT, labels drawn at the instances, the PNG / PLY files, the teacher views of one proposal (the
teacher's own views and labels), and bad command lines (exit 2, one line)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from folk.cli import main
from folk.data import GroundTruth, read_ply_vertices, write_ply
from folk.data.scene import Intrinsics
from folk.errors import FolkInputError
from folk.files import write_text
from folk.predict.instances import InstancePrediction
from folk.predict.submission import write_submission
from folk.show.drawing import Label, draw_labels, visible_anchors
from folk.show.palette import PALETTE, assign_colors, match_instances, palette_color
from folk.show.render import Camera, look_at, point_spacing, render_points, top_down_camera
from folk.show.scene_outputs import ClassNames, write_scene_outputs
from folk.show.scene_picture import (
    PANEL_SIZE,
    LabelledInstances,
    ScenePoints,
    render_panel,
    scene_cameras,
    scene_picture,
)
from folk.show.scene_ply import similarity_colors, write_similarity_ply

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _camera_at_origin(width: int = 40, height: int = 30) -> Camera:
    """Looking down +z from the origin, image x = world x, image y = world y."""
    rotation = look_at(np.zeros(3), np.array([0.0, 0.0, 1.0]), np.array([0.0, -1.0, 0.0]))
    return Camera(rotation, np.zeros(3), Intrinsics(10.0, 10.0, 20.0, 15.0, width, height))


def test_a_point_lands_on_its_projected_pixel_in_its_colour():
    camera = _camera_at_origin()
    point = np.array([[0.5, -0.3, 2.0]])  # u = 10*0.5/2 + 20 = 22.5, v = 10*-0.3/2 + 15 = 13.5
    out = render_points(camera, point, np.array([RED], np.uint8), radius=0, fill_holes=0)
    assert tuple(out.image[13, 22]) == RED and out.index[13, 22] == 0
    drawn = np.argwhere(out.index >= 0)
    assert drawn.tolist() == [[13, 22]]
    assert tuple(out.image[0, 0]) == (255, 255, 255)


def test_the_nearer_of_two_points_on_one_pixel_wins_the_z_test():
    camera = _camera_at_origin()
    points = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 2.0]])  # same ray, the second nearer
    for order in ([0, 1], [1, 0]):
        colors = np.array([RED, BLUE], np.uint8)
        out = render_points(camera, points[order], colors[order], radius=2, fill_holes=0)
        assert tuple(out.image[15, 20]) == BLUE
        assert order[out.index[15, 20]] == 1


def test_points_behind_the_camera_are_not_drawn():
    out = render_points(_camera_at_origin(), np.array([[0.0, 0.0, -2.0]]),
                        np.array([RED], np.uint8), radius=3)
    assert (out.index < 0).all()


def test_top_down_camera_frames_the_whole_scene():
    rng = np.random.default_rng(0)
    points = rng.uniform([0, 0, 0], [5, 3, 2], size=(500, 3))
    camera = top_down_camera(points, 200, 150)
    u, v, z = camera.project(points)
    assert (z > 0).all() and (u >= 0).all() and (u < 200).all() and (v >= 0).all()
    assert (v < 150).all()
    # +x to the right, +y up in the picture
    assert u[points[:, 0].argmax()] > u[points[:, 0].argmin()]
    assert v[points[:, 1].argmax()] < v[points[:, 1].argmin()]


def test_greedy_matching_takes_the_highest_iou_first_and_stops_below_half():
    gt = np.zeros((10, 2), bool)
    gt[:4, 0], gt[4:8, 1] = True, True
    pred = np.zeros((10, 3), bool)
    pred[:3, 0] = True  # IoU 0.75 with GT 0
    pred[:4, 1] = True  # IoU 1.0 with GT 0: wins it
    pred[7:10, 2] = True  # IoU 1/6 with GT 1: no match
    assert match_instances(pred, gt).tolist() == [-1, 0, -1]


def _two_objects() -> tuple[ScenePoints, LabelledInstances, LabelledInstances]:
    """A floor with two boxes; the prediction lists the GT's objects in the other order."""
    rng = np.random.default_rng(1)
    floor = np.c_[rng.uniform(0, 4, (3000, 2)), np.zeros(3000)]
    box_a = rng.uniform([0.5, 0.5, 0], [1.2, 1.2, 0.8], (800, 3))
    box_b = rng.uniform([2.6, 2.4, 0], [3.4, 3.3, 0.8], (800, 3))
    points = np.concatenate([floor, box_a, box_b]).astype(np.float32)
    n = points.shape[0]
    a, b = np.zeros(n, bool), np.zeros(n, bool)
    a[3000:3800], b[3800:] = True, True
    scene = ScenePoints("scene0007_00", points, np.full((n, 3), 200, np.uint8))
    gt = LabelledInstances(np.c_[a, b], ("chair", "table"))
    pred = LabelledInstances(np.c_[b, a], ("table", "chair"), np.array([0.9, 0.8]))
    return scene, pred, gt


def test_a_matched_instance_has_one_colour_in_prediction_and_ground_truth():
    scene, pred, gt = _two_objects()
    colors = assign_colors(pred.masks, gt.masks)
    assert colors.match.tolist() == [1, 0]
    assert colors.pred.tolist() == [colors.gt[1], colors.gt[0]]
    picture = np.asarray(scene_picture(scene, pred, gt))
    # the table (GT instance 1, prediction 0) shows in its colour in both columns
    table = np.array(palette_color(colors.gt[1]))
    half = picture.shape[1] // 2
    for column in (picture[:, :half], picture[:, half:]):
        near = np.abs(column.astype(int) - table).sum(axis=2) < 60
        assert near.sum() > 200


def test_unmatched_predictions_get_colours_no_gt_instance_has():
    _, pred, gt = _two_objects()
    lonely = LabelledInstances(np.c_[pred.masks, np.zeros(pred.masks.shape[0], bool)],
                               (*pred.names, "lamp"), np.array([0.9, 0.8, 0.5]))
    lonely.masks[:10, 2] = True
    colors = assign_colors(lonely.masks, gt.masks)
    assert colors.pred[2] not in colors.gt.tolist()


def test_a_label_anchor_is_the_visible_pixel_nearest_the_centroid():
    owner = np.full((60, 80), -1)
    owner[30:50, 20:40] = 0  # a square: centroid (29.5, 39.5)
    owner[0:20, 0:4] = 1  # an L shape whose centroid lies outside it
    owner[16:20, 0:30] = 1
    owner[55:57, 70:72] = 2  # too small to label
    anchors = visible_anchors(owner, 3)
    assert set(anchors) == {0, 1}
    x, y = anchors[0]
    assert abs(x - 29.5) <= 0.5 and abs(y - 39.5) <= 0.5
    x, y = anchors[1]
    assert owner[y, x] == 1


def test_a_label_is_drawn_above_its_anchor():
    image = Image.new("RGB", (120, 80), (255, 255, 255))
    draw_labels(image, [Label("chair", 60, 50, PALETTE[0])])
    changed = (np.asarray(image) != 255).any(axis=2)
    assert changed[25:50, 40:80].sum() > 100  # the box and its text
    assert not changed[:, :20].any() and not changed[60:].any()


def test_labels_that_would_overlap_are_moved_apart():
    image = Image.new("RGB", (200, 200), (255, 255, 255))
    draw_labels(image, [Label("chair", 100, 100, PALETTE[0]), Label("table", 100, 102,
                                                                      PALETTE[1])])
    pixels = np.asarray(image).astype(int)
    first = (np.abs(pixels - PALETTE[0]).sum(axis=2) == 0).sum()
    second = (np.abs(pixels - PALETTE[1]).sum(axis=2) == 0).sum()
    assert first > 100 and second > 100  # neither box hides the other


def test_each_label_is_drawn_near_its_instance():
    scene, pred, _ = _two_objects()
    camera = scene_cameras(scene.points)[0][1]
    spacing = point_spacing(scene.points)
    colors = np.arange(2)
    named = np.asarray(render_panel(scene, camera, pred, colors, "", 13, spacing))
    nameless = LabelledInstances(pred.masks, ("", ""), pred.confidences)
    plain = np.asarray(render_panel(scene, camera, nameless, colors, "", 13, spacing))
    changed = (named != plain).any(axis=2)
    for k in range(2):
        u, v, _ = camera.project(scene.points[pred.masks[:, k]])
        x, y = int(u.mean()), int(v.mean())
        assert changed[y - 30:y + 5, x - 30:x + 30].sum() > 30  # the text, above the anchor
    assert not changed[:, :40].any()  # and nowhere far from the instances


def test_scene_outputs_are_a_png_and_plys_of_every_point(tmp_path):
    scene, _, _ = _two_objects()
    n = scene.points.shape[0]
    masks = np.zeros((n, 2), bool)
    masks[3000:3800, 0], masks[3800:, 1] = True, True
    pred = InstancePrediction(masks, np.array([5, 7]), np.array([0.9, 0.6]))
    ids = np.zeros(n, np.int64)
    ids[3000:3800], ids[3800:] = 5 * 1000 + 1, 7 * 1000 + 2
    ids[:3000] = 2 * 1000 + 3  # a floor instance: not a benchmark class, drawn unlabelled
    names = ClassNames({5: "chair", 7: "table", 2: "floor"}, frozenset({5, 7}))
    paths = write_scene_outputs(tmp_path, scene, pred, GroundTruth(ids), names)
    assert [p.name for p in paths] == ["scene0007_00.png", "scene0007_00_pred.ply",
                                       "scene0007_00_gt.ply"]
    with Image.open(paths[0]) as picture:
        assert picture.width == 2 * PANEL_SIZE[0] + 6
        assert picture.height > 2 * PANEL_SIZE[1]
    for ply in paths[1:]:
        vertices = read_ply_vertices(ply)
        assert vertices["x"].shape[0] == n
        assert len({tuple(c) for c in np.c_[vertices["red"], vertices["green"],
                                            vertices["blue"]][3000:]}) == 2
    gt_ply = read_ply_vertices(paths[2])
    gt_rgb = np.stack([gt_ply[k][:3000] for k in ("red", "green", "blue")], axis=1)
    assert (gt_rgb[:, 0] == gt_rgb[:, 1]).all()  # the floor stays grey


def test_similarity_ply_colours_the_most_similar_instance_warmest(tmp_path):
    points = np.random.default_rng(2).uniform(size=(30, 3))
    masks = np.zeros((30, 2), bool)
    masks[:10, 0], masks[10:20, 1] = True, True
    path = write_similarity_ply(tmp_path / "q.ply", points, np.zeros((30, 3), np.uint8), masks,
                                np.array([0.1, 0.3]))
    v = read_ply_vertices(path)
    assert v["x"].shape[0] == 30
    assert v["red"][15] > v["red"][5] and v["blue"][5] > v["blue"][15]
    assert similarity_colors(np.array([0.0, 1.0])).tolist() == [[40, 40, 120], [220, 30, 30]]


# ---- the command line ------------------------------------------------------------------------

#: The scene name of ``_scan``'s PLY (``<scene>_vh_clean_2.ply``), as every command names it.
SCENE = "scene0001_00"


def _scan(tmp_path, n=300):
    rng = np.random.default_rng(3)
    root = tmp_path / "scene0001_00"
    root.mkdir()
    points = rng.uniform(0, 2, (n, 3)).astype(np.float32)
    write_ply(root / "scene0001_00_vh_clean_2.ply", points, np.full((n, 3), 90, np.uint8))
    return root / "scene0001_00_vh_clean_2.ply", points


def test_folk_show_writes_the_picture_and_plys_and_prints_their_paths(tmp_path, capsys):
    ply, points = _scan(tmp_path)
    masks = np.zeros((points.shape[0], 1), bool)
    masks[:100] = True
    write_submission(tmp_path / "pred", SCENE, InstancePrediction(
        masks, np.array([5]), np.array([0.7])))
    ids = np.where(masks[:, 0], 5001, 0)
    write_text(tmp_path / "gt" / f"{SCENE}.txt", "".join(f"{i}\n" for i in ids))
    code = main(["show", "--scan", str(ply), "--pred", str(tmp_path / "pred"),
                 "--gt", str(tmp_path / "gt"), "--out", str(tmp_path / "out")])
    assert code == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "out" / f"{SCENE}{s}")
                       for s in (".png", "_pred.ply", "_gt.ply")]
    assert all((tmp_path / "out" / p).is_file() for p in printed)


def test_min_confidence_leaves_out_less_confident_predictions(tmp_path, capsys):
    ply, points = _scan(tmp_path)
    masks = np.zeros((points.shape[0], 2), bool)
    masks[:100, 0], masks[100:200, 1] = True, True
    write_submission(tmp_path / "pred", SCENE, InstancePrediction(
        masks, np.array([5, 7]), np.array([0.9, 0.3])))
    assert main(["show", "--scan", str(ply), "--pred", str(tmp_path / "pred"),
                 "--min-confidence", "0.5", "--out", str(tmp_path / "out")]) == 0
    v = read_ply_vertices(tmp_path / "out" / f"{SCENE}_pred.ply")
    rgb = np.stack([v[k] for k in ("red", "green", "blue")], axis=1)
    assert tuple(rgb[0]) == PALETTE[0]
    assert (rgb[100:, 0] == rgb[100:, 1]).all()  # the 0.3 instance is left out: grey


@pytest.mark.parametrize("case", ["missing pred folder", "out is a file", "pred without scene",
                                  "nothing to show", "proposal without vocabulary"])
def test_folk_show_bad_input_exits_2_with_one_line(tmp_path, capsys, case):
    ply, _ = _scan(tmp_path)
    (tmp_path / "pred").mkdir()
    out = tmp_path / "out"
    argv = ["show", "--scan", str(ply), "--pred", str(tmp_path / "pred"), "--out", str(out)]
    if case == "missing pred folder":
        argv[4] = str(tmp_path / "nowhere")
    elif case == "out is a file":
        out.write_text("mine\n")
    elif case == "nothing to show":
        argv = ["show", "--scan", str(ply), "--out", str(out)]
    elif case == "proposal without vocabulary":
        argv += ["--proposals", str(ply), "--proposal", "0"]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("folk show: error: ")
    assert "Traceback" not in err
    if case == "out is a file":
        assert out.read_text() == "mine\n"


def test_a_wrong_point_count_names_the_prediction_file(tmp_path, capsys):
    ply, points = _scan(tmp_path)
    write_submission(tmp_path / "pred", SCENE, InstancePrediction(
        np.ones((points.shape[0] + 1, 1), bool), np.array([5]), np.array([0.7])))
    assert main(["show", "--scan", str(ply), "--pred", str(tmp_path / "pred"),
                 "--out", str(tmp_path / "out")]) == 2
    assert "pred_mask" in capsys.readouterr().err


def test_class_names_fall_back_to_the_label_id():
    assert ClassNames({}, frozenset()).name(42) == "id 42"


def test_labelled_instances_need_a_name_per_instance():
    with pytest.raises(FolkInputError, match="names"):
        LabelledInstances(np.zeros((4, 2), bool), ("chair",))


# ---- the teacher's views of one proposal ----------------------------------------------------

@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from folk.synthetic import generate_scene

    out = tmp_path_factory.mktemp("synth")
    return generate_scene(out, seed=2002, preset="small", progress=False, n_frames=12)


def test_teacher_views_are_the_teachers_own_views_and_labels(synth, tmp_path):
    from folk.data import read_proposals, read_scene
    from folk.show.teacher_views import TILE_WIDTH, proposal_views, teacher_views_picture
    from folk.synthetic import VOCABULARY
    from folk.teacher.config import ClipConfig, TeacherConfig
    from folk.teacher.pipeline import Teacher

    scene = read_scene(synth.root, stride=1)
    proposals = read_proposals(synth.masks_path, num_points=scene.num_points)
    teacher = Teacher(TeacherConfig(clip=ClipConfig(text_cache_dir=str(tmp_path / "t"))),
                      list(VOCABULARY))
    targets = teacher.run(scene, proposals)
    q = int(np.argmax((targets.view_ids >= 0).sum(axis=1)))
    views = proposal_views(teacher, scene, proposals, q)
    kept = targets.view_ids[q][targets.view_ids[q] >= 0].tolist()
    assert [v.frame_id for v in views.views] == kept
    assert [v.label for v in views.views] == targets.view_labels[q][:len(kept)].tolist()
    assert views.label == targets.labels[q]
    for view in views.views:
        assert view.sparse.any() and (view.dense >= view.sparse).all()
        assert view.dense.sum() > view.sparse.sum()  # completion fills between the points
    picture = teacher_views_picture(views)
    assert picture.width == 3 * TILE_WIDTH + 12
    assert picture.height > len(kept) * 200
    with pytest.raises(FolkInputError, match="does not exist"):
        proposal_views(teacher, scene, proposals, proposals.num_proposals)


# ---- folk query --ply: the points coloured by similarity to a query -------------------------

def test_query_ply_colours_the_best_match_warmest_and_the_rest_grey(tmp_path, capsys):
    from distill_toy import CLASSES, make_toy

    info = make_toy(tmp_path, ["a", "v"])
    n = 10 * 20 + 7
    (tmp_path / "scans").mkdir()
    write_ply(tmp_path / "scans" / "v.ply", np.random.default_rng(4).uniform(size=(n, 3)),
              np.full((n, 3), 128, np.uint8))
    assert main(["distill", "--targets", str(tmp_path / "targets"), "--features",
                 str(tmp_path / "features"), "--proposals", str(tmp_path / "proposals"),
                 "--scenes-val", "v", "--out", str(tmp_path / "ckpt"), "--epochs", "10",
                 "--batch-proposals", "8", "--hidden", "32", "--quiet", "--device", "cpu"]) == 0
    capsys.readouterr()  # distill's summary
    query = CLASSES[info["classes"]["v"][1]]
    ply = tmp_path / "pictures" / "v_query.ply"
    assert main(["query", query, "--scene", "v", "--features", str(tmp_path / "features"),
                 "--proposals", str(tmp_path / "proposals"), "--scans", str(tmp_path / "scans"),
                 "--checkpoint", str(tmp_path / "ckpt"), "--json", "--ply", str(ply)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ply"] == str(ply)
    v = read_ply_vertices(ply)
    assert v["x"].shape[0] == n
    rgb = np.stack([v[k] for k in ("red", "green", "blue")], axis=1).astype(int)
    best = out["instances"][0]["proposal"]  # the toy's proposal q is points 20q .. 20q+19
    assert (rgb[20 * best:20 * best + 20] == [220, 30, 30]).all()  # the ramp's warm end
    assert (rgb[-7:, 0] == rgb[-7:, 1]).all()  # points of no proposal stay grey


def test_query_ply_without_scans_is_refused(tmp_path, capsys):
    from distill_toy import make_toy

    make_toy(tmp_path, ["v"])
    code = main(["query", "chair", "--scene", "v", "--features", str(tmp_path / "features"),
                 "--proposals", str(tmp_path / "proposals"), "--checkpoint",
                 str(tmp_path / "ckpt"), "--ply", str(tmp_path / "q.ply")])
    assert code == 2 and "--ply needs --scans" in capsys.readouterr().err
