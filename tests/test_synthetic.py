"""Synthetic scene generator: layout on disk, determinism, vocabulary, placement, and that the
rendered frames agree with the points and GT (the property every other test relies on)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from folk.data import read_ground_truth, read_ply_vertices, read_proposals, read_scene
from folk.errors import FolkInputError
from folk.synthetic import (
    PRESETS,
    STRUCTURE_IDS,
    VOCABULARY,
    VOCABULARY_IDS,
    build_scene,
    generate_scene,
    get_config,
    shapes,
)
from folk.synthetic.layout import rect_corners, rect_distance, rects_intersect
from folk.synthetic.render import Renderer

SEED = 7


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """One full small-preset scene (100 frames), shared by the module."""
    out = tmp_path_factory.mktemp("synth")
    return generate_scene(out, seed=SEED, preset="small", progress=False)


def _bytes(path: Path) -> bytes:
    return Path(path).read_bytes()


# ----------------------------------------------------------------------------- files
def test_writes_the_scannet_layout(small):
    root = small.root
    assert small.name == f"synth{SEED:04d}_00" and root.name == small.name
    assert small.ply_path == root / f"{small.name}_vh_clean_2.ply"
    n = small.n_frames
    assert n == PRESETS["small"].n_frames == 100
    for sub, suffix in (("color", ".jpg"), ("depth", ".png"), ("instance", ".png"),
                        ("pose", ".txt")):
        names = sorted(p.name for p in (root / sub).iterdir())
        assert names == sorted(f"{i}{suffix}" for i in range(n)), sub
    for f in ("intrinsic_color.txt", "intrinsic_depth.txt"):
        assert np.loadtxt(root / "intrinsic" / f).shape == (4, 4)
    assert Image.open(root / "color" / "0.jpg").size == (640, 480)
    assert small.gt_path == root.parent / "gt" / f"{small.name}.txt"
    assert small.masks_path.name == f"{small.name}_masks.pt"
    assert small.scores_path.name == f"{small.name}_scores.npy"
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_reader_sees_the_scene_with_exact_intrinsics(small):
    cfg = PRESETS["small"]
    scene = read_scene(small.root, dataset="scannet", stride=1)
    assert len(scene.frames) == small.n_frames and len(scene.points) == small.n_points
    for k in (scene.frames[0].depth_intrinsics, scene.frames[0].color_intrinsics):
        assert (k.width, k.height) == (640, 480)
        np.testing.assert_allclose([k.fx, k.fy, k.cx, k.cy], [cfg.fx, cfg.fy, cfg.cx, cfg.cy],
                                   rtol=1e-6)
    pose = scene.frames[3].pose
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-6)
    assert cfg.camera_height[0] - 1e-6 <= pose[2, 3] <= cfg.camera_height[1] + 1e-6


def test_point_gt_and_proposal_lengths_agree(small):
    n = small.n_points
    vertices = read_ply_vertices(small.ply_path)
    assert len(vertices["x"]) == n and {"red", "green", "blue", "nx"} <= vertices.keys()
    gt = read_ground_truth(small.gt_path, num_points=n)
    meta = json.loads(small.meta_path.read_text())
    objects = meta["objects"]
    masks = torch.load(small.masks_path, weights_only=False)
    assert isinstance(masks, np.ndarray) and masks.dtype == np.float16
    assert masks.shape == (n, len(objects)) == (n, small.n_objects)
    assert set(np.unique(masks).tolist()) <= {0.0, 1.0}
    scores = np.load(small.scores_path)
    assert scores.shape == (len(objects),) and (scores == 1).all()
    proposals = read_proposals(small.masks_path, num_points=n, scores_path=small.scores_path,
                               allow_pickle=True)
    assert proposals.num_proposals == len(objects)
    # every column is exactly one GT object instance; walls and floor are not proposals
    for q, obj in enumerate(objects):
        np.testing.assert_array_equal(masks[:, q] == 1, gt.ids == obj["gt_code"])
        assert obj["gt_code"] == VOCABULARY_IDS[obj["class_name"]] * 1000 + obj["instance_id"]
        assert obj["n_points"] >= 100
    labels = set((gt.ids // 1000).tolist())
    assert {STRUCTURE_IDS["wall"], STRUCTURE_IDS["floor"]} <= labels
    assert (gt.ids >= 1000).all()


def test_meta_describes_the_scene(small):
    meta = json.loads(small.meta_path.read_text())
    assert meta["seed"] == SEED and meta["preset"] == "small"
    assert meta["generator_version"]
    assert [v["class_name"] for v in meta["vocabulary"]] == list(VOCABULARY)
    ids = [o["instance_id"] for o in meta["structure"] + meta["objects"]]
    assert len(ids) == len(set(ids)) == small.n_instances
    assert {o["class_name"] for o in meta["structure"]} == {"wall", "floor"}
    assert PRESETS["small"].n_objects[0] <= len(meta["objects"]) <= PRESETS["small"].n_objects[1]


def test_depth_and_instance_pngs_round_trip_as_uint16(small):
    built = build_scene(SEED, "small")
    renderer = Renderer(built.geometry, built.cfg, SEED)
    cast = renderer.cast(built.poses[:1])
    frame = renderer.frame(0, built.poses[0], cast["t"][0], cast["tri"][0], cast["uv"][0],
                           cast["dirs"][0])
    depth = np.array(Image.open(small.root / "depth" / "0.png"))
    instance = np.array(Image.open(small.root / "instance" / "0.png"))
    assert depth.dtype == np.uint16 and instance.dtype == np.uint16
    np.testing.assert_array_equal(depth, frame.depth)
    np.testing.assert_array_equal(instance, frame.instance)
    assert depth.max() > 1000 and 0.0 < (depth == 0).mean() < 0.2  # mm, a few holes
    np.testing.assert_allclose(np.loadtxt(small.root / "pose" / "0.txt"), built.poses[0],
                               atol=1e-8)


# ----------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_bytes(small, tmp_path):
    # the frame count changes only the camera poses: points, GT and proposals stay identical
    a = generate_scene(tmp_path / "a", seed=SEED, n_frames=2, progress=False)
    b = generate_scene(tmp_path / "b", seed=SEED, n_frames=2, progress=False)
    for path in ("ply_path", "gt_path", "masks_path", "scores_path"):
        assert _bytes(getattr(a, path)) == _bytes(getattr(small, path)), path
    for rel in ("color/1.jpg", "depth/1.png", "instance/1.png", "pose/1.txt"):
        assert _bytes(a.root / rel) == _bytes(b.root / rel), rel


def test_different_seeds_differ(small):
    other = generate_scene(small.root.parent / "other", seed=SEED + 1, n_frames=1,
                           progress=False)
    assert _bytes(other.ply_path) != _bytes(small.ply_path)
    assert _bytes(other.gt_path) != _bytes(small.gt_path)


def test_overrides_and_presets():
    assert get_config("small", n_frames=5).n_frames == 5
    with pytest.raises(FolkInputError):
        get_config("small", no_such_field=1)
    with pytest.raises(FolkInputError):
        get_config("nope")
    big = PRESETS["scannet"]
    assert big.n_frames >= 1000 and big.n_objects[0] >= 100


# ----------------------------------------------------------------------------- vocabulary
def test_vocabulary_is_scannet200():
    ids = json.loads((Path(__file__).parents[1] / "python/folk/data/resources/scannet200.json")
                     .read_text())
    table = dict(zip(ids["class_names"], ids["class_ids"]))
    assert len(VOCABULARY) >= 12 and len(set(VOCABULARY)) == len(VOCABULARY)
    assert "plant" in VOCABULARY
    for name in VOCABULARY:
        assert VOCABULARY_IDS[name] == table[name]
    assert STRUCTURE_IDS == {"wall": 1, "floor": 3}
    assert set(shapes.GRAMMARS) == set(VOCABULARY)


@pytest.mark.parametrize("name", VOCABULARY)
def test_every_grammar_builds_sane_models(name):
    rng = np.random.default_rng(0)
    for limit in (None, (0.3, 0.25)):
        if limit is None and shapes.FLOOR_PLACEMENT[name] is None:
            continue
        for _ in range(5):
            m = shapes.build(name, rng, limit)
            v = m.mesh.vertices
            assert np.isfinite(v).all() and len(m.mesh.triangles) > 0
            assert abs(v[:, 2].min()) < 1e-9 and m.height > 0.02
            np.testing.assert_allclose((v[:, :2].min(0) + v[:, :2].max(0)) / 2, 0, atol=1e-9)
            assert m.mesh.triangles.max() < len(v)
            assert m.mesh.colors.shape == (len(m.mesh.triangles), 3)
            assert ((m.mesh.colors >= 0) & (m.mesh.colors <= 1)).all()


def test_every_class_appears_across_a_few_seeds():
    seen = set()
    for seed in range(8):
        seen |= {p.class_name for p in build_scene(seed, "small", n_frames=0).layout.objects}
    assert seen == set(VOCABULARY)


def test_placed_objects_do_not_intersect():
    for seed in range(5):
        built = build_scene(seed, "small", n_frames=0)
        X, Y, _ = built.size
        objects = built.layout.objects
        floor = [p for p in objects if p.support is None]
        for p in objects:
            assert (p.footprint >= 0).all() and (p.footprint[:, 0] <= X).all()
            assert (p.footprint[:, 1] <= Y).all()
        for i, a in enumerate(floor):
            for b in floor[i + 1:]:
                assert not rects_intersect(a.footprint, b.footprint), (seed, a.index, b.index)
        by_index = {p.index: p for p in objects}
        for i, a in enumerate(objects):
            if a.support is None:
                continue
            sup = by_index[a.support]
            # stands on one of its support's surfaces, inside the support's footprint
            assert any(np.isclose(a.base_z, sup.translation[2] + s.z)
                       for s in sup.model.surfaces)
            d = rect_distance(a.footprint, *sup.translation[:2], *sup.model.half, sup.yaw)
            assert d.max() < 1e-6
            for b in objects[i + 1:]:
                if b.support == a.support:
                    assert not rects_intersect(a.footprint, b.footprint)


def test_rects_intersect_basics():
    a = rect_corners(0, 0, 1, 1, 0.0)
    assert rects_intersect(a, rect_corners(1.5, 0, 1, 1, 0.3))
    assert not rects_intersect(a, rect_corners(2.5, 0, 1, 1, 0.0))
    assert not rects_intersect(a, rect_corners(2.3, 2.3, 1, 1, np.pi / 4))


# ----------------------------------------------------------------------------- consistency
def test_frames_agree_with_points_and_gt(small):
    """Project the GT points into every frame (pose + depth intrinsics, pixel (floor u,
    floor v)); of the points the depth says are visible (|depth - z| <= 5 cm), >= 95% must
    land on pixels whose rendered instance is theirs; their colours must match too."""
    scene = read_scene(small.root, dataset="scannet", stride=1)
    gt = read_ground_truth(small.gt_path, num_points=len(scene.points))
    instance = gt.ids % 1000
    points = scene.points.astype(np.float64)
    match = total = 0
    colour_err = []
    seen = set()
    for frame in scene.frames:
        w2c = np.linalg.inv(frame.pose)
        x = points @ w2c[:3, :3].T + w2c[:3, 3]
        z = x[:, 2]
        k = frame.depth_intrinsics
        front = np.flatnonzero(z > 0.05)
        u = k.fx * x[front, 0] / z[front] + k.cx
        v = k.fy * x[front, 1] / z[front] + k.cy
        inside = (u >= 0) & (v >= 0) & (u < k.width) & (v < k.height)
        idx, ui, vi = front[inside], np.floor(u[inside]).astype(int), np.floor(v[inside]).astype(int)
        depth = frame.load_depth()[vi, ui]
        visible = (depth > 0) & (np.abs(depth - z[idx]) <= 0.05)
        idx, ui, vi = idx[visible], ui[visible], vi[visible]
        rendered = np.array(Image.open(small.root / "instance" / f"{frame.frame_id}.png"))[vi, ui]
        ok = rendered == instance[idx]
        match += int(ok.sum())
        total += len(idx)
        seen |= set(instance[idx][ok].tolist())
        colour = frame.load_color()[vi, ui].astype(np.int64)
        colour_err.append(np.abs(colour - scene.colors[idx].astype(np.int64)).mean(axis=1))
    assert total > 50 * len(scene.frames)
    fraction = match / total
    assert fraction >= 0.95, fraction
    assert np.median(np.concatenate(colour_err)) < 10
    assert seen == set(np.unique(instance).tolist())  # every instance is seen somewhere


# ----------------------------------------------------------------------------- CLI
def test_cli_writes_then_skips_complete_scenes(tmp_path, capsys):
    from folk.synthetic import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["synth", "--out", str(tmp_path), "--seed", "3", "--scenes", "2",
                              "--frames", "2", "--quiet"])
    assert args.func(args) == 0
    for seed in (3, 4):
        name = f"synth{seed:04d}_00"
        assert (tmp_path / name / "meta.json").is_file()
        assert (tmp_path / "gt" / f"{name}.txt").is_file()
        assert sorted(p.name for p in (tmp_path / name / "depth").iterdir()) == ["0.png", "1.png"]
    capsys.readouterr()
    assert args.func(args) == 0
    assert capsys.readouterr().out.count("skipped") == 2
