"""Multi-view selection (folk.ops.views) against the NumPy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from folk.errors import FolkInputError
from folk.ops import reference
from folk.ops.views import (
    DEFAULT_K,
    DEFAULT_MIN_VISIBLE,
    DEFAULT_THETA_DEG,
    rotation_angles,
    select_views,
)


def axis_angle(axis, degrees: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    a = math.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k


def poses_from(rotations) -> np.ndarray:
    poses = np.tile(np.eye(4), (len(rotations), 1, 1))
    poses[:, :3, :3] = rotations
    poses[:, :3, 3] = np.arange(len(rotations))[:, None] * 0.1
    return poses


def random_inputs(seed: int, f: int, q: int):
    rng = np.random.default_rng(seed)
    rotations = [axis_angle(rng.normal(size=3), rng.uniform(0, 70)) for _ in range(f)]
    counts = rng.integers(0, 6, size=(f, q)).astype(np.int32)  # small range: many ties
    counts[:, 0] = 0  # a proposal seen nowhere
    return counts, poses_from(rotations)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (23, 17), (60, 5)])
@pytest.mark.parametrize("k,theta", [(1, 15.0), (3, 0.0), (5, 15.0), (8, 40.0)])
@pytest.mark.parametrize("refill", [False, True])
def test_select_views_matches_reference(seed, shape, k, theta, refill):
    counts, poses = random_inputs(seed * 31 + shape[0], *shape)
    got = select_views(counts, poses, k=k, theta_deg=theta, refill=refill)
    want = reference.select_views(counts, poses, k, theta, 1, refill)
    assert got.dtype == np.int64 and got.shape == (shape[1], k)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("min_visible", [1, 3, 5])
def test_select_views_matches_reference_for_min_visible(min_visible):
    counts, poses = random_inputs(9, 19, 11)
    got = select_views(counts, poses, k=4, theta_deg=10.0, min_visible=min_visible)
    np.testing.assert_array_equal(got, reference.select_views(counts, poses, 4, 10.0,
                                                              min_visible))
    chosen = got[got >= 0]
    cols = np.nonzero(got >= 0)[0]
    assert (counts[chosen, cols] >= min_visible).all()


def test_equal_counts_rank_the_lower_frame_first():
    counts = np.array([[2], [5], [5], [1], [5]], np.int32)
    poses = poses_from([np.eye(3)] * 5)
    np.testing.assert_array_equal(select_views(counts, poses, k=4, theta_deg=0.0),
                                  [[1, 2, 4, 0]])


def test_rotation_pruning_compares_with_every_kept_view():
    # Rotations about z by 0, 5, 20, 30 and 45 degrees; counts rank them in that order.
    rotations = [axis_angle([0, 0, 1], a) for a in (0, 5, 20, 30, 45)]
    counts = np.array([[9], [8], [7], [6], [5]], np.int32)
    got = select_views(counts, poses_from(rotations), k=5, theta_deg=15.0)
    # 5° is too close to 0°, 30° too close to 20°; 45° is >= 15° from both 0° and 20°.
    np.testing.assert_array_equal(got, [[0, 2, 4, -1, -1]])


def test_pruning_stops_at_the_top_k_unless_refill():
    rotations = [axis_angle([0, 0, 1], a) for a in (0, 1, 2, 40)]
    counts = np.array([[9], [8], [7], [6]], np.int32)
    poses = poses_from(rotations)
    np.testing.assert_array_equal(select_views(counts, poses, k=3, theta_deg=15.0),
                                  [[0, -1, -1]])
    np.testing.assert_array_equal(select_views(counts, poses, k=3, theta_deg=15.0, refill=True),
                                  [[0, 3, -1]])


def test_a_view_just_past_theta_is_kept():
    rotations = [np.eye(3), axis_angle([1, 0, 0], 90.0)]
    counts = np.array([[2], [1]], np.int32)
    got = select_views(counts, poses_from(rotations), k=2, theta_deg=89.999999)
    np.testing.assert_array_equal(got, [[0, 1]])


def test_frames_without_visible_points_or_finite_rotation_are_never_chosen():
    counts = np.array([[0, 3], [4, 0], [2, 2]], np.int32)
    poses = poses_from([np.eye(3)] * 3)
    poses[2, :3, :3] = np.nan
    got = select_views(counts, poses, k=3, theta_deg=0.0)
    np.testing.assert_array_equal(got, [[1, -1, -1], [0, -1, -1]])


def test_rotation_angles_known_values():
    eye = np.eye(3)
    assert rotation_angles(eye, eye) == 0.0
    assert rotation_angles(eye, axis_angle([1, 0, 0], 90)) == pytest.approx(math.pi / 2)
    assert rotation_angles(eye, axis_angle([0, 1, 0], 180)) == pytest.approx(math.pi)
    a, b = axis_angle([1, 2, 3], 25), axis_angle([-1, 0, 2], 70)
    assert rotation_angles(a, b) == pytest.approx(reference.rotation_angle(a, b), abs=1e-12)


def test_accepts_rotations_and_torch_counts():
    torch = pytest.importorskip("torch")
    counts, poses = random_inputs(4, 9, 6)
    want = select_views(counts, poses)
    np.testing.assert_array_equal(select_views(torch.from_numpy(counts), poses[:, :3, :3]),
                                  want)


@pytest.mark.parametrize("kwargs,message", [
    ({"k": 0}, "k must be a positive integer"),
    ({"theta_deg": -1.0}, "theta_deg"),
    ({"min_visible": 0}, "min_visible"),
])
def test_bad_parameters_are_rejected(kwargs, message):
    counts, poses = random_inputs(5, 4, 3)
    with pytest.raises(FolkInputError, match=message):
        select_views(counts, poses, **kwargs)


def test_bad_arrays_are_rejected():
    counts, poses = random_inputs(6, 4, 3)
    with pytest.raises(FolkInputError, match="counts must be integer"):
        select_views(counts.astype(np.float32), poses)
    with pytest.raises(FolkInputError, match="counts must have shape"):
        select_views(counts[0], poses)
    with pytest.raises(FolkInputError, match="poses must have shape"):
        select_views(counts, poses[:3])


def test_config_defaults_are_the_op_defaults():
    from folk.teacher.config import ViewSelectionConfig

    cfg = ViewSelectionConfig()
    assert (cfg.k, cfg.theta_deg, cfg.min_visible, cfg.refill) == (
        DEFAULT_K, DEFAULT_THETA_DEG, DEFAULT_MIN_VISIBLE, False)
    counts, poses = random_inputs(7, 12, 5)
    np.testing.assert_array_equal(select_views(counts, poses, **cfg.kwargs()),
                                  select_views(counts, poses))
    with pytest.raises(FolkInputError):
        ViewSelectionConfig(k=0)
