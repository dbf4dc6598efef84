"""Presets of the synthetic scene generator, in one place.

A :class:`SceneConfig` holds every knob of a generated scene (room, furniture, point density,
camera walk, sensor model, output). :data:`PRESETS` names the two the project uses: ``small``
(seconds to make; every test runs on it) and ``scannet`` (a ScanNet-sized scene for
benchmarks). ``generate_scene(..., **overrides)`` replaces single fields of a preset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

from folk.data.classes import SYNTHETIC_CLASSES, load_class_list
from folk.errors import FolkInputError

#: Bumped whenever the same (seed, preset) would produce different bytes.
GENERATOR_VERSION = "1"

#: Object classes the generator furnishes rooms with (ScanNet200 names), in a fixed order: the
#: ``synthetic`` vocabulary, defined with the other class lists in :mod:`folk.data.classes`.
VOCABULARY: tuple[str, ...] = SYNTHETIC_CLASSES

#: Structure classes (in the GT and the PLY, never in the proposals).
STRUCTURE: tuple[str, ...] = ("wall", "floor")


@lru_cache(maxsize=1)
def scannet200_ids() -> dict[str, int]:
    """ScanNet200 class name -> label id (from folk's bundled ``scannet200.json``)."""
    classes = load_class_list("scannet200")
    return dict(zip(classes.names, classes.ids, strict=True))


def label_id(name: str) -> int:
    """The ScanNet200 label id of a class name used by the generator."""
    ids = scannet200_ids()
    if name not in ids:
        raise FolkInputError(f"class {name!r} is not a ScanNet200 class")
    return ids[name]


#: ``{class name: ScanNet200 label id}`` for :data:`VOCABULARY`.
VOCABULARY_IDS: dict[str, int] = {name: label_id(name) for name in VOCABULARY}
STRUCTURE_IDS: dict[str, int] = {name: label_id(name) for name in STRUCTURE}


@dataclass(frozen=True)
class SceneConfig:
    """Everything that shapes one synthetic scene. Ranges are ``(low, high)``, drawn per seed."""

    preset: str = "custom"
    # Room (metres). The room is an axis-aligned box [0, X] x [0, Y], floor at z = 0, z up.
    room_x: tuple[float, float] = (3.8, 4.4)
    room_y: tuple[float, float] = (4.6, 5.4)
    wall_height: tuple[float, float] = (2.6, 2.9)
    # Furniture: number of objects (floor + stacked), probability that an object which may
    # stand on another one (box, lamp, plant) is put on a support when one is free.
    n_objects: tuple[int, int] = (8, 12)
    on_top_prob: float = 0.5
    placement_tries: int = 60
    # Surface samples (the scene's point set): points per m^2, and a floor per object so that
    # every object has enough points for the ScanNet evaluator (which ignores < 100).
    object_density: float = 550.0
    structure_density: float = 170.0
    min_object_points: int = 200
    write_normals: bool = True
    # Camera walk: raw frames, loops around the room, height band, radius of the loop as a
    # fraction of the half room size, clearance kept between the walk and tall furniture.
    n_frames: int = 100
    camera_loops: float = 1.0
    camera_height: tuple[float, float] = (1.2, 1.6)
    camera_radius: tuple[float, float] = (0.42, 0.55)
    camera_clearance: float = 0.45
    low_object_height: float = 0.8
    look_jitter_deg: float = 1.5
    # Sensor: 640x480 pinhole (ScanNet-like depth intrinsics); colour rendered at the same size.
    width: int = 640
    height: int = 480
    fx: float = 577.87
    fy: float = 577.87
    cx: float = 319.5
    cy: float = 239.5
    max_depth: float = 10.0
    depth_noise: bool = True
    depth_sigma: tuple[float, float] = (0.001, 0.0015)  # sigma(z) = a + b z^2 (metres)
    hole_fraction: float = 0.005
    hole_blobs: tuple[int, int] = (0, 3)
    grazing_cos: float = 0.06
    exposure_jitter: float = 0.05
    color_noise: float = 2.0
    jpeg_quality: int = 92
    png_compress_level: int = 1
    frames_per_cast: int = 4
    io_threads: int = 2

    def replace(self, **overrides) -> SceneConfig:
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise FolkInputError(f"unknown SceneConfig field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **overrides)

    def validate(self) -> SceneConfig:
        if self.n_frames < 0:
            raise FolkInputError(f"n_frames must be >= 0, got {self.n_frames}")
        if self.width <= 0 or self.height <= 0:
            raise FolkInputError("image size must be positive")
        if self.n_objects[0] < 0 or self.n_objects[1] < self.n_objects[0]:
            raise FolkInputError(f"bad n_objects range {self.n_objects}")
        if self.frames_per_cast < 1 or self.io_threads < 0:
            raise FolkInputError("frames_per_cast must be >= 1 and io_threads >= 0")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, SceneConfig] = {
    # ~25k points, 8-12 objects, 100 frames: a few seconds.
    "small": SceneConfig(preset="small"),
    # ScanNet-sized: ~150k points, ~150 objects in one large room, 3000 raw frames
    # (= 300 frames at ScanNet's stride 10), two loops around the room.
    "scannet": SceneConfig(
        preset="scannet",
        room_x=(13.0, 14.5),
        room_y=(10.5, 12.0),
        wall_height=(2.8, 3.1),
        n_objects=(140, 160),
        on_top_prob=0.6,
        placement_tries=120,
        object_density=420.0,
        structure_density=110.0,
        n_frames=3000,
        camera_loops=2.0,
        camera_radius=(0.35, 0.6),
    ),
}


def get_config(preset: str = "small", **overrides) -> SceneConfig:
    """The preset's config with ``overrides`` applied (unknown names are an error)."""
    if preset not in PRESETS:
        raise FolkInputError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    return PRESETS[preset].replace(**overrides).validate()
