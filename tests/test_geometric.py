"""Geometric proposals and features: folk runs on a scan with nothing but its points."""

from __future__ import annotations

import numpy as np
import pytest

from folk.data.scene import PointFeatures, Scene
from folk.errors import FolkInputError
from folk.features import (
    FeatureSource,
    FileFeatures,
    GeometricFeatureConfig,
    GeometricFeatures,
    feature_source,
)
from folk.features.geometric import FEATURE_NAMES, eigen_features
from folk.proposals import geometric_proposals, mask_iou
from folk.proposals.geometric import GeometricProposalConfig, find_structure, voxel_components


def _grid(a: np.ndarray, b: np.ndarray, origin, u, v) -> np.ndarray:
    uu, vv = np.meshgrid(a, b, indexing="ij")
    return (np.asarray(origin) + uu.reshape(-1, 1) * np.asarray(u)
            + vv.reshape(-1, 1) * np.asarray(v))


def _box(corner, size, step=0.025) -> np.ndarray:
    """The five visible faces of a box standing on the floor (a scan never sees the bottom)."""
    x0, y0, z0 = corner
    sx, sy, sz = size

    def ax(s):
        return np.arange(0, s + 1e-9, step)

    faces = [
        _grid(ax(sx), ax(sy), (x0, y0, z0 + sz), (1, 0, 0), (0, 1, 0)),  # top
        _grid(ax(sx), ax(sz), (x0, y0, z0), (1, 0, 0), (0, 0, 1)),
        _grid(ax(sx), ax(sz), (x0, y0 + sy, z0), (1, 0, 0), (0, 0, 1)),
        _grid(ax(sy), ax(sz), (x0, y0, z0), (0, 1, 0), (0, 0, 1)),
        _grid(ax(sy), ax(sz), (x0 + sx, y0, z0), (0, 1, 0), (0, 0, 1)),
    ]
    return np.unique(np.round(np.concatenate(faces), 6), axis=0)


@pytest.fixture(scope="module")
def room():
    """A 3 x 3 m floor, two 2 m walls, three boxes on the floor away from the walls."""
    step = 0.05
    floor = _grid(np.arange(0, 3.0, step), np.arange(0, 3.0, step), (0, 0, 0), (1, 0, 0),
                  (0, 1, 0))
    wall_x = _grid(np.arange(0, 3.0, step), np.arange(step, 2.0, step), (0, 0, 0), (1, 0, 0),
                   (0, 0, 1))
    wall_y = _grid(np.arange(step, 3.0, step), np.arange(step, 2.0, step), (0, 0, 0),
                   (0, 1, 0), (0, 0, 1))
    boxes = [_box((0.6, 0.6, 0.0), (0.5, 0.4, 0.45)), _box((1.8, 0.7, 0.0), (0.4, 0.4, 0.8)),
             _box((1.2, 1.9, 0.0), (0.6, 0.5, 0.3))]
    parts = [floor, wall_x, wall_y, *boxes]
    points = np.concatenate(parts).astype(np.float32)
    points += np.random.default_rng(0).normal(scale=0.002, size=points.shape).astype(np.float32)
    labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    colors = np.zeros(points.shape, np.uint8)
    colors[labels >= 3] = (200, 30, 30)
    return Scene("room", points, colors, frames=[]), labels


def test_geometric_proposals_find_the_objects_and_not_floor_or_walls(room):
    scene, labels = room
    props = geometric_proposals(scene)
    gt = np.stack([labels == k for k in (3, 4, 5)], axis=1)
    iou = mask_iou(np.concatenate([gt, props.masks], axis=1))[:3, 3:]
    assert props.num_proposals == 3
    assert (iou.max(axis=1) > 0.95).all(), iou
    structure = labels < 3
    assert props.masks[structure].sum() < 0.02 * structure.sum()
    np.testing.assert_array_equal(props.scores, np.ones(3, np.float32))


def test_geometric_proposals_are_deterministic(room):
    a = geometric_proposals(room[0])
    b = geometric_proposals(room[0])
    np.testing.assert_array_equal(a.masks, b.masks)


def test_structure_planes_are_classified(room):
    planes = find_structure(room[0].points)
    kinds = sorted(p.kind for p in planes if p.kind != "other")
    assert kinds == ["floor", "wall", "wall"]


def test_multiscale_proposals_drop_duplicates_by_nms(room):
    cfg = GeometricProposalConfig(voxel_sizes=(0.05, 0.06))
    props = geometric_proposals(room[0], cfg)
    assert props.num_proposals == 3  # the same three boxes at both scales


def test_small_clusters_are_dropped():
    rng = np.random.default_rng(1)
    blob = rng.normal(scale=0.05, size=(150, 3)) + [0, 0, 1]
    speck = rng.normal(scale=0.01, size=(20, 3)) + [2, 2, 1]
    props = geometric_proposals(np.concatenate([blob, speck]),
                                GeometricProposalConfig(max_planes=0))
    assert props.num_proposals == 1 and props.masks[:150, 0].all()


def test_voxel_components_join_neighbouring_voxels_only():
    pts = np.array([[0.0, 0, 0], [0.09, 0, 0], [0.19, 0.0, 0.09], [0.5, 0.5, 0.5]])
    labels = voxel_components(pts, 0.1)
    assert labels[0] == labels[1] == labels[2] != labels[3]


def test_geometric_features_layout_and_values(room):
    scene, labels = room
    feats = GeometricFeatures()(scene)
    assert isinstance(feats, PointFeatures)
    assert feats.features.shape == (scene.num_points, len(FEATURE_NAMES)) == (scene.num_points, 46)
    assert np.isfinite(feats.features).all()
    x = feats.features
    names = {n: i for i, n in enumerate(FEATURE_NAMES)}
    interior = (labels == 0) & (np.abs(scene.points[:, :2] - 1.5) < 0.3).all(axis=1)
    assert np.median(x[interior, names["abs_nz"]]) > 0.99  # the floor faces up
    assert np.median(x[interior, names["planarity"]]) > 0.6
    assert np.median(x[interior, names["scattering"]]) < 0.05
    top = (labels == 4) & (scene.points[:, 2] > 0.79)
    assert np.median(x[top, names["height"]]) == pytest.approx(0.8, abs=0.02)
    np.testing.assert_allclose(x[labels == 3, 0], 200 / 255, atol=1e-6)
    fpfh = x[:, names["fpfh_0"]:]
    np.testing.assert_allclose(fpfh.sum(axis=1), 3.0, atol=1e-3)  # three histograms of 1


def test_geometric_features_without_fpfh_have_13_dims(room):
    src = GeometricFeatures(GeometricFeatureConfig(fpfh=False))
    assert src.dim == 13 and src(room[0]).dim == 13


def test_eigen_features_of_a_line_a_plane_and_a_ball():
    line = eigen_features(np.array([[1.0, 0.0, 0.0]]))
    plane = eigen_features(np.array([[1.0, 1.0, 0.0]]))
    ball = eigen_features(np.array([[1.0, 1.0, 1.0]]))
    assert line[0, 0] == pytest.approx(1.0) and plane[0, 1] == pytest.approx(1.0)
    assert ball[0, 2] == pytest.approx(1.0) and ball[0, 4] == pytest.approx(1.0)
    assert (eigen_features(np.zeros((1, 3))) == 0).all()


def test_feature_sources_share_one_interface(tmp_path, room):
    scene = room[0]
    np.save(tmp_path / "room.npy", np.ones((scene.num_points, 96), np.float32))
    for source in (FileFeatures(tmp_path), GeometricFeatures(), feature_source(tmp_path),
                   feature_source("geometric")):
        assert isinstance(source, FeatureSource)
        assert source(scene).num_points == scene.num_points
    assert FileFeatures(tmp_path)(scene).dim == 96


def test_file_features_reject_wrong_point_count_and_width(tmp_path, room):
    scene = room[0]
    np.save(tmp_path / "room.npy", np.ones((scene.num_points - 1, 96), np.float32))
    with pytest.raises(FolkInputError, match="but the scene has"):
        FileFeatures(tmp_path)(scene)
    np.save(tmp_path / "room.npy", np.ones((scene.num_points, 96), np.float32))
    with pytest.raises(FolkInputError, match="96 dims, expected 128"):
        FileFeatures(tmp_path, dim=128)(scene)
    with pytest.raises(FolkInputError, match="no point features for scene 'other'"):
        FileFeatures(tmp_path).load("other")
