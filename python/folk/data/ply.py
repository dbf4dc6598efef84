"""A small PLY reader/writer for the vertex element (ScanNet's ``*_vh_clean_2.ply``, Replica's
``*_mesh.ply``, and folk's synthetic scenes). Binary little/big endian and ASCII; faces are
written when given, and :func:`read_ply_faces` reads them (folk's point set is the vertices;
the faces serve the mesh superpoints)."""

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
    """``(format, vertex count, vertex properties)``: the vertex element must come first and
    have no list properties (what folk's point readers need)."""
    fmt, elements = _parse_elements(handle, path)
    if not elements or elements[0][0] != "vertex":
        found = [name for name, _, _ in elements]
        raise FolkInputError("unsupported PLY: the first element must be 'vertex' "
                             f"(elements: {found})", path)
    _, n_vertices, props = elements[0]
    if any(isinstance(kind, tuple) for _, kind in props):
        raise FolkInputError("list properties on vertices are not supported", path)
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


def _parse_elements(handle, path: Path) -> tuple[str, list[tuple[str, int, list]]]:
    """``(format, [(element name, count, properties)])`` of a PLY header, in file order; a
    property is ``(name, dtype)`` or ``(name, (count dtype, item dtype))`` for a list."""
    if handle.readline().strip() != b"ply":
        raise FolkInputError("not a PLY file (missing 'ply' magic)", path)
    fmt, elements = None, []
    while True:
        line = handle.readline()
        if not line:
            raise FolkInputError("PLY header has no end_header", path)
        words = line.decode("ascii", errors="replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            break
        if words[0] == "format" and len(words) > 1:
            fmt = words[1]
        elif words[0] == "element" and len(words) > 2:
            if not words[2].isdigit():
                raise FolkInputError(f"bad PLY element line {line.strip()!r}", path)
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            types = words[2:4] if words[1] == "list" else words[1:2]
            unknown = [t for t in types if t not in _PLY_TYPES]
            if unknown or len(words) < (5 if words[1] == "list" else 3):
                raise FolkInputError(f"bad PLY property line {line.strip()!r}", path)
            kind = tuple(_PLY_TYPES[t] for t in types) if words[1] == "list" else _PLY_TYPES[types[0]]
            elements[-1][2].append((words[-1], kind))
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise FolkInputError(f"unsupported PLY format {fmt}", path)
    return fmt, elements


def read_ply_faces(path: str | Path) -> np.ndarray:
    """``(F, 3) int64`` vertex indices of the triangles of a PLY mesh (the ``face`` element's
    ``vertex_indices`` or ``vertex_index`` list; ScanNet's ``*_vh_clean_2.ply``). A file
    without a face element has no faces (``(0, 3)``). Raises :class:`FolkInputError` on a face
    that is not a triangle, an index outside the vertices, or a truncated file. In a binary
    file, the elements before the faces must have fixed-size records (no lists)."""
    path = Path(path)
    if not path.is_file():
        raise FolkInputError("PLY file not found", path)
    with open(path, "rb") as handle:
        fmt, elements = _parse_elements(handle, path)
        names = [name for name, _, _ in elements]
        if "face" not in names:
            return np.zeros((0, 3), dtype=np.int64)
        before = elements[:names.index("face")]
        _, count, props = elements[names.index("face")]
        lists = [i for i, (name, kind) in enumerate(props)
                 if isinstance(kind, tuple) and name in ("vertex_indices", "vertex_index")]
        if not lists or sum(isinstance(kind, tuple) for _, kind in props) != 1:
            raise FolkInputError("the face element must hold exactly one list property, "
                                 "'vertex_indices' or 'vertex_index'", path)
        column = lists[0]
        if fmt == "ascii":
            for _ in range(sum(n for _, n, _ in before)):
                handle.readline()
            rows = [handle.readline().decode("ascii", errors="replace").split()
                    for _ in range(count)]
            if any(not row for row in rows):
                raise FolkInputError(f"truncated: header says {count} faces", path)
            # A row is (scalars before the list) + [size, a, b, c] + (scalars after).
            for i, row in enumerate(rows):
                if len(row) > column and row[column] != "3":
                    raise FolkInputError(f"face {i} has {row[column]} vertices; only "
                                         "triangles are supported", path)
                if len(row) < column + 4:
                    raise FolkInputError(f"malformed ASCII face {i}: {' '.join(row)!r}", path)
            try:
                faces = np.array([row[column + 1:column + 4] for row in rows],
                                 dtype=np.int64).reshape(count, 3)
            except ValueError as exc:
                raise FolkInputError(f"malformed ASCII face data: {exc}", path) from None
        else:
            endian = "<" if fmt == "binary_little_endian" else ">"
            for name, n, element_props in before:
                if any(isinstance(kind, tuple) for _, kind in element_props):
                    raise FolkInputError(f"PLY element {name!r} before the faces has list "
                                         "properties (not supported)", path)
                handle.seek(n * np.dtype([(p, endian + k) for p, k in element_props]).itemsize,
                            1)
            fields = []
            for i, (name, kind) in enumerate(props):
                if i == column:
                    fields += [(" size", endian + kind[0]), (" corners", endian + kind[1], (3,))]
                else:
                    fields.append((name, endian + kind))
            data = np.fromfile(handle, dtype=np.dtype(fields), count=count)
            if data.shape[0] != count:
                raise FolkInputError(f"truncated: header says {count} faces, file holds "
                                     f"{data.shape[0]} (or they are not all triangles)", path)
            sizes = data[" size"]  # (a name no PLY property can have)
            if (sizes != 3).any():
                bad = int(np.flatnonzero(sizes != 3)[0])
                raise FolkInputError(f"face {bad} has {sizes[bad]} vertices; only triangles "
                                     "are supported", path)
            faces = data[" corners"].astype(np.int64)
    n_vertices = {name: n for name, n, _ in elements}.get("vertex", 0)
    if faces.size and (faces.min() < 0 or faces.max() >= n_vertices):
        raise FolkInputError(f"face vertex indices must lie in [0, {n_vertices})", path)
    return faces


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
