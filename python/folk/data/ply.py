"""A small PLY reader/writer for the vertex element (ScanNet's ``*_vh_clean_2.ply``, Replica's
``*_mesh.ply``, and folk's synthetic scenes). Binary little/big endian and ASCII; faces are
written when given and skipped when read (folk's point set is the vertices)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folk.errors import FolkInputError
from folk.files import atomic_open

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}


def _parse_header(handle, path: Path) -> tuple[str, int, list[tuple[str, str]]]:
    if handle.readline().strip() != b"ply":
        raise FolkInputError("not a PLY file (missing 'ply' magic)", path)
    fmt, n_vertices, props, in_vertex, seen_vertex = None, None, [], False, False
    while True:
        line = handle.readline()
        if not line:
            raise FolkInputError("PLY header has no end_header", path)
        words = line.decode("ascii", errors="replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            break
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            in_vertex = words[1] == "vertex"
            if in_vertex:
                n_vertices, seen_vertex = int(words[2]), True
            elif not seen_vertex:
                raise FolkInputError("PLY elements before 'vertex' are not supported", path)
        elif words[0] == "property" and in_vertex:
            if words[1] == "list":
                raise FolkInputError("list properties on vertices are not supported", path)
            if words[1] not in _PLY_TYPES:
                raise FolkInputError(f"unknown PLY property type {words[1]!r}", path)
            props.append((words[2], _PLY_TYPES[words[1]]))
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian") or n_vertices is None:
        raise FolkInputError(f"unsupported PLY (format={fmt}, vertex element present="
                             f"{n_vertices is not None})", path)
    return fmt, n_vertices, props


def read_ply_vertices(path: str | Path) -> dict[str, np.ndarray]:
    """Vertex properties of a PLY file by name (``x``, ``y``, ``z``, ``red``, …)."""
    path = Path(path)
    if not path.is_file():
        raise FolkInputError("PLY file not found", path)
    with open(path, "rb") as handle:
        fmt, n, props = _parse_header(handle, path)
        if fmt == "ascii":
            rows = [handle.readline() for _ in range(n)]
            try:
                table = np.loadtxt(rows, ndmin=2, usecols=range(len(props)))
            except ValueError as exc:
                raise FolkInputError(f"malformed ASCII vertex data: {exc}", path) from None
            if table.shape[0] != n:
                raise FolkInputError(f"expected {n} vertices, found {table.shape[0]}", path)
            return {name: table[:, i].astype(t) for i, (name, t) in enumerate(props)}
        endian = "<" if fmt == "binary_little_endian" else ">"
        dtype = np.dtype([(name, endian + t) for name, t in props])
        data = np.fromfile(handle, dtype=dtype, count=n)
    if data.shape[0] != n:
        raise FolkInputError(f"truncated: header says {n} vertices, file holds {data.shape[0]}",
                             path)
    return {name: np.ascontiguousarray(data[name]).astype(data.dtype[name].newbyteorder("="))
            for name in data.dtype.names}


def write_ply(path: str | Path, points: np.ndarray, colors: np.ndarray | None = None,
              normals: np.ndarray | None = None, faces: np.ndarray | None = None) -> None:
    """Write a binary little-endian PLY (atomically): float xyz, optional uchar rgb, float
    normals, int32 triangle faces."""
    points = np.asarray(points, dtype=np.float32)
    n = points.shape[0]
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    columns = {"x": points[:, 0], "y": points[:, 1], "z": points[:, 2]}
    if normals is not None:
        normals = np.asarray(normals, dtype=np.float32)
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
        columns.update(nx=normals[:, 0], ny=normals[:, 1], nz=normals[:, 2])
    if colors is not None:
        colors = np.asarray(colors, dtype=np.uint8)
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        columns.update(red=colors[:, 0], green=colors[:, 1], blue=colors[:, 2])
    vertex = np.empty(n, dtype=fields)
    for name, values in columns.items():
        vertex[name] = values
    type_names = {"<f4": "float", "u1": "uchar"}
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property {type_names[t]} {name}" for name, t in fields]
    if faces is not None:
        faces = np.asarray(faces, dtype=np.int32)
        header += [f"element face {faces.shape[0]}", "property list uchar int vertex_indices"]
    header.append("end_header")
    with atomic_open(path, "wb") as handle:
        handle.write(("\n".join(header) + "\n").encode("ascii"))
        handle.write(vertex.tobytes())
        if faces is not None:
            face_rec = np.empty(faces.shape[0], dtype=[("n", "u1"), ("v", "<i4", (3,))])
            face_rec["n"] = 3
            face_rec["v"] = faces
            handle.write(face_rec.tobytes())
