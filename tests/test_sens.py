"""ScanNet's ``.sens`` format (folk.data.sens): a file written from a scene folder reads back
bit for bit, frames stream lazily, ``-inf`` poses survive, and every malformed file is a
FolkInputError naming the file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import make_scannet_scene

from folk.data.images import read_depth
from folk.data.reader import read_matrix
from folk.data.scannet_raw import export_frames, scene_to_sens
from folk.data.sens import (
    SensFile,
    SensFrame,
    SensHeader,
    encode_color,
    encode_depth,
    write_sens,
)
from folk.errors import FolkInputError

HEADER_BYTES_BEFORE_NAME = 12  # uint32 version + uint64 name length


def _header(**changes) -> SensHeader:
    k = np.diag([500.0, 500.0, 1.0, 1.0]).astype(np.float32)
    fields = {"sensor_name": "test", "intrinsic_color": k, "extrinsic_color": np.eye(4),
              "intrinsic_depth": k, "extrinsic_depth": np.eye(4), "color_size": (8, 6),
              "depth_size": (4, 3)}
    return SensHeader(**{**fields, **changes})


def _frames(n: int, seed: int = 0) -> list[SensFrame]:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        pose = np.eye(4, dtype=np.float32)
        pose[:3, 3] = rng.normal(size=3)
        frames.append(SensFrame(i, pose, 10 * i, 10 * i + 1,
                                encode_color(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)),
                                encode_depth(rng.integers(0, 5000, (3, 4), dtype=np.uint16))))
    return frames


@pytest.fixture
def sens_path(tmp_path: Path) -> Path:
    path = tmp_path / "scene.sens"
    write_sens(path, _header(), _frames(3))
    return path


def test_a_scene_written_as_sens_reads_back_bit_for_bit(tmp_path):
    scene = make_scannet_scene(tmp_path / "scene0001_00", num_frames=5)
    path = tmp_path / "scene0001_00.sens"
    assert scene_to_sens(scene, path) == 5
    sens = SensFile(path)
    assert sens.num_frames == 5
    assert sens.header.depth_size == (64, 48) and sens.header.color_size == (80, 60)
    assert sens.header.color_compression == "jpeg"
    assert sens.header.depth_compression == "zlib_ushort"
    np.testing.assert_array_equal(sens.header.intrinsic_depth,
                                  read_matrix(scene / "intrinsic" / "intrinsic_depth.txt")
                                  .astype(np.float32))
    for frame in sens.frames():
        i = frame.index
        assert frame.color_data == (scene / "color" / f"{i}.jpg").read_bytes()
        np.testing.assert_array_equal(sens.depth_image(frame),
                                      read_depth(scene / "depth" / f"{i}.png"))
        np.testing.assert_array_equal(frame.camera_to_world,
                                      read_matrix(scene / "pose" / f"{i}.txt").astype(np.float32))
        assert sens.color_image(frame).shape == (60, 80, 3)


def test_exported_frames_equal_the_recording(tmp_path):
    scene = make_scannet_scene(tmp_path / "scene0001_00", num_frames=5)
    scene_to_sens(scene, tmp_path / "s.sens")
    sens = SensFile(tmp_path / "s.sens")
    out = tmp_path / "out"
    result = export_frames(sens, out, stride=2)
    assert (result.total, result.written, result.lost_poses) == (5, 3, 0)
    assert sorted(p.name for p in (out / "depth").iterdir()) == ["0.png", "2.png", "4.png"]
    for i in (0, 2, 4):
        assert (out / "color" / f"{i}.jpg").read_bytes() == \
            (scene / "color" / f"{i}.jpg").read_bytes()
        np.testing.assert_array_equal(read_depth(out / "depth" / f"{i}.png"),
                                      read_depth(scene / "depth" / f"{i}.png"))
        np.testing.assert_array_equal(read_matrix(out / "pose" / f"{i}.txt"),
                                      read_matrix(scene / "pose" / f"{i}.txt")
                                      .astype(np.float32))
    assert (out / "intrinsic" / "extrinsic_depth.txt").is_file()


def test_frames_stream_one_at_a_time_with_a_stride(sens_path):
    sens = SensFile(sens_path)
    frames = sens.frames(stride=2)
    first = next(frames)
    assert first.index == 0 and first.timestamp_color == 0 and first.timestamp_depth == 1
    assert [f.index for f in frames] == [2]
    assert sens.frame(1).timestamp_color == 10


def test_lost_poses_stay_minus_infinity(tmp_path):
    frames = _frames(2)
    lost = SensFrame(1, np.full((4, 4), -np.inf, np.float32), 0, 0, frames[1].color_data,
                     frames[1].depth_data)
    path = tmp_path / "lost.sens"
    write_sens(path, _header(), [frames[0], lost])
    pose = SensFile(path).frame(1).camera_to_world
    assert np.isneginf(pose).all()
    result = export_frames(SensFile(path), tmp_path / "out")
    assert result.lost_poses == 1
    assert np.isneginf(read_matrix(tmp_path / "out" / "pose" / "1.txt")).all()


def test_raw_colour_and_raw_depth_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    color = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    depth = rng.integers(0, 60000, (3, 4), dtype=np.uint16)
    path = tmp_path / "raw.sens"
    write_sens(path, _header(color_compression="raw", depth_compression="raw_ushort"),
               [SensFrame(0, np.eye(4), 0, 0, encode_color(color, "raw"),
                          encode_depth(depth, "raw_ushort"))])
    sens = SensFile(path)
    np.testing.assert_array_equal(sens.color_image(sens.frame(0)), color)
    np.testing.assert_array_equal(sens.depth_image(sens.frame(0)), depth)


def _patched(path: Path, offset: int, fmt: str, value) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))


def _offset_after_name(path: Path) -> int:
    (name_length,) = struct.unpack_from("<Q", path.read_bytes(), 4)
    return HEADER_BYTES_BEFORE_NAME + name_length


def _errors(path: Path) -> str:
    with pytest.raises(FolkInputError) as info:
        SensFile(path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_a_missing_file_is_an_input_error(tmp_path):
    assert "not found" in _errors(tmp_path / "none.sens")


def test_another_version_is_refused(sens_path):
    _patched(sens_path, 0, "<I", 3)
    assert "unsupported .sens version 3" in _errors(sens_path)


@pytest.mark.parametrize(("field", "value", "message"), [
    (0, 7, "unknown colour compression type 7"),
    (0, -1, "unknown colour compression type -1"),
    (1, 9, "unknown depth compression type 9"),
    (1, 2, "depth compression occi_ushort is not supported"),
])
def test_unknown_or_unreadable_compression_is_refused(sens_path, field, value, message):
    _patched(sens_path, _offset_after_name(sens_path) + 4 * 64 + 4 * field, "<i", value)
    assert message in _errors(sens_path)


@pytest.mark.parametrize("cut", [5, 40, 300, 1])
def test_a_truncated_file_is_refused(sens_path, cut):
    data = sens_path.read_bytes()
    end = len(data) - 8 - cut  # inside the last frame (8: the empty IMU trailer)
    sens_path.write_bytes(data[:end] if cut != 1 else data[:30])
    assert "truncated .sens file" in _errors(sens_path)


def test_a_header_announcing_more_frames_than_the_file_holds_is_refused(sens_path):
    data = sens_path.read_bytes()
    sens_path.write_bytes(data[:-8])  # drop the IMU trailer: the file ends after frame 2
    _patched(sens_path, _offset_after_name(sens_path) + 4 * 64 + 4 * 7, "<Q", 5)
    assert "the header says 5 frames but the file holds 3" in _errors(sens_path)


def test_a_header_announcing_fewer_frames_than_the_file_holds_is_refused(sens_path):
    _patched(sens_path, _offset_after_name(sens_path) + 4 * 64 + 4 * 7, "<Q", 2)
    assert "frame count mismatch" in _errors(sens_path)


def test_a_file_without_imu_trailer_and_one_with_imu_frames_both_read(sens_path):
    data = sens_path.read_bytes()
    sens_path.write_bytes(data[:-8])
    assert SensFile(sens_path).num_frames == 3
    sens_path.write_bytes(data[:-8] + struct.pack("<Q", 2) + bytes(2 * 128))
    assert SensFile(sens_path).num_frames == 3


def test_corrupt_depth_is_an_input_error_when_decoded(tmp_path):
    frame = _frames(1)[0]
    path = tmp_path / "bad.sens"
    write_sens(path, _header(), [SensFrame(0, frame.camera_to_world, 0, 0, frame.color_data,
                                           b"not zlib")])
    sens = SensFile(path)
    with pytest.raises(FolkInputError, match="corrupt zlib depth"):
        sens.depth_image(sens.frame(0))
