"""ScanNet's per-scene release folders (``scans/<scene>/``) and the step from their ``.sens``
recording to the frame folders folk reads (:mod:`folk.data.reader`).

A release folder holds ``<scene>.sens``, ``<scene>_vh_clean_2.ply``,
``<scene>_vh_clean_2.0.010000.segs.json``, ``<scene>.aggregation.json`` and ``<scene>.txt``;
the mesh is the only file folk cannot do without. :func:`export_frames` writes what
ScanNet's ``SensReader`` exports (``color/ depth/ pose/ intrinsic/``), with two differences:
colour frames are the ``.sens`` file's own JPEG bytes (no decode and re-encode, so no second
loss), and poses are written with every digit of their float32 values (``-inf`` as ``-inf``).
:func:`scene_to_sens` goes the other way, for tests and for synthetic scenes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folk.data.images import read_depth
from folk.data.sens import SensFile, SensFrame, SensHeader, encode_depth, write_sens
from folk.errors import FolkInputError
from folk.files import atomic_open, write_text

MESH_SUFFIX = "_vh_clean_2.ply"
SEGS_SUFFIX = "_vh_clean_2.0.010000.segs.json"
AGGREGATION_SUFFIX = ".aggregation.json"
#: zlib level of the PNGs written: 1 encodes a 640 x 480 depth image about 5x faster than
#: PIL's default 6, for files about 15% larger.
PNG_LEVEL = 1


@dataclass(frozen=True)
class RawScene:
    """The release files of one scene; a file the folder lacks is ``None`` (except the mesh,
    without which it is no scene).

    Attributes:
        name: the folder name, e.g. ``scene0000_00``.
        folder: the release folder.
        mesh: ``<scene>_vh_clean_2.ply``.
        sens: ``<scene>.sens`` (the RGB-D frames).
        segs: ``<scene>_vh_clean_2.0.010000.segs.json`` (ScanNet's over-segmentation).
        aggregation: ``<scene>.aggregation.json`` (the instance annotation).
    """

    name: str
    folder: Path
    mesh: Path
    sens: Path | None
    segs: Path | None
    aggregation: Path | None

    @property
    def annotated(self) -> bool:
        return self.segs is not None and self.aggregation is not None


def find_raw_scene(folder: str | Path) -> RawScene:
    """The release files in ``folder`` (named after it); :class:`FolkInputError` without a
    mesh."""
    folder = Path(folder)
    name = folder.name

    def optional(suffix: str) -> Path | None:
        path = folder / f"{name}{suffix}"
        return path if path.is_file() else None

    mesh = folder / f"{name}{MESH_SUFFIX}"
    if not mesh.is_file():
        raise FolkInputError(f"not a ScanNet scene folder: no {mesh.name}", folder)
    return RawScene(name, folder, mesh, optional(".sens"), optional(SEGS_SUFFIX),
                    optional(AGGREGATION_SUFFIX))


def list_raw_scenes(scans_dir: str | Path) -> list[str]:
    """Names of the sub-folders of ``scans_dir`` that hold a ``<name>_vh_clean_2.ply``,
    sorted."""
    scans_dir = Path(scans_dir)
    if not scans_dir.is_dir():
        raise FolkInputError("scans folder not found", scans_dir)
    return sorted(p.name for p in scans_dir.iterdir()
                  if p.is_dir() and (p / f"{p.name}{MESH_SUFFIX}").is_file())


def matrix_text(matrix: np.ndarray) -> str:
    """A 4 × 4 matrix as four lines of numbers that read back to the same float32 values
    (``-inf`` stays ``-inf``)."""
    rows = np.asarray(matrix, dtype=np.float32).reshape(4, 4)
    return "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in rows)


@dataclass(frozen=True)
class FrameExport:
    """What :func:`export_frames` wrote.

    Attributes:
        total: frames in the ``.sens`` file.
        written: frames written (every ``stride``-th, numbered as in the file).
        lost_poses: written frames whose pose is not finite (the scene reader skips them).
    """

    total: int
    written: int
    lost_poses: int


def export_frames(sens: SensFile, root: str | Path, stride: int = 1,
                  on_frame: Callable[[int], None] | None = None) -> FrameExport:
    """Write frames ``0, stride, 2·stride, ...`` of ``sens`` into ``root`` as
    ``color/<i>.jpg`` (``.png`` for PNG or raw colour), ``depth/<i>.png`` (16-bit),
    ``pose/<i>.txt`` and ``intrinsic/{intrinsic,extrinsic}_{color,depth}.txt``; each file
    atomically. ``on_frame(i)`` is called after each frame (progress)."""
    from PIL import Image

    if stride < 1:
        raise FolkInputError(f"stride must be >= 1, got {stride}")
    root = Path(root)
    header = sens.header
    for kind in ("color", "depth"):
        write_text(root / "intrinsic" / f"intrinsic_{kind}.txt",
                   matrix_text(getattr(header, f"intrinsic_{kind}")))
        write_text(root / "intrinsic" / f"extrinsic_{kind}.txt",
                   matrix_text(getattr(header, f"extrinsic_{kind}")))
    written = lost = 0
    for frame in sens.frames(stride):
        i = frame.index
        depth = sens.depth_image(frame)
        with atomic_open(root / "depth" / f"{i}.png", "wb") as handle:
            Image.fromarray(depth).save(handle, format="PNG", compress_level=PNG_LEVEL)
        if header.color_compression == "raw":
            with atomic_open(root / "color" / f"{i}.png", "wb") as handle:
                Image.fromarray(sens.color_image(frame)).save(handle, format="PNG",
                                                              compress_level=PNG_LEVEL)
        else:
            with atomic_open(root / "color" / f"{i}{sens.color_suffix}", "wb") as handle:
                handle.write(frame.color_data)
        write_text(root / "pose" / f"{i}.txt", matrix_text(frame.camera_to_world))
        written += 1
        lost += int(not np.isfinite(frame.camera_to_world).all())
        if on_frame is not None:
            on_frame(i)
    return FrameExport(sens.num_frames, written, lost)


def scene_to_sens(root: str | Path, path: str | Path, *, sensor_name: str = "folk",
                  depth_shift: float = 1000.0) -> int:
    """Write the frames of a scene folder in folk's ScanNet layout (``color/<i>.jpg``,
    ``depth/<i>.png``, ``pose/<i>.txt``, ``intrinsic/``) as a ``.sens`` file: JPEG colour
    files are stored byte for byte, depth as zlib of the PNG's uint16 values, poses as
    float32. Frames in number order. Returns the number of frames."""
    from folk.data.images import image_size
    from folk.data.reader import _numbered_files, read_matrix

    root = Path(root)
    colors = _numbered_files(root / "color", (".jpg", ".jpeg"))
    depths = _numbered_files(root / "depth", (".png",))
    poses = _numbered_files(root / "pose", (".txt",))
    ids = sorted(depths)
    if not ids or set(ids) != set(colors) or set(ids) != set(poses):
        raise FolkInputError("need the same frame numbers in color/ (JPEG), depth/ and pose/",
                             root)
    identity = np.eye(4, dtype=np.float32)
    header = SensHeader(
        sensor_name,
        read_matrix(root / "intrinsic" / "intrinsic_color.txt").astype(np.float32), identity,
        read_matrix(root / "intrinsic" / "intrinsic_depth.txt").astype(np.float32), identity,
        "jpeg", "zlib_ushort", image_size(colors[ids[0]]), image_size(depths[ids[0]]),
        depth_shift)

    def frames():
        for n, i in enumerate(ids):
            yield SensFrame(n, read_matrix(poses[i]).astype(np.float32), 1000 * i, 1000 * i,
                            colors[i].read_bytes(), encode_depth(read_depth(depths[i])))

    return write_sens(path, header, frames())
