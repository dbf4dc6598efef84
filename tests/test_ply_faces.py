"""folk.data.ply.read_ply_faces: the triangles of a PLY mesh (binary both endians, ASCII), and
the errors a bad face element raises."""

from __future__ import annotations

import numpy as np
import pytest

from folk.data.ply import read_ply_faces, read_ply_vertices, write_ply
from folk.errors import FolkInputError


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_faces_round_trip(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 300))
    points = rng.normal(size=(n, 3)).astype(np.float32)
    faces = rng.integers(0, n, size=(int(rng.integers(0, 50)), 3))
    write_ply(tmp_path / "m.ply", points, rng.integers(0, 256, size=(n, 3)), faces=faces)
    got = read_ply_faces(tmp_path / "m.ply")
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, faces.reshape(-1, 3))
    np.testing.assert_array_equal(read_ply_vertices(tmp_path / "m.ply")["x"], points[:, 0])


def _scannet_like(path, endian: str, faces: np.ndarray, sizes=None) -> None:
    """x y z r g b alpha vertices (as ScanNet's meshes) and ``uchar int`` face lists."""
    e = "<" if endian == "little" else ">"
    vertex = np.zeros(4, dtype=[("x", e + "f4"), ("y", e + "f4"), ("z", e + "f4"),
                                ("red", "u1"), ("green", "u1"), ("blue", "u1"), ("alpha", "u1")])
    face = np.zeros(len(faces), dtype=[("n", "u1"), ("v", e + "i4", (3,))])
    face["n"] = 3 if sizes is None else sizes
    face["v"] = faces
    header = (f"ply\nformat binary_{endian}_endian 1.0\ncomment VCGLIB generated\n"
              "element vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\n"
              f"property uchar alpha\nelement face {len(faces)}\n"
              "property list uchar int vertex_indices\nend_header\n")
    path.write_bytes(header.encode() + vertex.tobytes() + face.tobytes())


@pytest.mark.parametrize("endian", ["little", "big"])
def test_scannet_layout_faces_are_read_in_either_byte_order(tmp_path, endian):
    faces = np.array([[0, 1, 2], [2, 1, 3], [3, 0, 2]])
    _scannet_like(tmp_path / "m.ply", endian, faces)
    np.testing.assert_array_equal(read_ply_faces(tmp_path / "m.ply"), faces)


def test_ascii_faces_with_scalar_properties_around_the_list(tmp_path):
    path = tmp_path / "a.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\n"
                    "property float y\nproperty float z\nelement face 2\nproperty uchar flag\n"
                    "property list uchar int vertex_index\nproperty float quality\nend_header\n"
                    "0 0 0\n1 0 0\n0 1 0\n1 1 0\n7 3 0 1 2 0.5\n8 3 2 1 3 0.25\n")
    np.testing.assert_array_equal(read_ply_faces(path), [[0, 1, 2], [2, 1, 3]])


def test_a_point_cloud_has_no_faces(tmp_path):
    write_ply(tmp_path / "p.ply", np.ones((5, 3)))
    assert read_ply_faces(tmp_path / "p.ply").shape == (0, 3)


def test_a_quad_is_an_error(tmp_path):
    _scannet_like(tmp_path / "m.ply", "little", np.array([[0, 1, 2], [0, 1, 3]]), sizes=[3, 4])
    with pytest.raises(FolkInputError, match="face 1 has 4 vertices; only triangles"):
        read_ply_faces(tmp_path / "m.ply")


def test_truncated_faces_are_an_error(tmp_path):
    _scannet_like(tmp_path / "m.ply", "little", np.array([[0, 1, 2], [0, 1, 3]]))
    data = (tmp_path / "m.ply").read_bytes()
    (tmp_path / "m.ply").write_bytes(data[:-5])
    with pytest.raises(FolkInputError, match="truncated"):
        read_ply_faces(tmp_path / "m.ply")


def test_a_face_index_outside_the_vertices_is_an_error(tmp_path):
    _scannet_like(tmp_path / "m.ply", "little", np.array([[0, 1, 4]]))
    with pytest.raises(FolkInputError, match=r"face vertex indices must lie in \[0, 4\)"):
        read_ply_faces(tmp_path / "m.ply")


def test_a_face_element_without_an_index_list_is_an_error(tmp_path):
    path = tmp_path / "a.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n"
                    "property float y\nproperty float z\nelement face 1\nproperty int a\n"
                    "end_header\n0 0 0\n1\n")
    with pytest.raises(FolkInputError, match="exactly one list property"):
        read_ply_faces(path)
