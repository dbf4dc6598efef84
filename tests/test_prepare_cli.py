"""``folk prepare scannet``: a hand-made ScanNet release folder (a ``.sens`` written by folk's
writer, a mesh with faces, segs / aggregation / tsv) becomes a scene folk.data.read_scene
reads, with superpoints and ScanNet200 GT; resumable, safe about where it writes, tolerant of
scenes without frames, and split over torchrun ranks and worker processes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_scannet_scene

from folk import cli
from folk.data import read_ground_truth, read_ply_vertices, read_scene
from folk.data.images import read_depth
from folk.data.ply import write_ply
from folk.data.scannet_raw import scene_to_sens
from folk.data.sens import SensFile

NUM_POINTS = 36  # a 6 x 6 grid mesh
TSV = "id\traw_category\tcategory\tcount\tnyu40id\n2\tchair\tchair\t1\t5\n4\ttable\ttable\t1\t7\n"


def make_raw_scene(scans: Path, name: str, *, frames: int = 4, with_sens: bool = True) -> Path:
    """``scans/<name>/`` as ScanNet ships it: mesh (a 6 x 6 grid of two triangles per cell),
    segs (four quadrants), aggregation (a chair and a table), and a .sens of ``frames``."""
    folder = scans / name
    folder.mkdir(parents=True)
    grid = np.stack(np.meshgrid(np.arange(6), np.arange(6), indexing="ij"), -1).reshape(-1, 2)
    points = np.column_stack([grid * 0.1, np.zeros(NUM_POINTS)]).astype(np.float32)
    faces = [(i * 6 + j, i * 6 + j + 1, (i + 1) * 6 + j) for i in range(5) for j in range(5)]
    faces += [(i * 6 + j + 1, (i + 1) * 6 + j + 1, (i + 1) * 6 + j)
              for i in range(5) for j in range(5)]
    write_ply(folder / f"{name}_vh_clean_2.ply", points,
              np.full((NUM_POINTS, 3), 128, np.uint8), faces=np.array(faces))
    quadrant = (grid[:, 0] >= 3) * 2 + (grid[:, 1] >= 3)
    (folder / f"{name}_vh_clean_2.0.010000.segs.json").write_text(
        json.dumps({"segIndices": (quadrant * 7).tolist()}))
    (folder / f"{name}.aggregation.json").write_text(json.dumps({"segGroups": [
        {"id": 0, "objectId": 0, "label": "chair", "segments": [0, 7]},
        {"id": 1, "objectId": 1, "label": "table", "segments": [14]}]}))
    if with_sens:
        layout = make_scannet_scene(scans.parent / "frames" / name, num_frames=frames)
        scene_to_sens(layout, folder / f"{name}.sens")
    (scans / "scannetv2-labels.combined.tsv").write_text(TSV)
    return folder


def prepare(*argv: str) -> int:
    return cli.main(["prepare", "scannet", *map(str, argv), "--quiet"])


def test_a_raw_scene_becomes_a_scene_folk_reads(tmp_path, capsys):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_raw_scene(scans, "scene0001_00", frames=5)
    assert prepare(scans, "--out", out, "--stride", "2") == 0
    assert "scene0001_00: 36 points" in capsys.readouterr().out

    scene = read_scene(out / "scene0001_00", stride=2)  # the raw stride it was prepared at
    assert [f.frame_id for f in scene.frames] == [0, 2, 4]
    assert scene.num_points == NUM_POINTS
    sens = SensFile(scans / "scene0001_00" / "scene0001_00.sens")
    for frame in scene.frames:
        recorded = sens.frame(frame.frame_id)
        np.testing.assert_array_equal(read_depth(frame.depth_path), sens.depth_image(recorded))
        np.testing.assert_array_equal(frame.pose, recorded.camera_to_world)
        assert frame.color_path.read_bytes() == recorded.color_data

    gt = read_ground_truth(out / "gt" / "scene0001_00.txt", NUM_POINTS).ids
    quadrant = np.repeat([0, 1], 18) * 2 + np.tile(np.repeat([0, 1], 3), 6)
    np.testing.assert_array_equal(gt, np.select([quadrant <= 1, quadrant == 2],
                                                [2001, 4002], 0))
    superpoints = np.load(out / "scene0001_00" / "scene0001_00_superpoints.npy")
    assert superpoints.shape == (NUM_POINTS,) and superpoints.dtype == np.int64
    marker = json.loads((out / "scene0001_00" / "prepared.json").read_text())
    assert (marker["stride"], marker["frames_total"], marker["frames_written"]) == (2, 5, 3)


def test_complete_scenes_are_skipped_and_interrupted_ones_redone(tmp_path, capsys):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_raw_scene(scans, "scene0001_00")
    assert prepare(scans, "--out", out, "--stride", "2") == 0
    capsys.readouterr()
    assert prepare(scans, "--out", out, "--stride", "2") == 0
    assert "already prepared" in capsys.readouterr().out

    (out / "scene0001_00" / "prepared.json").unlink()  # as if interrupted before the end
    (out / "scene0001_00" / "depth" / "1.png").write_bytes(b"a frame of another stride")
    assert prepare(scans, "--out", out, "--stride", "2") == 0
    assert "already prepared" not in capsys.readouterr().out
    assert sorted(p.name for p in (out / "scene0001_00" / "depth").iterdir()) == \
        ["0.png", "2.png"]

    assert prepare(scans, "--out", out, "--stride", "3") == 0  # another stride: redone
    assert sorted(p.name for p in (out / "scene0001_00" / "depth").iterdir()) == \
        ["0.png", "3.png"]


@pytest.mark.parametrize("where", ["same", "inside"])
def test_output_in_the_input_folder_is_refused_before_any_work(tmp_path, capsys, where):
    scans = tmp_path / "scans"
    make_raw_scene(scans, "scene0001_00", with_sens=False)
    before = sorted(p.relative_to(scans) for p in scans.rglob("*"))
    out = scans if where == "same" else scans / "prepared"
    assert prepare(scans, "--out", out) == 2
    assert "inside the input folder" in capsys.readouterr().err
    assert sorted(p.relative_to(scans) for p in scans.rglob("*")) == before


def test_a_scene_without_sens_gets_mesh_superpoints_and_gt_and_is_reported(tmp_path, capsys):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_raw_scene(scans, "scene0001_00", with_sens=False)
    assert prepare(scans, "--out", out) == 0
    text = capsys.readouterr().out
    assert "no .sens: frames missing" in text and "frames missing (no .sens) for 1" in text
    assert read_ply_vertices(out / "scene0001_00" / "scene0001_00_vh_clean_2.ply")["x"].size \
        == NUM_POINTS
    assert (out / "gt" / "scene0001_00.txt").is_file()
    assert (out / "scene0001_00" / "scene0001_00_superpoints.npy").is_file()

    shutil.rmtree(out)
    assert prepare(scans, "--out", out, "--require-frames") == 2
    assert "no scene0001_00.sens" in capsys.readouterr().err
    assert not (out / "scene0001_00" / "prepared.json").exists()


def test_a_bad_sens_fails_its_scene_only_naming_the_file(tmp_path, capsys):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_raw_scene(scans, "scene0001_00")
    bad = make_raw_scene(scans, "scene0002_00") / "scene0002_00.sens"
    bad.write_bytes(bad.read_bytes()[:-100])
    assert prepare(scans, "--out", out) == 2
    captured = capsys.readouterr()
    assert f"{bad}: truncated .sens file" in captured.out + captured.err
    assert (out / "scene0001_00" / "prepared.json").is_file()
    assert not (out / "scene0002_00" / "prepared.json").exists()


def test_each_torchrun_rank_takes_its_share_of_the_scenes(tmp_path, monkeypatch):
    scans, out = tmp_path / "scans", tmp_path / "out"
    for name in ("scene0001_00", "scene0002_00", "scene0003_00"):
        make_raw_scene(scans, name, with_sens=False)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert prepare(scans, "--out", out) == 0
    assert sorted(p.name for p in out.iterdir() if p.name != "gt") == ["scene0002_00"]


def test_scenes_run_in_parallel_worker_processes(tmp_path):
    scans, out = tmp_path / "scans", tmp_path / "out"
    for name in ("scene0001_00", "scene0002_00"):
        make_raw_scene(scans, name, frames=2)
    assert prepare(scans, "--out", out, "--jobs", "2", "--scenes",
                   "scene0001_00,scene0002_00") == 0
    for name in ("scene0001_00", "scene0002_00"):
        assert len(read_scene(out / name).frames) == 1  # frames 0 and 1, stride 10


def test_unknown_scene_names_are_refused(tmp_path, capsys):
    scans = tmp_path / "scans"
    make_raw_scene(scans, "scene0001_00", with_sens=False)
    assert prepare(scans, "--out", tmp_path / "out", "--scenes", "scene0009_00") == 2
    assert "scene0009_00" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "env", "message"), [
    (["--stride", "0"], {}, "--stride must be >= 1"),
    (["--jobs", "0"], {}, "--jobs must be >= 1"),
    ([], {"RANK": "2", "WORLD_SIZE": "2"}, "RANK 2 must lie in [0, WORLD_SIZE=2)"),
    ([], {"RANK": "x", "WORLD_SIZE": "2"}, "are not integers"),
    (["--label-map", "missing.tsv"], {}, "label map not found"),
])
def test_bad_options_are_refused_before_any_work(tmp_path, capsys, monkeypatch, extra, env,
                                                 message):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_raw_scene(scans, "scene0001_00", with_sens=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert prepare(scans, "--out", out, *extra) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_output_path_that_is_a_file_is_refused(tmp_path, capsys):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_raw_scene(scans, "scene0001_00", with_sens=False)
    out.write_text("not a folder")
    assert prepare(scans, "--out", out) == 2
    assert "--out exists and is not a folder" in capsys.readouterr().err


def test_reading_a_prepared_folder_counts_the_stride_in_raw_frames(tmp_path):
    """A folder prepared at stride s holds every s-th raw frame: the reader's default stride
    (10) reads every prepared frame, stride 2s takes every other file, and a stride that is
    not a multiple of s is refused with a message naming prepared.json."""
    from folk.data.scannet_prepare import MARKER_FORMAT, MARKER_VERSION, read_marker
    from folk.errors import FolkInputError
    from folk.files import write_json

    scene = make_scannet_scene(tmp_path / "scene0007_00", num_frames=6)
    write_json(scene / "prepared.json", {"format": MARKER_FORMAT, "version": MARKER_VERSION,
                                         "stride": 10})
    assert read_marker(scene) is not None
    assert [f.frame_id for f in read_scene(scene).frames] == [0, 1, 2, 3, 4, 5]
    assert [f.frame_id for f in read_scene(scene, stride=20).frames] == [0, 2, 4]
    with pytest.raises(FolkInputError, match="prepared.json"):
        read_scene(scene, stride=15)
    write_json(scene / "prepared.json", {"format": MARKER_FORMAT, "version": MARKER_VERSION,
                                         "stride": 3})  # denser than the default 10
    assert len(read_scene(scene).frames) == 6  # no stride given: every prepared frame
    assert [f.frame_id for f in read_scene(scene, stride=6).frames] == [0, 2, 4]
