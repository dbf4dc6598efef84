"""A scan's points without its frames: what the image-free steps (geometric proposals and
features, the student) need. Reads the mesh only, so a bare ``.ply`` works too."""

from __future__ import annotations

from pathlib import Path

from folk.data.reader import read_mesh_points
from folk.data.scene import Scene
from folk.errors import FolkInputError

MESH_SUFFIXES = ("_vh_clean_2.ply", "_mesh.ply", ".ply")


def scan_mesh(path: str | Path, name: str | None = None) -> Path:
    """The mesh of a scan: ``path`` itself if it is a ``.ply``; in a scene folder
    ``<name>_vh_clean_2.ply`` (ScanNet), ``<name>_mesh.ply`` (Replica), ``<name>.ply``, or the
    folder's only ``.ply``."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FolkInputError("scan not found (expected a .ply file or a scene folder)", path)
    name = name or path.name
    for suffix in MESH_SUFFIXES:
        if (path / f"{name}{suffix}").is_file():
            return path / f"{name}{suffix}"
    plys = sorted(path.glob("*.ply"))
    if len(plys) == 1:
        return plys[0]
    raise FolkInputError(f"no mesh for scene {name!r} (looked for {name}_vh_clean_2.ply, "
                         f"{name}_mesh.ply, {name}.ply; found {len(plys)} .ply files)", path)


def read_scan(path: str | Path, name: str | None = None) -> Scene:
    """A :class:`Scene` with the mesh's vertices, colours and normals, and no frames."""
    mesh = scan_mesh(path, name)
    points, colors, normals = read_mesh_points(mesh)
    scene_name = name or (Path(path).name if Path(path).is_dir() else _scene_name(mesh))
    return Scene(name=scene_name, points=points, colors=colors, frames=[], normals=normals,
                 root=Path(path))


def _scene_name(mesh: Path) -> str:
    for suffix in MESH_SUFFIXES:
        if mesh.name.endswith(suffix):
            return mesh.name[: -len(suffix)]
    return mesh.stem
