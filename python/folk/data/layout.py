"""Dataset layouts (ScanNet, Replica) as data: where the mesh, frames and intrinsics live, the
depth scale and the default frame stride. Readers consult this table and nothing else."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetLayout:
    name: str
    mesh_suffix: str  # mesh file is <scene><mesh_suffix>
    depth_scale: float  # raw depth units per metre
    default_stride: int  # every n-th frame is used
    color_intrinsics_size: tuple[int, int] | None  # (W, H) intrinsic_color.txt is for; None: colour size


SCANNET = DatasetLayout("scannet", "_vh_clean_2.ply", 1000.0, 10, (1296, 968))
REPLICA = DatasetLayout("replica", "_mesh.ply", 6553.5, 1, None)

LAYOUTS = {layout.name: layout for layout in (SCANNET, REPLICA)}
