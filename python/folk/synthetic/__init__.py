"""Synthetic RGB-D scenes in the ScanNet layout, deterministic per seed.

A room (floor, four walls) furnished with objects of :data:`VOCABULARY` (ScanNet200 classes,
each with its own shape grammar, colour family and procedural texture), a handheld-like camera
walk rendered with Open3D's raycaster (colour, depth, per-pixel instance ids), the scene's
points as area-weighted surface samples, GT and GT proposals::

    <out>/<scene>/<scene>_vh_clean_2.ply     points (+ colours, normals)
    <out>/<scene>/color/<i>.jpg               640x480
    <out>/<scene>/depth/<i>.png               uint16 millimetres, 0 = invalid
    <out>/<scene>/instance/<i>.png            uint16: GT code % 1000 of the instance hit, 0 = none
    <out>/<scene>/pose/<i>.txt                4x4 camera-to-world (x right, y down, z forward)
    <out>/<scene>/intrinsic/intrinsic_depth.txt   4x4, for 640x480
    <out>/<scene>/intrinsic/intrinsic_color.txt   4x4, for 1296x968 as ScanNet ships it
                                                  (scale it to the 640x480 colour images)
    <out>/<scene>/meta.json                   seed, preset, vocabulary, objects, version
    <out>/gt/<scene>.txt                      label_id*1000 + instance + 1 per point
    <out>/proposals/<scene>_masks.pt          GT instances (objects) in Mask3D's format
    <out>/proposals/<scene>_scores.npy

Use :func:`generate_scene` (or ``folk synth``); :func:`build_scene` gives the same scene in
memory without rendering. Names are imported on first use (Open3D only when a scene is made).
"""

from __future__ import annotations

from folk._lazy import lazy_getattr

_EXPORTS = {
    "GENERATOR_VERSION": "config", "PRESETS": "config", "STRUCTURE_IDS": "config",
    "VOCABULARY": "config", "VOCABULARY_IDS": "config", "SceneConfig": "config",
    "get_config": "config",
    "BuiltScene": "writer", "SyntheticScene": "writer", "build_scene": "writer",
    "default_name": "writer", "generate_scene": "writer", "is_complete": "writer",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
