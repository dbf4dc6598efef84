"""Scene reader: layouts, intrinsics, frame bookkeeping and every bad input it must name."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import SCANNET_COLOR_K, SCANNET_DEPTH_K, make_scannet_scene, write_matrix
from PIL import Image

from folk.data import Intrinsics, NonFinitePoseWarning, read_ply_vertices, read_scene, write_ply
from folk.errors import FolkInputError


def test_reads_points_colours_and_every_frame_with_stride_one(scannet_scene):
    scene = read_scene(scannet_scene, stride=1)
    vertices = read_ply_vertices(scannet_scene / "scene0000_00_vh_clean_2.ply")
    assert scene.name == "scene0000_00"
    assert scene.points.dtype == np.float32 and scene.points.shape == (57, 3)
    np.testing.assert_array_equal(scene.points[:, 1], vertices["y"])
    np.testing.assert_array_equal(scene.colors[:, 2], vertices["blue"])
    assert scene.frame_ids.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(scene.frames[2].pose,
                                  np.loadtxt(scannet_scene / "pose" / "2.txt"))


def test_scannet_default_stride_is_ten_and_frames_sort_numerically(tmp_path):
    root = make_scannet_scene(tmp_path / "s", num_frames=23)
    assert read_scene(root).frame_ids.tolist() == [0, 10, 20]
    assert read_scene(root, stride=7).frame_ids.tolist() == [0, 7, 14, 21]


def test_depth_in_metres_and_colour_loaded_at_their_own_sizes(scannet_scene):
    frame = read_scene(scannet_scene, stride=1).frames[1]
    raw = np.asarray(Image.open(scannet_scene / "depth" / "1.png"))
    depth = frame.load_depth()
    assert depth.dtype == np.float32 and depth.shape == (48, 64)
    np.testing.assert_allclose(depth, raw / 1000.0, rtol=1e-6)
    assert frame.load_color().shape == (60, 80, 3)


def test_colour_intrinsics_scale_with_width_then_height(scannet_scene):
    frame = read_scene(scannet_scene, stride=1).frames[0]
    k = frame.color_intrinsics
    assert (k.width, k.height) == (80, 60)
    assert k.fx == pytest.approx(SCANNET_COLOR_K[0, 0] * 80 / 1296)
    assert k.fy == pytest.approx(SCANNET_COLOR_K[1, 1] * 60 / 968)
    assert k.cx == pytest.approx(SCANNET_COLOR_K[0, 2] * 80 / 1296)
    assert k.cy == pytest.approx(SCANNET_COLOR_K[1, 2] * 60 / 968)
    # intrinsic_depth.txt is exact for the depth images: taken as is.
    np.testing.assert_allclose(frame.depth_intrinsics.matrix, SCANNET_DEPTH_K[:3, :3])


def test_intrinsics_scaling_round_trips_and_keeps_aspect_specific_factors():
    k = Intrinsics(500.0, 400.0, 320.0, 240.0, 640, 480)
    half = k.scaled(320, 120)
    assert (half.fx, half.fy, half.cx, half.cy) == (250.0, 100.0, 160.0, 60.0)
    back = half.scaled(640, 480)
    np.testing.assert_allclose(back.matrix, k.matrix)


def test_openyolo_layout_with_poses_folder_and_single_intrinsics(tmp_path):
    root = make_scannet_scene(tmp_path / "scene0001_00", layout="openyolo")
    scene = read_scene(root, stride=1)
    assert len(scene.frames) == 4
    np.testing.assert_allclose(scene.frames[0].depth_intrinsics.matrix, SCANNET_DEPTH_K[:3, :3])
    assert scene.frames[0].color_intrinsics.fx == pytest.approx(SCANNET_DEPTH_K[0, 0] * 80 / 64)


def test_replica_layout_uses_its_depth_scale_and_every_frame(tmp_path):
    root = make_scannet_scene(tmp_path / "office0", layout="replica", num_frames=3)
    scene = read_scene(root, dataset="replica")
    assert scene.frame_ids.tolist() == [0, 1, 2]
    raw = np.asarray(Image.open(root / "depth" / "0.png"))
    np.testing.assert_allclose(scene.frames[0].load_depth(), raw / 6553.5, rtol=1e-6)


def test_non_finite_pose_frames_are_skipped_with_a_warning(scannet_scene):
    write_matrix(scannet_scene / "pose" / "2.txt", np.full((4, 4), -np.inf))
    pose = np.eye(4)
    pose[1, 3] = np.nan
    write_matrix(scannet_scene / "pose" / "3.txt", pose)
    with pytest.warns(NonFinitePoseWarning, match="2 frame"):
        scene = read_scene(scannet_scene, stride=1)
    assert scene.frame_ids.tolist() == [0, 1]
    assert scene.skipped_frames == [2, 3]


def test_missing_colour_frame_is_named(scannet_scene):
    (scannet_scene / "color" / "2.jpg").unlink()
    with pytest.raises(FolkInputError, match=r"color.*have depth but nothing here.*\[2\]"):
        read_scene(scannet_scene)


def test_extra_pose_without_depth_is_named(scannet_scene):
    write_matrix(scannet_scene / "pose" / "9.txt", np.eye(4))
    with pytest.raises(FolkInputError, match=r"pose.*no depth image.*\[9\]"):
        read_scene(scannet_scene)


def test_missing_frame_folder_is_named(scannet_scene):
    for path in (scannet_scene / "depth").iterdir():
        path.unlink()
    (scannet_scene / "depth").rmdir()
    with pytest.raises(FolkInputError, match="depth: frame folder missing"):
        read_scene(scannet_scene)


def test_depth_frame_of_another_size_is_an_error_naming_it(scannet_scene):
    Image.fromarray(np.ones((30, 40), np.uint16)).save(scannet_scene / "depth" / "2.png")
    scene = read_scene(scannet_scene, stride=1)
    with pytest.raises(FolkInputError, match=r"2\.png: depth image is 40x30 .* 64x48"):
        scene.frames[2].load_depth()


def test_unreadable_image_is_named(scannet_scene):
    (scannet_scene / "depth" / "0.png").write_bytes(b"not a png at all")
    with pytest.raises(FolkInputError, match=r"0\.png: unreadable image"):
        read_scene(scannet_scene)


def test_eight_bit_colour_png_as_depth_is_refused(scannet_scene):
    Image.fromarray(np.ones((48, 64, 3), np.uint8)).save(scannet_scene / "depth" / "1.png")
    scene = read_scene(scannet_scene, stride=1)
    with pytest.raises(FolkInputError, match="one channel"):
        scene.frames[1].load_depth()


def test_empty_scene_is_an_error(scannet_scene):
    write_ply(scannet_scene / "scene0000_00_vh_clean_2.ply", np.zeros((0, 3)))
    with pytest.raises(FolkInputError, match="no vertices"):
        read_scene(scannet_scene)


def test_missing_intrinsics_is_an_error(scannet_scene):
    for path in (scannet_scene / "intrinsic").iterdir():
        path.unlink()
    with pytest.raises(FolkInputError, match="no intrinsics"):
        read_scene(scannet_scene)


def test_malformed_pose_file_is_named(scannet_scene):
    (scannet_scene / "pose" / "1.txt").write_text("1 0 0\n0 1 0\n")
    with pytest.raises(FolkInputError, match=r"1\.txt: expected 4x4 numbers, found 6"):
        read_scene(scannet_scene, stride=1)


def test_unknown_dataset_and_missing_folder_are_errors(tmp_path):
    with pytest.raises(FolkInputError, match="unknown dataset"):
        read_scene(tmp_path, dataset="kitti")
    with pytest.raises(FolkInputError, match="scene folder not found"):
        read_scene(tmp_path / "nope")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ply_binary_round_trip_with_normals_and_faces(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    points = rng.normal(size=(n, 3)).astype(np.float32)
    colors = rng.integers(0, 256, size=(n, 3)).astype(np.uint8)
    normals = rng.normal(size=(n, 3)).astype(np.float32)
    faces = rng.integers(0, n, size=(5, 3))
    write_ply(tmp_path / "m.ply", points, colors, normals=normals, faces=faces)
    v = read_ply_vertices(tmp_path / "m.ply")
    np.testing.assert_array_equal(np.stack([v["x"], v["y"], v["z"]], 1), points)
    np.testing.assert_array_equal(np.stack([v["red"], v["green"], v["blue"]], 1), colors)
    np.testing.assert_array_equal(np.stack([v["nx"], v["ny"], v["nz"]], 1), normals)


def test_ascii_ply_is_read(tmp_path):
    path = tmp_path / "a.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\n"
                    "property float y\nproperty float z\nproperty uchar red\n"
                    "property uchar green\nproperty uchar blue\nelement face 0\n"
                    "property list uchar int vertex_indices\nend_header\n"
                    "0.5 1 2 10 20 30\n-1 0 3.25 0 0 255\n")
    v = read_ply_vertices(path)
    assert v["z"].tolist() == [2.0, 3.25] and v["blue"].tolist() == [30, 255]


def test_truncated_binary_ply_is_an_error(tmp_path):
    write_ply(tmp_path / "m.ply", np.ones((10, 3)))
    data = (tmp_path / "m.ply").read_bytes()
    (tmp_path / "m.ply").write_bytes(data[:-7])
    with pytest.raises(FolkInputError, match="truncated"):
        read_ply_vertices(tmp_path / "m.ply")


def test_first_frame_read_lazily_does_not_touch_other_images(scannet_scene):
    (scannet_scene / "color" / "3.jpg").write_bytes(b"garbage")
    scene = read_scene(scannet_scene, stride=1)  # only frame 0's headers are read eagerly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scene.frames[0].load_color()
    with pytest.raises(FolkInputError, match=r"3\.jpg"):
        scene.frames[3].load_color()
