"""``folk views`` on scenes in the ScanNet layout: its outputs are those of the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from folk.cli import COMMANDS, main
from folk.data import NonFinitePoseWarning, read_proposals, read_scene
from folk.ops import reference
from folk.ops.views import select_views


@pytest.fixture(scope="module")
def synthetic_scene(tmp_path_factory) -> tuple[Path, Path]:
    synthetic = pytest.importorskip("folk.synthetic")
    out = tmp_path_factory.mktemp("synth")
    scene = synthetic.generate_scene(out, seed=3, preset="small", n_frames=12, progress=False)
    return scene.root, scene.masks_path


def run_views(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["views", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_views_is_a_folk_command():
    assert COMMANDS["views"] == "folk.teacher.views_cli"


def test_views_cli_outputs_match_the_reference(synthetic_scene, tmp_path, capsys):
    root, masks = synthetic_scene
    out = tmp_path / "views.npz"
    code, stdout, _ = run_views(capsys, "--scene", str(root), "--proposals", str(masks),
                                "--stride", "2", "--k", "3", "--theta", "10", "--out", str(out))
    assert code == 0
    with np.load(out) as data:
        result = {name: data[name] for name in data.files}
    scene = read_scene(root, stride=2)
    proposals = read_proposals(masks, num_points=scene.num_points)
    depths = np.stack([f.load_depth() for f in scene.frames])
    intr = np.array([[f.depth_intrinsics.fx, f.depth_intrinsics.fy, f.depth_intrinsics.cx,
                      f.depth_intrinsics.cy] for f in scene.frames])
    counts, pixels = reference.visibility_counts(scene.points, scene.poses, intr, depths,
                                                 proposals.masks, 0.2)
    np.testing.assert_array_equal(result["frame_ids"], scene.frame_ids)
    np.testing.assert_array_equal(result["counts"], counts)
    np.testing.assert_array_equal(result["pixels"], pixels)
    assert counts.sum() > 0 and (pixels <= counts).all()
    index = reference.select_views(counts, scene.poses, 3, 10.0)
    want = np.where(index >= 0, scene.frame_ids[np.maximum(index, 0)], -1)
    np.testing.assert_array_equal(result["selected"], want)
    assert result["selected"].shape == (proposals.num_proposals, 3)
    config = json.loads(str(result["config"]))
    assert config["views"]["k"] == 3 and config["visibility"]["delta"] == 0.2
    for stage in ("read scene", "visibility", "view selection"):
        assert stage in stdout
    assert f"{proposals.num_proposals} proposals" in stdout


def test_views_cli_frame_chunks_do_not_change_results(synthetic_scene, tmp_path, capsys):
    root, masks = synthetic_scene
    outs = []
    for chunk in ("1", "5"):
        out = tmp_path / f"views{chunk}.npz"
        assert run_views(capsys, "--scene", str(root), "--proposals", str(masks),
                         "--stride", "3", "--chunk-frames", chunk, "--out", str(out))[0] == 0
        with np.load(out) as data:
            outs.append((data["counts"], data["pixels"], data["selected"]))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_array_equal(a, b)


def _small_scannet_scene(root: Path) -> tuple[Path, Path]:
    """A hand-made scene: depth rendered from the points, one frame with a -inf pose."""
    from conftest import make_scannet_scene

    make_scannet_scene(root, num_frames=5, num_points=400, depth_size=(40, 30), seed=4)
    k = np.array([[30.0, 0, 20.0, 0], [0, 30.0, 15.0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    np.savetxt(root / "intrinsic" / "intrinsic_depth.txt", k)
    scene = read_scene(root, stride=1)
    rng = np.random.default_rng(0)
    for frame in scene.frames:
        intr = frame.depth_intrinsics
        # Look at the points' centre from the frame's position.
        pose = np.eye(4)
        pose[:3, 3] = frame.pose[:3, 3] * 0.3 + np.array([0.0, 0.0, -3.0])
        np.savetxt(root / "pose" / f"{frame.frame_id}.txt", pose)
        pix = reference.visible_pixel_ids(scene.points, pose, (intr.fx, intr.fy, intr.cx,
                                                               intr.cy),
                                          np.ones((intr.height, intr.width), np.float32), 1e9)
        z = scene.points[:, 2].astype(np.float64) - pose[2, 3]
        depth = np.full(intr.height * intr.width, np.inf)
        np.minimum.at(depth, pix[pix >= 0], z[pix >= 0])
        depth[~np.isfinite(depth)] = 0
        depth_mm = np.rint(depth * 1000 + rng.normal(0, 20, depth.shape)).clip(0, 65535)
        Image.fromarray(depth_mm.astype(np.uint16).reshape(intr.height, intr.width)).save(
            root / "depth" / f"{frame.frame_id}.png")
    np.savetxt(root / "pose" / "2.txt", np.full((4, 4), -np.inf))
    masks = np.zeros((400, 3), np.float16)
    masks[:150, 0] = 1
    masks[100:300, 1] = 1
    masks[::7, 2] = 1
    masks_path = root.parent / "masks.npy"
    np.save(masks_path, masks)
    return root, masks_path


def test_views_cli_skips_frames_with_bad_poses(tmp_path, capsys):
    root, masks = _small_scannet_scene(tmp_path / "scene0001_00")
    out = tmp_path / "views.npz"
    with pytest.warns(NonFinitePoseWarning):
        code, stdout, _ = run_views(capsys, "--scene", str(root), "--proposals", str(masks),
                                    "--stride", "1", "--k", "2", "--theta", "0",
                                    "--out", str(out))
    assert code == 0 and "1 skipped" in stdout
    with np.load(out) as data:
        frame_ids, counts, selected = data["frame_ids"], data["counts"], data["selected"]
    assert frame_ids.tolist() == [0, 1, 3, 4]
    assert counts.shape == (4, 3) and counts.sum() > 0
    with pytest.warns(NonFinitePoseWarning):
        scene = read_scene(root, stride=1)
    index = select_views(counts, scene.poses, k=2, theta_deg=0)
    np.testing.assert_array_equal(selected, np.where(index >= 0, frame_ids[index], -1))


def test_views_cli_reports_bad_inputs(tmp_path, capsys):
    root, masks = _small_scannet_scene(tmp_path / "scene0002_00")
    code, _, err = run_views(capsys, "--scene", str(root), "--proposals",
                             str(tmp_path / "missing.npy"), "--out", str(tmp_path / "o.npz"))
    assert code == 2 and "missing.npy" in err
    with pytest.raises(SystemExit) as exit_:
        run_views(capsys, "--scene", str(root), "--proposals", str(masks), "--k", "0",
                  "--out", str(tmp_path / "o.npz"))
    assert exit_.value.code == 2 and "argument --k: must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()
