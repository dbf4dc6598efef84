"""Projection + visibility kernels (folk.ops.visibility) against the NumPy reference.

Every fast path (C++ always, CUDA when a GPU is visible) must give exactly the integer outputs
of folk.ops.reference on random scenes of awkward sizes, fresh seeds, invalid depth, points
behind the camera or outside the image, and frames with non-finite poses.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from devices import DEVICES, host, poison_allocator, to_device

from folk.data import NonFinitePoseWarning
from folk.data.membership import ProposalMembership
from folk.errors import FolkExtensionError, FolkInputError
from folk.ops import extensions, reference
from folk.ops.visibility import (
    DEFAULT_DELTA,
    PixelLists,
    camera_from_world,
    visibility_counts,
    visible_pixels,
)

# ---- random scenes ------------------------------------------------------------------------


def look_at(eye: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera-to-world pose (x right, y down, z forward) at ``eye`` looking at ``target``."""
    z = target - eye
    z /= np.linalg.norm(z)
    up = rng.normal(size=3)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1)
    pose[:3, 3] = eye
    return pose


def render_depth(points, pose, intr, h, w, rng, noise=0.12, invalid=0.1) -> np.ndarray:
    """A z-buffer of the points, with noise (some points then fail δ) and invalid pixels."""
    pix = reference.visible_pixel_ids(points, pose, intr, np.ones((h, w), np.float32), 1e30)
    inv = np.linalg.inv(pose)
    z = (points.astype(np.float64) @ inv[:3, :3].T + inv[:3, 3])[:, 2]
    zbuf = np.full(h * w, np.inf)
    hit = pix >= 0
    np.minimum.at(zbuf, pix[hit], z[hit])
    zbuf[~np.isfinite(zbuf)] = rng.uniform(0.5, 6.0, size=int((~np.isfinite(zbuf)).sum()))
    depth = zbuf + rng.normal(0.0, noise, size=h * w)
    depth[rng.random(h * w) < invalid] = 0.0
    return depth.reshape(h, w).astype(np.float32)


def make_scene(seed: int, n: int, f: int, h: int, w: int, q: int, shared_intrinsics=False):
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.0, 1.0, size=(n, 3)).astype(np.float32)
    far = rng.random(n) < 0.15  # some points far away: behind cameras or outside images
    points[far] *= 6.0
    poses = np.stack([look_at(rng.normal(size=3) * 2.5 + np.sign(rng.normal(size=3)),
                              rng.normal(size=3) * 0.2, rng) for _ in range(f)])
    intr = np.stack([[w * rng.uniform(0.6, 1.2), w * rng.uniform(0.6, 1.2),
                      w / 2 + rng.normal(), h / 2 + rng.normal()] for _ in range(f)])
    if shared_intrinsics:
        intr = intr[0]
    depths = np.stack([render_depth(points, poses[i], intr if shared_intrinsics else intr[i],
                                    h, w, rng) for i in range(f)])
    masks = rng.random((n, q)) < rng.uniform(0.05, 0.6, size=q)
    if q > 1:
        masks[:, 0] = False  # an empty proposal
    return points, poses, intr, depths, masks


SIZES = [  # n, f, h, w, q
    (1, 3, 23, 37, 2),
    (257, 5, 23, 37, 9),
    (1500, 7, 31, 17, 13),
    (900, 2, 1, 1, 4),
    (600, 4, 48, 64, 1),
]


def membership_on(masks, device) -> ProposalMembership:
    mb = ProposalMembership.from_masks(masks)
    return mb if device == "cpu" else mb.to(device)


def run_counts(device, points, poses, intr, depths, masks, delta=DEFAULT_DELTA):
    pts, dep = to_device(device, points, depths)
    out = visibility_counts(pts, poses, intr, dep, membership_on(masks, device), delta=delta)
    return host(out.counts), host(out.pixels), out.valid_frames


# ---- agreement with the reference ---------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "n{}-f{}-{}x{}-q{}".format(*s))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_visibility_counts_match_reference(device, size, seed):
    points, poses, intr, depths, masks = make_scene(seed * 101 + sum(size), *size,
                                                    shared_intrinsics=seed == 2)
    counts, pixels, valid = run_counts(device, points, poses, intr, depths, masks)
    ref_counts, ref_pixels = reference.visibility_counts(points, poses, intr, depths, masks,
                                                         DEFAULT_DELTA)
    assert counts.dtype == np.int32 and pixels.dtype == np.int32
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(pixels, ref_pixels)
    assert valid.all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", ["flat", "outlier", "shuffled"])
def test_visibility_counts_do_not_depend_on_the_points_extent_or_order(device, layout):
    # The CPU kernel visits the points in a spatial order of its own (a grid over their
    # bounding box): a flat cloud (no extent in z), one far outlier (nearly every point in one
    # cell) and a shuffled cloud must all still match the reference.
    points, poses, intr, depths, masks = make_scene(7, 700, 4, 29, 41, 6)
    if layout == "flat":
        points[:, 2] = np.float32(0.25)
    elif layout == "outlier":
        points[0] = (900.0, -900.0, 900.0)
    else:
        perm = np.random.default_rng(3).permutation(points.shape[0])
        points, masks = points[perm], masks[perm]
    counts, pixels, _ = run_counts(device, points, poses, intr, depths, masks)
    ref_counts, ref_pixels = reference.visibility_counts(points, poses, intr, depths, masks,
                                                         DEFAULT_DELTA)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(pixels, ref_pixels)
    assert ref_counts.sum() > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shared_per_point_test_matches_reference(seed):
    """projection.h's visible_pixel(), the per-point code of the C++ and the CUDA kernels,
    called one point at a time (folk._C._testing), gives the reference's pixel ids."""
    testing = extensions.cpu_extension()._testing
    h, w = [(23, 37), (1, 1), (31, 17)][seed]
    points, poses, intr, depths, _masks = make_scene(seed + 300, 700, 4, h, w, 1)
    cam, valid = camera_from_world(poses)
    for f in np.flatnonzero(valid):
        got = testing.visible_pixel_ids(points, cam[f].reshape(12), intr[f].astype(np.float32),
                                        depths[f], DEFAULT_DELTA)
        want = reference.visible_pixel_ids(points, poses[f], intr[f], depths[f], DEFAULT_DELTA)
        np.testing.assert_array_equal(got, want)


def test_random_scenes_exercise_every_case():
    """The generator must produce visible, occluded, behind-camera and off-image points."""
    points, poses, intr, depths, _masks = make_scene(5, 1500, 6, 31, 17, 13)
    pix = np.stack([reference.visible_pixel_ids(points, poses[i], intr[i], depths[i], 0.2)
                    for i in range(6)])
    anywhere = np.stack([reference.visible_pixel_ids(points, poses[i], intr[i],
                                                     np.ones((31, 17), np.float32), 1e30)
                         for i in range(6)])
    assert (pix >= 0).mean() > 0.05
    assert ((anywhere >= 0) & (pix < 0)).any()  # projected but rejected by depth
    assert (anywhere < 0).any()  # behind the camera or outside the image


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", [3, 4])
def test_visible_pixels_match_reference_and_counts(device, seed):
    points, poses, intr, depths, masks = make_scene(seed, 800, 5, 29, 41, 6)
    pairs = np.array([(q, f) for q in range(6) for f in range(5)] + [(3, 1), (0, 0)])
    pts, dep = to_device(device, points, depths)
    lists = visible_pixels(pts, poses, intr, dep, membership_on(masks, device), pairs)
    _counts, pixels, _ = run_counts(device, points, poses, intr, depths, masks)
    assert isinstance(lists, PixelLists) and len(lists) == len(pairs)
    assert (lists.height, lists.width) == (29, 41)
    for k, (q, f) in enumerate(pairs):
        got = host(lists[k])
        want = reference.visible_pixels(points, poses[f], intr[f], depths[f], masks[:, q], 0.2)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.int32 and len(got) == pixels[f, q]


def test_visible_pixels_accepts_one_pair():
    points, poses, intr, depths, masks = make_scene(7, 300, 3, 20, 30, 3)
    lists = visible_pixels(points, poses, intr, depths, ProposalMembership.from_masks(masks),
                           (2, 1))
    want = reference.visible_pixels(points, poses[1], intr[1], depths[1], masks[:, 2], 0.2)
    np.testing.assert_array_equal(lists[0], want)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", [0, 1])
def test_visibility_matches_reference_at_pixel_boundaries(device, seed):
    """Points aimed within a few ulps of pixel borders: floor(u) must agree exactly."""
    rng = np.random.default_rng(seed)
    h, w, f, n = 19, 27, 3, 3000
    poses = np.stack([look_at(rng.normal(size=3) * 3, np.zeros(3), rng) for _ in range(f)])
    intr = np.array([21.3, 19.7, 13.1, 9.4])
    # Aim every point of frame 0's view at an integer u (or v) +- a few float32 ulps.
    u = rng.integers(-1, w + 2, size=n) + rng.integers(-3, 4, size=n) * 2e-7 * w
    v = rng.integers(-1, h + 2, size=n) + rng.integers(-3, 4, size=n) * 2e-7 * h
    z = rng.uniform(0.5, 4.0, size=n)
    cam = np.stack([(u - intr[2]) / intr[0] * z, (v - intr[3]) / intr[1] * z, z, np.ones(n)])
    points = (poses[0] @ cam)[:3].T.astype(np.float32)
    depths = np.stack([render_depth(points, poses[i], intr, h, w, rng, noise=0.05)
                       for i in range(f)])
    masks = rng.random((n, 4)) < 0.5
    counts, pixels, _ = run_counts(device, points, poses, intr, depths, masks)
    ref = reference.visibility_counts(points, poses, intr, depths, masks, 0.2)
    np.testing.assert_array_equal(counts, ref[0])
    np.testing.assert_array_equal(pixels, ref[1])
    assert counts[0].sum() > 0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("delta", [0.0, 0.05, 0.5])
def test_visibility_matches_reference_for_other_tolerances(device, delta):
    points, poses, intr, depths, masks = make_scene(11, 700, 4, 25, 33, 5)
    counts, pixels, _ = run_counts(device, points, poses, intr, depths, masks, delta=delta)
    ref = reference.visibility_counts(points, poses, intr, depths, masks, delta)
    np.testing.assert_array_equal(counts, ref[0])
    np.testing.assert_array_equal(pixels, ref[1])


# ---- special cases ------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_visibility_skips_non_finite_poses_with_a_warning(device, bad):
    points, poses, intr, depths, masks = make_scene(21, 400, 5, 23, 37, 4)
    poses[1] = bad
    poses[3, 0, 2] = bad
    with pytest.warns(NonFinitePoseWarning, match="2 of 5 frames"):
        counts, pixels, valid = run_counts(device, points, poses, intr, depths, masks)
    np.testing.assert_array_equal(valid, [True, False, True, False, True])
    assert (counts[[1, 3]] == 0).all() and (pixels[[1, 3]] == 0).all()
    ref = reference.visibility_counts(points, poses, intr, depths, masks, 0.2)
    np.testing.assert_array_equal(counts, ref[0])
    assert counts[valid].sum() > 0


@pytest.mark.parametrize("device", DEVICES)
def test_visibility_skips_singular_poses(device):
    points, poses, intr, depths, masks = make_scene(22, 300, 3, 23, 37, 3)
    poses[2] = 0.0
    with pytest.warns(NonFinitePoseWarning):
        counts, _, valid = run_counts(device, points, poses, intr, depths, masks)
    assert not valid[2] and (counts[2] == 0).all()


@pytest.mark.parametrize("device", DEVICES)
def test_visibility_with_all_depth_invalid_is_zero(device):
    points, poses, intr, depths, masks = make_scene(23, 500, 3, 23, 37, 5)
    counts, pixels, _ = run_counts(device, points, poses, intr, np.zeros_like(depths), masks)
    assert not counts.any() and not pixels.any()
    counts, _, _ = run_counts(device, points, poses, intr, np.full_like(depths, np.nan), masks)
    assert not counts.any()


@pytest.mark.parametrize("device", DEVICES)
def test_points_behind_the_camera_are_never_visible(device):
    # Camera at the origin looking down +z; the points sit at z < 0 exactly "behind" pixels
    # whose depth would match |z| if the sign were ignored.
    pose = np.eye(4)[None]
    points = np.array([[0.1, 0.1, -1.0], [0.0, 0.0, -2.0], [0.0, 0.0, 0.0]], np.float32)
    depths = np.ones((1, 9, 9), np.float32) * 1.0
    depths[0, 4, 4] = 2.0
    intr = np.array([4.0, 4.0, 4.5, 4.5])
    counts, _, _ = run_counts(device, points, pose, intr, depths, np.ones((3, 1), bool),
                              delta=5.0)
    assert counts[0, 0] == 0


@pytest.mark.parametrize("device", DEVICES)
def test_pixel_is_the_floor_of_the_projection(device):
    # Identity camera, fx = fy = 1, cx = cy = 0: u = x / z, v = y / z.
    pose = np.eye(4)[None]
    intr = np.array([1.0, 1.0, 0.0, 0.0])
    h, w = 4, 5
    points = np.array([
        [3.0, 1.0, 1.0],     # u = 3.0 exactly -> column 3
        [2.75, 0.5, 1.0],    # floor(2.75) = 2
        [-0.5, 0.5, 1.0],    # floor(-0.5) = -1: outside (truncation would say column 0)
        [4.999, 3.5, 1.0],   # last pixel
        [5.0, 0.0, 1.0],     # u = W: outside
        [0.0, 4.0, 1.0],     # v = H: outside
    ], np.float32)
    depth = np.ones((1, h, w), np.float32)
    masks = np.eye(6, dtype=bool)
    pairs = np.array([[i, 0] for i in range(6)])
    pts, dep = to_device(device, points, depth)
    lists = visible_pixels(pts, pose, intr, dep, membership_on(masks, device), pairs)
    got = [host(lists[i]).tolist() for i in range(6)]
    assert got == [[1 * w + 3], [0 * w + 2], [], [3 * w + 4], [], []]


@pytest.mark.parametrize("device", DEVICES)
def test_depth_tolerance_is_inclusive(device):
    pose = np.eye(4)[None]
    intr = np.array([1.0, 1.0, 0.5, 0.5])  # a 1x1 image
    points = np.array([[0.0, 0.0, 1.0]], np.float32)
    depth = np.full((1, 1, 1), 1.25, np.float32)
    ones = np.ones((1, 1), bool)
    assert run_counts(device, points, pose, intr, depth, ones, delta=0.25)[0][0, 0] == 1
    assert run_counts(device, points, pose, intr, depth, ones, delta=0.2499)[0][0, 0] == 0


@pytest.mark.parametrize("device", DEVICES)
def test_distinct_pixels_count_points_sharing_a_pixel_once(device):
    pose = np.eye(4)[None]
    intr = np.array([10.0, 10.0, 2.0, 2.0])
    points = np.array([[0.0, 0.0, 1.0], [0.01, 0.01, 1.0], [0.05, 0.0, 1.0],
                       [0.15, 0.0, 1.0]], np.float32)  # the first three hit pixel (2, 2)
    depth = np.ones((1, 5, 5), np.float32)
    counts, pixels, _ = run_counts(device, points, pose, intr, depth, np.ones((4, 1), bool))
    assert (counts[0, 0], pixels[0, 0]) == (4, 2)


@pytest.mark.parametrize("device", DEVICES)
def test_empty_inputs_give_empty_outputs(device):
    points, poses, intr, depths, masks = make_scene(31, 50, 3, 7, 9, 3)
    counts, pixels, _ = run_counts(device, points, poses, intr, depths, masks[:, :0])
    assert counts.shape == (3, 0) and pixels.shape == (3, 0)
    counts, _, _ = run_counts(device, points, poses[:0], intr[:0], depths[:0], masks)
    assert counts.shape == (0, 3)
    counts, _, _ = run_counts(device, points[:0], poses, intr, depths, masks[:0])
    assert counts.shape == (3, 3) and not counts.any()
    counts, pixels, _ = run_counts(device, points, poses, intr, depths[:, :0], masks)
    assert counts.shape == (3, 3) and not counts.any() and not pixels.any()  # 0-pixel images


@pytest.mark.parametrize("device", DEVICES)
def test_outputs_are_fully_written_over_poisoned_memory(device):
    points, poses, intr, depths, masks = make_scene(41, 200, 5, 11, 13, 7)
    poses[[0, 2]] = np.nan  # skipped frames must still get explicit zeros
    ref = reference.visibility_counts(points, poses, intr, depths, masks, 0.2)
    for _ in range(3):
        poison_allocator(device, 5 * 7 * 4)
        with pytest.warns(NonFinitePoseWarning):
            counts, pixels, _ = run_counts(device, points, poses, intr, depths, masks)
        np.testing.assert_array_equal(counts, ref[0])
        np.testing.assert_array_equal(pixels, ref[1])


# ---- kinds of arrays, devices, errors -----------------------------------------------------


def test_torch_cpu_inputs_give_torch_outputs():
    torch = pytest.importorskip("torch")
    points, poses, intr, depths, masks = make_scene(51, 300, 3, 20, 30, 4)
    mb = ProposalMembership.from_masks(torch.from_numpy(masks))
    out = visibility_counts(torch.from_numpy(points), torch.from_numpy(poses),
                            torch.from_numpy(intr), torch.from_numpy(depths), mb)
    assert isinstance(out.counts, torch.Tensor) and out.counts.dtype == torch.int32
    ref = reference.visibility_counts(points, poses, intr, depths, masks, 0.2)
    np.testing.assert_array_equal(out.counts.numpy(), ref[0])


def test_camera_from_world_inverts_each_pose_in_float64():
    _points, poses, *_ = make_scene(61, 10, 4, 5, 5, 1)
    cam, valid = camera_from_world(poses)
    for i in range(4):
        np.testing.assert_array_equal(cam[i], reference.world_to_camera(poses[i]))
    assert cam.dtype == np.float32 and valid.all()


@pytest.mark.skipif(extensions.cuda_available(), reason="a GPU is visible here")
def test_asking_for_cuda_without_a_gpu_raises_extension_error():
    points, poses, intr, depths, masks = make_scene(71, 20, 2, 5, 5, 2)
    mb = ProposalMembership.from_masks(masks)
    with pytest.raises(FolkExtensionError):
        visibility_counts(points, poses, intr, depths, mb, device="cuda")
    with pytest.raises(FolkExtensionError):
        visible_pixels(points, poses, intr, depths, mb, [(0, 0)], device="cuda")


def _bad_inputs():
    points, poses, intr, depths, masks = make_scene(81, 30, 3, 6, 7, 3)
    mb = ProposalMembership.from_masks(masks)
    good = {"points": points, "poses": poses, "intrinsics": intr, "depths": depths,
            "membership": mb}
    unsorted = ProposalMembership(mb.offsets, mb.indices.copy(), 30)
    q = int(np.argmax(np.diff(mb.offsets)))
    seg = unsorted.indices[mb.offsets[q]:mb.offsets[q + 1]]
    seg[:] = seg[::-1].copy()
    cases = {
        "points-dtype": ({"points": points.astype(np.float64)}, "points must be float32"),
        "points-shape": ({"points": points[:, :2]}, r"points must have shape \(N, 3\)"),
        "points-nan": ({"points": np.where(np.arange(30)[:, None] == 3, np.nan, points)
                            .astype(np.float32)}, "points contain NaN"),
        "depths-shape": ({"depths": depths[0]}, r"depths must have shape \(F, H, W\)"),
        "depths-dtype": ({"depths": depths.astype(np.float64)}, "depths must be float32"),
        "poses-frames": ({"poses": poses[:2]}, "poses must have shape"),
        "intrinsics-shape": ({"intrinsics": intr[:, :3]}, "intrinsics must have shape"),
        "intrinsics-nan": ({"intrinsics": np.full(4, np.nan)}, "intrinsics contain NaN"),
        "membership-points": ({"membership": ProposalMembership(mb.offsets, mb.indices, 31)},
                              "membership covers 31 points"),
        "membership-dtype": ({"membership": ProposalMembership(mb.offsets,
                                                                mb.indices.astype(np.int64),
                                                                30)},
                             "membership.indices must be int32"),
        "membership-range": ({"membership": ProposalMembership(
            mb.offsets, np.where(mb.indices == mb.indices.max(), 30, mb.indices)
            .astype(np.int32), 30)}, r"membership.indices must lie in \[0, 30\)"),
        "membership-unsorted": ({"membership": unsorted}, "strictly increasing"),
        "membership-offsets": ({"membership": ProposalMembership(mb.offsets[:-1], mb.indices,
                                                                  30)}, "offsets must start"),
        "membership-type": ({"membership": masks}, "must be a ProposalMembership"),
    }
    return good, cases


@pytest.mark.parametrize("case", list(_bad_inputs()[1]))
def test_bad_inputs_raise_errors_naming_the_argument(case):
    good, cases = _bad_inputs()
    change, message = cases[case]
    with pytest.raises(FolkInputError, match=message):
        visibility_counts(**{**good, **change})


def test_bad_pairs_raise_errors_naming_the_argument():
    good, _ = _bad_inputs()
    for pairs, message in (([(3, 0)], "proposal indices"), ([(0, 3)], "frame indices"),
                           (np.zeros((2, 3), int), "pairs must have shape"),
                           (np.zeros((1, 2)), "pairs must be integer")):
        with pytest.raises(FolkInputError, match=message):
            visible_pixels(**good, pairs=pairs)


def test_negative_delta_is_rejected():
    good, _ = _bad_inputs()
    with pytest.raises(FolkInputError, match="delta"):
        visibility_counts(**good, delta=-0.1)


def test_config_default_is_the_op_default():
    from folk.teacher.config import VisibilityConfig

    assert VisibilityConfig().delta == DEFAULT_DELTA


def test_no_warning_when_every_pose_is_finite():
    points, poses, intr, depths, masks = make_scene(91, 50, 3, 6, 7, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_counts("cpu", points, poses, intr, depths, masks)
