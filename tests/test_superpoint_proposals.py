"""Proposals by superpoint merging (folk.proposals.superpoint_merging) and `folk proposals`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from folk import cli
from folk.data.ply import write_ply
from folk.errors import FolkInputError
from folk.ops import mesh_superpoints, point_superpoints
from folk.ops.superpoints import orient_normals, pca_normals, point_neighbours
from folk.proposals import load_scene_proposals
from folk.proposals.cli import ORIENTED_K_THRESH, POINT_K_THRESH, merged_proposals
from folk.proposals.superpoint_merging import (
    Contacts,
    SegmentStats,
    SuperpointMergingConfig,
    superpoint_proposals,
    turn_up,
)

ROOT = Path(__file__).resolve().parents[1]
#: A real ScanNet scan and ScanNet's label map, on the developers' machines only.
REAL = ROOT / "../shared/data/real"

STEP = 0.04  # grid spacing of the toy scenes (metres)


def _grid(origin, u, v, nu: int, nv: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of a regular grid ``origin + i·u + j·v``."""
    i, j = np.meshgrid(np.arange(nu + 1), np.arange(nv + 1), indexing="ij")
    verts = np.asarray(origin) + i.reshape(-1, 1) * np.asarray(u) + j.reshape(-1, 1) * np.asarray(v)
    idx = np.arange((nu + 1) * (nv + 1)).reshape(nu + 1, nv + 1)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                           np.stack([a, c, d], -1).reshape(-1, 3)])
    return verts, tris


def _box(corner, size: int, height: int):
    """The five visible faces of an axis-aligned box (cells of STEP), outward-facing."""
    x, y = corner
    s, h = size * STEP, height * STEP
    ex, ey, ez = (STEP, 0, 0), (0, STEP, 0), (0, 0, STEP)
    return [
        ((x, y, h), ex, ey, size, size),  # top, normal +z
        ((x, y, 0), ex, ez, size, height),  # side y = y0, normal -y
        ((x, y + s, 0), ez, ex, height, size),  # side y = y1, normal +y
        ((x, y, 0), ez, ey, height, size),  # side x = x0, normal -x
        ((x + s, y, 0), ey, ez, size, height),  # side x = x1, normal +x
    ]


def toy_room(wall: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(vertices, faces, object id per vertex)``: a 4 m floor, two 0.6 × 0.6 × 0.5 m boxes
    standing on it 1.2 m apart (ids 1, 2; the floor and wall 0), and optionally a 2.4 m wall.
    Coincident vertices are merged, so the boxes are joined to the floor along their base."""
    parts = [(((0, 0, 0), (STEP, 0, 0), (0, STEP, 0), 100, 100), 0)]
    if wall:
        parts.append((((0, 0, 0), (0, 0, STEP), (STEP, 0, 0), 60, 100), 0))
    for label, corner in ((1, (1.2, 1.2)), (2, (2.4, 2.4))):
        parts += [(face, label) for face in _box(corner, 15, 12)]
    verts, faces, labels, offset = [], [], [], 0
    for (origin, u, v, nu, nv), label in parts:
        vv, tt = _grid(origin, u, v, nu, nv)
        verts.append(vv)
        faces.append(tt + offset)
        labels.append(np.full(vv.shape[0], label))
        offset += vv.shape[0]
    verts, faces, labels = np.concatenate(verts), np.concatenate(faces), np.concatenate(labels)
    keys = np.round(verts / STEP * 4).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    merged_labels = np.zeros(first.shape[0], dtype=np.int64)
    np.maximum.at(merged_labels, inverse, labels)
    return verts[first].astype(np.float32), inverse[faces], merged_labels


def _iou(mask: np.ndarray, other: np.ndarray) -> float:
    return float((mask & other).sum() / (mask | other).sum())


def _best_ious(masks: np.ndarray, labels: np.ndarray) -> list[float]:
    return [max(_iou(masks[:, q], labels == obj) for q in range(masks.shape[1]))
            for obj in (1, 2)]


def test_two_boxes_on_a_floor_are_two_proposals_and_the_floor_none_from_a_mesh():
    verts, faces, labels = toy_room()
    proposals = superpoint_proposals(verts, mesh_superpoints(verts, faces), faces=faces)
    assert min(_best_ious(proposals.masks, labels)) > 0.9
    assert not proposals.masks[labels == 0].any()  # floor and wall are in no proposal
    merged = [q for q in range(proposals.num_proposals)
              if proposals.masks[labels == 1, q].any() and proposals.masks[labels == 2, q].any()]
    assert not merged  # the boxes touch the floor only: no proposal joins them


def test_two_boxes_on_a_floor_are_two_proposals_from_a_bare_point_cloud():
    verts, _, labels = toy_room()
    superpoints = point_superpoints(verts, k_thresh=POINT_K_THRESH)
    proposals = superpoint_proposals(verts, superpoints)
    assert min(_best_ious(proposals.masks, labels)) > 0.9
    assert proposals.masks[labels == 0].mean() < 0.01


def test_a_shared_knn_query_gives_the_same_point_cloud_proposals():
    verts, _, _ = toy_room()
    superpoints = point_superpoints(verts, k_thresh=POINT_K_THRESH)
    alone = superpoint_proposals(verts, superpoints)
    shared = superpoint_proposals(verts, superpoints, neighbours=point_neighbours(verts, 10))
    np.testing.assert_array_equal(shared.masks, alone.masks)
    np.testing.assert_array_equal(shared.scores, alone.scores)


def test_two_boxes_on_a_floor_from_a_point_cloud_with_oriented_normals():
    verts, _, labels = toy_room()
    neighbours = point_neighbours(verts, 10)
    normals = orient_normals(verts, pca_normals(verts, neighbours), neighbours)
    superpoints = point_superpoints(verts, k_thresh=ORIENTED_K_THRESH, neighbours=neighbours,
                                    normals=normals)
    proposals = superpoint_proposals(verts, superpoints, normals=normals, oriented=True,
                                     neighbours=neighbours)
    assert min(_best_ious(proposals.masks, labels)) > 0.9
    assert proposals.masks[labels == 0].mean() < 0.01


def test_box_tops_are_not_taken_for_a_ceiling_in_a_scan_without_one():
    verts, faces, labels = toy_room(wall=False)
    proposals = superpoint_proposals(verts, mesh_superpoints(verts, faces), faces=faces)
    assert min(_best_ious(proposals.masks, labels)) > 0.9


def test_scores_lie_in_the_unit_interval_and_whole_boxes_rank_above_their_faces():
    verts, faces, labels = toy_room()
    proposals = superpoint_proposals(verts, mesh_superpoints(verts, faces), faces=faces)
    assert ((proposals.scores >= 0) & (proposals.scores <= 1)).all()
    for obj in (1, 2):
        ious = np.array([_iou(proposals.masks[:, q], labels == obj)
                         for q in range(proposals.num_proposals)])
        whole = proposals.scores[ious > 0.9].max()
        parts = proposals.scores[(ious > 0) & (ious < 0.5)]
        assert parts.size == 0 or whole > parts.max()


@pytest.mark.parametrize("convex_gain", [0.05, 0.6])
def test_an_object_that_meets_only_structure_scores_one_however_late_its_faces_join(convex_gain):
    # The score is separation (1 − the strongest edge leaving the component), not persistence:
    # with convex_gain 0.6 the box faces join only at the last threshold, 0.3 (convexity
    # leaves 0.4, the crease along their shared edge takes more), and the whole box, which
    # meets nothing but the removed floor, still ranks first.
    verts, faces, labels = toy_room()
    config = SuperpointMergingConfig(convex_gain=convex_gain)
    proposals = superpoint_proposals(verts, mesh_superpoints(verts, faces), faces=faces,
                                     config=config)
    for obj in (1, 2):
        ious = np.array([_iou(proposals.masks[:, q], labels == obj)
                         for q in range(proposals.num_proposals)])
        assert proposals.scores[ious > 0.9].max() == pytest.approx(1.0)
        assert (proposals.scores[(ious > 0) & (ious < 0.5)] < 0.9).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_contacts_pair_every_contact_with_its_superpoint_pair(seed):
    rng = np.random.default_rng(seed)
    sp = rng.integers(0, 37, size=503)
    pa, pb = rng.integers(0, 503, size=(2, 2011))
    contacts = Contacts.between(sp, pa, pb)
    between = sp[pa] != sp[pb]
    np.testing.assert_array_equal(contacts.pa, pa[between])
    np.testing.assert_array_equal(contacts.pb, pb[between])
    want = sorted({(min(sp[a], sp[b]), max(sp[a], sp[b]))
                   for a, b in zip(pa[between], pb[between])})
    np.testing.assert_array_equal(contacts.pairs, np.array(want))
    got = contacts.pairs[contacts.pair_index]
    np.testing.assert_array_equal(got.min(1), np.minimum(sp[contacts.pa], sp[contacts.pb]))
    np.testing.assert_array_equal(got.max(1), np.maximum(sp[contacts.pa], sp[contacts.pb]))


def test_boundary_normal_agreement_is_the_mean_unsigned_cosine_over_each_pairs_contacts():
    rng = np.random.default_rng(2)
    sp = rng.integers(0, 11, size=97)
    pa, pb = rng.integers(0, 97, size=(2, 301))
    normals = rng.normal(size=(97, 3)) * rng.uniform(0.1, 5.0, size=(97, 1))  # not unit
    contacts = Contacts.between(sp, pa, pb)
    unit = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    for e, (i, j) in enumerate(contacts.pairs):
        dots = [abs(unit[a] @ unit[b]) for a, b in zip(contacts.pa, contacts.pb)
                if {sp[a], sp[b]} == {i, j}]
        assert contacts.normal_agreement(normals)[e] == pytest.approx(np.mean(dots))
    flipped = normals * np.where(rng.random(97) < 0.5, -1.0, 1.0)[:, None]
    np.testing.assert_allclose(contacts.normal_agreement(flipped),
                               contacts.normal_agreement(normals))


def test_turn_up_turns_only_downward_normals_near_vertical():
    tilt = np.radians([10.0, 40.0, 50.0, 80.0])
    down = np.stack([np.sin(tilt), np.zeros(4), -np.cos(tilt)], 1)
    normal = np.concatenate([down, -down])  # four facing down, the same four facing up
    stats = SegmentStats(np.ones(8), np.zeros((8, 3)), normal.copy(), np.ones((8, 3)),
                         np.zeros((8, 3)))
    turn_up(stats, 45.0)
    want = np.concatenate([-down[:2], down[2:], -down])
    np.testing.assert_allclose(stats.normal, want)


@pytest.mark.parametrize("faces", [True, False])
def test_a_scan_of_floor_and_wall_only_has_no_proposals(faces):
    parts = [_grid((0, 0, 0), (STEP, 0, 0), (0, STEP, 0), 60, 60),
             _grid((0, 0, 0), (0, 0, STEP), (STEP, 0, 0), 50, 60)]
    verts = np.concatenate([parts[0][0], parts[1][0]]).astype(np.float32)
    tris = np.concatenate([parts[0][1], parts[1][1] + parts[0][0].shape[0]])
    if faces:
        proposals = superpoint_proposals(verts, mesh_superpoints(verts, tris), faces=tris)
    else:
        proposals = superpoint_proposals(verts, point_superpoints(verts, k_thresh=0.05))
    assert proposals.num_proposals == 0 and proposals.masks.shape == (verts.shape[0], 0)


def test_no_two_proposals_overlap_more_than_the_dedup_iou():
    verts, faces, _ = toy_room()
    config = SuperpointMergingConfig(dedup_iou=0.5)
    masks = superpoint_proposals(verts, mesh_superpoints(verts, faces), faces=faces,
                                 config=config).masks
    for a in range(masks.shape[1]):
        for b in range(a + 1, masks.shape[1]):
            assert _iou(masks[:, a], masks[:, b]) <= 0.5


def test_proposals_are_at_least_min_points_large():
    verts, faces, _ = toy_room()
    config = SuperpointMergingConfig(min_points=200)
    masks = superpoint_proposals(verts, mesh_superpoints(verts, faces), faces=faces,
                                 config=config).masks
    assert masks.shape[1] and masks.sum(axis=0).min() >= 200


@pytest.mark.parametrize("bad", [
    {"superpoints": np.zeros(5, dtype=np.int64)},  # wrong length
    {"superpoints": np.zeros(8, dtype=np.float32)},  # not integers
    {"colors": np.zeros((8, 2))},
    {"faces": np.array([[0, 1, 9]])},  # vertex index out of range
    {"points": np.full((8, 3), np.nan)},
    {"neighbours": np.full((8, 8), 8)},  # point index out of range
    {"neighbours": np.zeros((8, 2), dtype=np.int64)},  # fewer columns than config.knn
    {"normals": np.zeros((7, 3)), "oriented": True},
    {"normals": np.ones((8, 3))},  # signed or not? `oriented` must say
    {"normals": np.full((8, 3), np.inf), "oriented": False},
    {"config": SuperpointMergingConfig(boundary_normal_weight=1.5)},
    {"config": SuperpointMergingConfig(colour_weight=-0.1)},
    {"config": SuperpointMergingConfig(up_prior_angle=120.0)},
])
def test_bad_inputs_raise_a_folk_input_error(bad):
    arguments = {"points": np.random.default_rng(0).random((8, 3)),
                     "superpoints": np.zeros(8, dtype=np.int64)}
    arguments.update(bad)
    points, superpoints = arguments.pop("points"), arguments.pop("superpoints")
    with pytest.raises(FolkInputError):
        superpoint_proposals(points, superpoints, **arguments)


def _scan_folder(tmp_path: Path, name: str = "scene0001_00", faces: bool = True) -> Path:
    verts, mesh_faces, _ = toy_room()
    folder = tmp_path / "scans" / name
    folder.mkdir(parents=True)
    colors = np.full((verts.shape[0], 3), 128, dtype=np.uint8)
    write_ply(folder / f"{name}_vh_clean_2.ply", verts, colors,
              faces=mesh_faces if faces else None)
    return folder


@pytest.mark.parametrize("faces", [True, False], ids=["mesh", "point-cloud"])
def test_folk_proposals_writes_mask3d_files_that_folk_reads(tmp_path, capsys, faces):
    folder = _scan_folder(tmp_path, faces=faces)
    out = tmp_path / "proposals"
    assert cli.main(["proposals", str(folder), "--out", str(out)]) == 0
    assert "scene0001_00:" in capsys.readouterr().out
    assert (out / "scene0001_00_masks.pt").is_file()
    assert (out / "scene0001_00_scores.npy").is_file()
    proposals = load_scene_proposals(out, "scene0001_00", num_points=None)
    assert proposals.num_proposals >= 2
    assert ((proposals.scores >= 0) & (proposals.scores <= 1)).all()


def test_folk_proposals_orients_a_point_clouds_normals_on_request(tmp_path):
    folder = _scan_folder(tmp_path, faces=False)
    out = tmp_path / "proposals"
    assert cli.main(["proposals", str(folder), "--out", str(out), "--orient-normals",
                     "--quiet"]) == 0
    _verts, _, labels = toy_room()
    masks = load_scene_proposals(out, "scene0001_00").masks
    assert min(_best_ious(masks, labels)) > 0.9


def test_folk_proposals_points_a_bare_point_cloud_to_orient_normals_once(tmp_path, capsys):
    scans = [_scan_folder(tmp_path, name, faces=False) for name in ("scene0001_00",
                                                                    "scene0002_00")]
    scans.append(_scan_folder(tmp_path, "scene0003_00"))
    out = tmp_path / "proposals"
    assert cli.main(["proposals", *map(str, scans), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("--orient-normals") == 1
    assert printed.count("point cloud) in") == 2 and printed.count("mesh) in") == 1
    assert cli.main(["proposals", str(scans[0]), "--out", str(tmp_path / "again"),
                     "--orient-normals"]) == 0
    assert "note:" not in capsys.readouterr().out


def test_folk_proposals_uses_the_scenes_superpoints_file(tmp_path):
    folder = _scan_folder(tmp_path)
    _verts, _, labels = toy_room()
    np.save(folder / "scene0001_00_superpoints.npy", labels)  # one superpoint per object
    out = tmp_path / "proposals"
    assert cli.main(["proposals", str(folder), "--out", str(out), "--quiet"]) == 0
    masks = load_scene_proposals(out, "scene0001_00").masks
    assert max(_iou(masks[:, q], labels == 1) for q in range(masks.shape[1])) == 1.0


def test_folk_proposals_geometric_method_writes_files_too(tmp_path):
    folder = _scan_folder(tmp_path)
    out = tmp_path / "proposals"
    assert cli.main(["proposals", str(folder), "--out", str(out), "--method", "geometric",
                     "--quiet"]) == 0
    assert load_scene_proposals(out, "scene0001_00").num_proposals >= 1


def test_folk_proposals_geometric_method_names_a_mesh_a_mesh(tmp_path, capsys):
    folder = _scan_folder(tmp_path)
    assert cli.main(["proposals", str(folder), "--out", str(tmp_path / "p"), "--method",
                     "geometric"]) == 0
    assert "(geometric, mesh) in" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["missing scan", "out is a file", "not a ply",
                                  "bad superpoints"])
def test_folk_proposals_bad_input_exits_2_with_one_line(tmp_path, capsys, case):
    folder = _scan_folder(tmp_path)
    out = tmp_path / "proposals"
    scan = str(folder)
    if case == "missing scan":
        scan = str(tmp_path / "nowhere")
    elif case == "out is a file":
        out.write_text("x")
    elif case == "not a ply":
        scan = str(tmp_path / "scan.txt")
        Path(scan).write_text("x")
    else:
        np.save(folder / "scene0001_00_superpoints.npy", np.zeros(3, dtype=np.int64))
    assert cli.main(["proposals", scan, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("folk proposals: error:") and len(err.splitlines()) == 1


@pytest.mark.skipif(not (REAL / "scene0000_00").is_dir(),
                    reason="the real ScanNet scan is not on this machine")
@pytest.mark.parametrize("source", ["mesh", "points, oriented normals"])
def test_the_real_scan_reaches_the_issue_goal(source):
    from folk.data.ply import read_ply_faces, read_ply_vertices
    from folk.data.scannet_gt import read_annotation, read_label_map
    from folk.evaluation import evaluate
    from folk.predict.instances import InstancePrediction

    scan = REAL / "scene0000_00"
    mesh = scan / "scene0000_00_vh_clean_2.ply"
    v = read_ply_vertices(mesh)
    points = np.stack([v["x"], v["y"], v["z"]], 1)
    colors = np.stack([v["red"], v["green"], v["blue"]], 1)
    faces = read_ply_faces(mesh) if source == "mesh" else np.zeros((0, 3), dtype=np.int64)
    proposals = merged_proposals(points.astype(np.float32), colors, faces,
                                 orient_normals=source != "mesh")
    ann = read_annotation(scan / "scene0000_00.aggregation.json",
                          scan / "scene0000_00_vh_clean_2.0.010000.segs.json", points.shape[0])
    label = ann.scannet_ids(read_label_map(REAL / "scannetv2-labels.combined.tsv"))
    keep = (ann.group >= 0) & ~np.isin(label, (1, 3, 41))  # not wall, floor, ceiling
    gt = np.where(keep, 2000 + ann.group + 1, 0)  # every object one class ("chair", id 2)
    pred = InstancePrediction(proposals.masks, np.full(proposals.num_proposals, 2),
                              proposals.scores)
    result = evaluate({"scene0000_00": gt}, {"scene0000_00": pred})
    assert result.ap50 >= 0.30 and result.ap25 >= 0.50
