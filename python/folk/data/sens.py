"""ScanNet's ``.sens`` RGB-D recordings: a streaming reader and a writer.

The binary layout (little endian; ScanNet's ``SensReader``, ``sensorData.h``, version 4)::

    header   uint32 version (4) · uint64 n + n bytes sensor name
             float32[16] colour intrinsics · float32[16] colour extrinsics
             float32[16] depth intrinsics  · float32[16] depth extrinsics   (row-major 4 × 4)
             int32 colour compression (0 raw, 1 png, 2 jpeg) · int32 depth compression
             (0 raw_ushort, 1 zlib_ushort, 2 occi_ushort) · uint32 colour width, height ·
             uint32 depth width, height · float32 depth shift (raw depth units per metre)
             uint64 number of frames
    frame    float32[16] camera-to-world (row-major) · uint64 colour timestamp ·
             uint64 depth timestamp · uint64 colour bytes c · uint64 depth bytes d ·
             c bytes compressed colour · d bytes compressed depth
    trailer  uint64 number of IMU frames m · m × 128 bytes (five float64[3] and a uint64
             timestamp each); absent in files written by some tools

A pose the sensor lost is stored as all ``-inf``; the reader returns it unchanged (the scene
reader skips such frames downstream).

:class:`SensFile` reads the header and then walks the frame records by seeking (reading 96
bytes per frame, never the images), so a truncated file or a frame count that does not match
the file is reported before any frame is used; frames are then read one at a time. Every
problem is a :class:`~folk.errors.FolkInputError` naming the file.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folk.errors import FolkInputError
from folk.files import atomic_open

#: The only ``.sens`` version ScanNet ships (versions 0–2 were an older ``.sensor`` format and 3
#: lacked the IMU trailer).
SENS_VERSION = 4
COLOR_COMPRESSIONS: dict[int, str] = {0: "raw", 1: "png", 2: "jpeg"}
DEPTH_COMPRESSIONS: dict[int, str] = {0: "raw_ushort", 1: "zlib_ushort", 2: "occi_ushort"}
#: Depth encodings folk can decode (``occi_ushort`` is a proprietary codec).
READABLE_DEPTH = ("raw_ushort", "zlib_ushort")

_FIXED_HEADER = struct.Struct("<64f2i4If")  # after version and name: 4 matrices .. depth shift
_FRAME_HEADER = struct.Struct("<16f4Q")  # pose, two timestamps, two sizes: 96 bytes
_IMU_FRAME_BYTES = 5 * 3 * 8 + 8


@dataclass(frozen=True)
class SensHeader:
    """What a ``.sens`` file says about its cameras (all but the frames).

    Attributes:
        sensor_name: free text (ScanNet: ``"StructureSensor"``).
        intrinsic_color: ``(4, 4) float32`` camera-to-pixel matrix of the colour images.
        extrinsic_color: ``(4, 4) float32`` (identity in ScanNet).
        intrinsic_depth: ``(4, 4) float32`` of the depth images.
        extrinsic_depth: ``(4, 4) float32``: depth camera to the colour camera.
        color_compression: ``"raw"`` (RGB bytes), ``"png"`` or ``"jpeg"``.
        depth_compression: ``"raw_ushort"``, ``"zlib_ushort"`` (a zlib stream of the uint16
            image) or ``"occi_ushort"`` (not readable by folk).
        color_size: ``(width, height)`` of the colour images.
        depth_size: ``(width, height)`` of the depth images.
        depth_shift: raw depth units per metre (ScanNet: 1000).
    """

    sensor_name: str
    intrinsic_color: np.ndarray
    extrinsic_color: np.ndarray
    intrinsic_depth: np.ndarray
    extrinsic_depth: np.ndarray
    color_compression: str = "jpeg"
    depth_compression: str = "zlib_ushort"
    color_size: tuple[int, int] = (1296, 968)
    depth_size: tuple[int, int] = (640, 480)
    depth_shift: float = 1000.0


@dataclass(frozen=True)
class SensFrame:
    """One RGB-D frame as stored: its pose and the still-compressed images.

    Attributes:
        index: position in the file (0-based): the frame number of the exported layout.
        camera_to_world: ``(4, 4) float32``; all ``-inf`` where the pose was lost.
        timestamp_color: colour timestamp (ScanNet: microseconds).
        timestamp_depth: depth timestamp.
        color_data: the colour image as stored (a JPEG file for ScanNet).
        depth_data: the depth image as stored (a zlib stream for ScanNet).
    """

    index: int
    camera_to_world: np.ndarray
    timestamp_color: int
    timestamp_depth: int
    color_data: bytes
    depth_data: bytes


def _matrix(values: tuple[float, ...]) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).reshape(4, 4)


class SensFile:
    """An opened ``.sens`` file: the header, the frame count and the offset of every frame.

    Construction reads the header and indexes the frames (seeking over the images), raising
    :class:`FolkInputError` for a file that is missing, of another version, of unknown or
    unreadable compression, truncated, or whose frame count disagrees with its contents.
    Frames are read lazily by :meth:`frame` and :meth:`frames`.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FolkInputError(".sens file not found", self.path)
        size = self.path.stat().st_size
        with open(self.path, "rb") as handle:
            self.header, num_frames = self._read_header(handle)
            self._offsets = self._index_frames(handle, num_frames, size)

    @property
    def num_frames(self) -> int:
        return len(self._offsets)

    def __len__(self) -> int:
        return len(self._offsets)

    def _read(self, handle, n: int, what: str) -> bytes:
        data = handle.read(n)
        if len(data) != n:
            raise FolkInputError(f"truncated .sens file: it ends inside {what}", self.path)
        return data

    def _read_header(self, handle) -> tuple[SensHeader, int]:
        (version,) = struct.unpack("<I", self._read(handle, 4, "the header"))
        if version != SENS_VERSION:
            raise FolkInputError(f"unsupported .sens version {version} (folk reads version "
                                 f"{SENS_VERSION}, the one ScanNet ships)", self.path)
        (name_length,) = struct.unpack("<Q", self._read(handle, 8, "the header"))
        if name_length > 4096:
            raise FolkInputError(f"not a .sens file: sensor name of {name_length} bytes",
                                 self.path)
        name = self._read(handle, name_length, "the header").decode("utf-8", errors="replace")
        fields = _FIXED_HEADER.unpack(self._read(handle, _FIXED_HEADER.size, "the header"))
        matrices = [_matrix(fields[16 * i:16 * (i + 1)]) for i in range(4)]
        color_type, depth_type, cw, ch, dw, dh, shift = fields[64:]
        if color_type not in COLOR_COMPRESSIONS:
            raise FolkInputError(f"unknown colour compression type {color_type} (known: "
                                 f"{COLOR_COMPRESSIONS})", self.path)
        if depth_type not in DEPTH_COMPRESSIONS:
            raise FolkInputError(f"unknown depth compression type {depth_type} (known: "
                                 f"{DEPTH_COMPRESSIONS})", self.path)
        if DEPTH_COMPRESSIONS[depth_type] not in READABLE_DEPTH:
            raise FolkInputError(f"depth compression {DEPTH_COMPRESSIONS[depth_type]} is not "
                                 f"supported (folk reads {', '.join(READABLE_DEPTH)})", self.path)
        (num_frames,) = struct.unpack("<Q", self._read(handle, 8, "the header"))
        header = SensHeader(name, *matrices, COLOR_COMPRESSIONS[color_type],
                            DEPTH_COMPRESSIONS[depth_type], (cw, ch), (dw, dh), float(shift))
        return header, num_frames

    def _index_frames(self, handle, num_frames: int, size: int) -> list[int]:
        offsets: list[int] = []
        position = handle.tell()
        for i in range(num_frames):
            if position == size:
                raise FolkInputError(f"frame count mismatch: the header says {num_frames} "
                                     f"frames but the file holds {i}", self.path)
            if position + _FRAME_HEADER.size > size:
                raise FolkInputError(f"truncated .sens file: it ends inside frame {i} "
                                     f"(of {num_frames})", self.path)
            handle.seek(position)
            *_, color_bytes, depth_bytes = _FRAME_HEADER.unpack(handle.read(_FRAME_HEADER.size))
            offsets.append(position)
            position += _FRAME_HEADER.size + color_bytes + depth_bytes
            if position > size:
                raise FolkInputError(f"truncated .sens file: it ends inside frame {i} "
                                     f"(of {num_frames})", self.path)
        rest = size - position
        if rest:  # the IMU trailer, which must account for every remaining byte
            handle.seek(position)
            count = struct.unpack("<Q", handle.read(8))[0] if rest >= 8 else -1
            if count < 0 or rest != 8 + count * _IMU_FRAME_BYTES:
                raise FolkInputError(
                    f"frame count mismatch: {rest} bytes follow the {num_frames} frames the "
                    "header announces and they are not an IMU section (the header's frame "
                    "count may be too small)", self.path)
        return offsets

    def frame(self, index: int) -> SensFrame:
        """Frame ``index`` (0-based), read from disk."""
        if not 0 <= index < len(self._offsets):
            raise IndexError(f"frame {index} of {len(self._offsets)}")
        with open(self.path, "rb") as handle:
            return self._read_frame(handle, index)

    def frames(self, stride: int = 1, start: int = 0) -> Iterator[SensFrame]:
        """Frames ``start, start + stride, ...`` in order, one at a time (the file stays open
        while iterating)."""
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        with open(self.path, "rb") as handle:
            for index in range(start, len(self._offsets), stride):
                yield self._read_frame(handle, index)

    def _read_frame(self, handle, index: int) -> SensFrame:
        handle.seek(self._offsets[index])
        fields = _FRAME_HEADER.unpack(handle.read(_FRAME_HEADER.size))
        color_bytes, depth_bytes = fields[18], fields[19]
        color = handle.read(color_bytes)
        depth = handle.read(depth_bytes)
        if len(color) != color_bytes or len(depth) != depth_bytes:  # changed since indexed
            raise FolkInputError(f"truncated .sens file: it ends inside frame {index}",
                                 self.path)
        return SensFrame(index, _matrix(fields[:16]), fields[16], fields[17], color, depth)

    def depth_image(self, frame: SensFrame) -> np.ndarray:
        """The frame's raw depth ``(H, W) uint16`` (divide by ``depth_shift`` for metres)."""
        width, height = self.header.depth_size
        data = frame.depth_data
        if self.header.depth_compression == "zlib_ushort":
            try:
                data = zlib.decompress(data)
            except zlib.error as exc:
                raise FolkInputError(f"frame {frame.index}: corrupt zlib depth ({exc})",
                                     self.path) from None
        if len(data) != width * height * 2:
            raise FolkInputError(f"frame {frame.index}: depth holds {len(data)} bytes, expected "
                                 f"{width} x {height} x 2", self.path)
        return np.frombuffer(data, dtype="<u2").reshape(height, width).astype(np.uint16)

    def color_image(self, frame: SensFrame) -> np.ndarray:
        """The frame's colour ``(H, W, 3) uint8`` RGB, decoded."""
        width, height = self.header.color_size
        if self.header.color_compression == "raw":
            if len(frame.color_data) != width * height * 3:
                raise FolkInputError(f"frame {frame.index}: raw colour holds "
                                     f"{len(frame.color_data)} bytes, expected {width} x "
                                     f"{height} x 3", self.path)
            return np.frombuffer(frame.color_data, np.uint8).reshape(height, width, 3).copy()
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(frame.color_data)) as image:
                array = np.asarray(image.convert("RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise FolkInputError(f"frame {frame.index}: undecodable "
                                 f"{self.header.color_compression} colour ({exc})",
                                 self.path) from None
        if array.shape[:2] != (height, width):
            raise FolkInputError(f"frame {frame.index}: colour is {array.shape[1]}x"
                                 f"{array.shape[0]}, the header says {width}x{height}", self.path)
        return array

    @property
    def color_suffix(self) -> str:
        """The file suffix of the stored colour data (``.jpg``, ``.png``); raw colour is
        written as PNG."""
        return ".jpg" if self.header.color_compression == "jpeg" else ".png"


# ---- writing ------------------------------------------------------------------------------

def encode_depth(depth: np.ndarray, compression: str = "zlib_ushort") -> bytes:
    """A ``(H, W)`` uint16 depth image as a ``.sens`` frame stores it."""
    depth = np.asarray(depth)
    if depth.ndim != 2 or depth.dtype != np.uint16:
        raise ValueError(f"depth must be a (H, W) uint16 array, got {depth.shape} {depth.dtype}")
    raw = depth.astype("<u2").tobytes()
    if compression == "zlib_ushort":
        return zlib.compress(raw)
    if compression == "raw_ushort":
        return raw
    raise ValueError(f"cannot write depth compression {compression!r}")


def encode_color(color: np.ndarray, compression: str = "jpeg", quality: int = 90) -> bytes:
    """A ``(H, W, 3)`` uint8 RGB image as a ``.sens`` frame stores it."""
    color = np.ascontiguousarray(color, dtype=np.uint8)
    if color.ndim != 3 or color.shape[2] != 3:
        raise ValueError(f"colour must be a (H, W, 3) array, got {color.shape}")
    if compression == "raw":
        return color.tobytes()
    from PIL import Image

    buffer = io.BytesIO()
    if compression == "jpeg":
        Image.fromarray(color).save(buffer, format="JPEG", quality=quality)
    elif compression == "png":
        Image.fromarray(color).save(buffer, format="PNG")
    else:
        raise ValueError(f"cannot write colour compression {compression!r}")
    return buffer.getvalue()


def _code(table: dict[int, str], name: str, what: str) -> int:
    for code, known in table.items():
        if known == name:
            return code
    raise ValueError(f"unknown {what} compression {name!r}; expected one of "
                     f"{list(table.values())}")


def write_sens(path: str | Path, header: SensHeader, frames: Iterable[SensFrame]) -> int:
    """Write a version-4 ``.sens`` file (atomically) from a header and frames whose images
    are already encoded as the header says (:func:`encode_color`, :func:`encode_depth`).
    ``frames`` may be a generator: it is consumed once and the frame count is filled in at the
    end; the ``index`` of a frame is not stored. An empty IMU trailer closes the file, as
    ScanNet's writer leaves it. Returns the number of frames written."""
    color_code = _code(COLOR_COMPRESSIONS, header.color_compression, "colour")
    depth_code = _code(DEPTH_COMPRESSIONS, header.depth_compression, "depth")
    name = header.sensor_name.encode("utf-8")
    matrices = [np.asarray(m, dtype=np.float32).reshape(16) for m in (
        header.intrinsic_color, header.extrinsic_color, header.intrinsic_depth,
        header.extrinsic_depth)]
    count = 0
    with atomic_open(path, "wb") as handle:
        handle.write(struct.pack("<IQ", SENS_VERSION, len(name)) + name)
        handle.write(_FIXED_HEADER.pack(*np.concatenate(matrices).tolist(), color_code,
                                        depth_code, *header.color_size, *header.depth_size,
                                        header.depth_shift))
        count_at = handle.tell()
        handle.write(struct.pack("<Q", 0))
        for frame in frames:
            pose = np.asarray(frame.camera_to_world, dtype=np.float32).reshape(16)
            handle.write(_FRAME_HEADER.pack(*pose.tolist(), frame.timestamp_color,
                                            frame.timestamp_depth, len(frame.color_data),
                                            len(frame.depth_data)))
            handle.write(frame.color_data)
            handle.write(frame.depth_data)
            count += 1
        handle.write(struct.pack("<Q", 0))  # no IMU frames
        handle.seek(count_at)
        handle.write(struct.pack("<Q", count))
        handle.seek(0, io.SEEK_END)
    return count
