"""``folk proposals SCAN... --out DIR``: class-agnostic proposals of scans without Mask3D,
written as Mask3D writes them (``<scene>_masks.pt``: a ``torch.save`` of an ``(N, Q)``
float16 NumPy array of 0/1) plus ``<scene>_scores.npy`` (``(Q,)`` float32), so every later
command reads them as it reads Mask3D's (:mod:`folk.proposals.files`).

``--method superpoints`` (default) merges superpoints (:mod:`.superpoint_merging`): a scene
folder's ``<scene>_superpoints.npy`` (``folk prepare``) is used when present, else ScanNet's
mesh segmentator runs on the mesh's faces, or the k-NN variant on a bare point cloud (one k-NN
query shared by its graph, its normals and the merging's adjacency); ``--orient-normals``
orients a point cloud's PCA normals first and segments with the mesh segmentator's convexity
rule (better on the one real scan measured, worse on synthetic scenes: docs/proposals.md);
the merging then also uses the signed normals (and turns near-vertical segments up).
``--method geometric`` is the older plane removal + connected components
(:mod:`.geometric`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from folk.cli_args import add_command, add_quiet

METHODS = ("superpoints", "geometric")
#: Threshold of the point-cloud segmentator used for proposals: finer segments than
#: ``folk.ops``' default (0.05) merged better on a real ScanNet scan (docs/proposals.md).
POINT_K_THRESH = 0.01
#: The point-cloud segmentator's weight for edges off the tangent planes (unsigned normals
#: only): 0.3 kept k-NN edges between nearby parallel surfaces from joining their segments,
#: +0.2 to +7 AP50 on every scene measured (docs/proposals.md).
POINT_OFF_PLANE = 0.3
#: The threshold with ``--orient-normals`` (convexity-weighted edges; docs/proposals.md).
ORIENTED_K_THRESH = 0.05


def register(subparsers) -> None:
    p = add_command(
        subparsers, "proposals", run,
        help="class-agnostic proposals from geometry (no Mask3D needed)",
        description="Write OUT/<scene>_masks.pt (Mask3D's format) and OUT/<scene>_scores.npy "
                    "for every SCAN: a scene folder (<scene>/<scene>_vh_clean_2.ply, optional "
                    "<scene>_superpoints.npy) or a .ply file (mesh or point cloud).")
    p.add_argument("scans", metavar="SCAN", nargs="+", help="scene folder or .ply file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--method", choices=METHODS, default="superpoints",
                   help="superpoint merging (default) or plane removal + components")
    p.add_argument("--orient-normals", action="store_true",
                   help="point clouds without faces: sign the normals and weigh edges by "
                        "convexity, as on a mesh. Use it for real scans seen from one side "
                        "(ScanNet AP50 33 vs 15 without); it is worse where both sides of "
                        "thin parts are sampled (synthetic, CAD-sampled clouds); a mesh's "
                        "faces make it moot, and it segments anew (a scene's superpoints file "
                        "is not used)")
    p.add_argument("--overwrite", action="store_true", help="replace existing proposal files")
    add_quiet(p)


def _mesh_of(scan: Path) -> tuple[str, Path, Path | None]:
    """``(scene name, mesh file, superpoints file or None)`` of a SCAN argument."""
    from folk.errors import FolkInputError

    if scan.is_file():
        if scan.suffix.lower() != ".ply":
            raise FolkInputError("a SCAN must be a scene folder or a .ply file", scan)
        name = scan.stem.removesuffix("_vh_clean_2")
        folder = scan.parent
    elif scan.is_dir():
        name, folder = scan.name, scan
        scan = folder / f"{name}_vh_clean_2.ply"
        if not scan.is_file():
            plys = sorted(folder.glob("*.ply"))
            if len(plys) != 1:
                raise FolkInputError(f"no mesh {scan.name} in the scene folder", folder)
            scan = plys[0]
    else:
        raise FolkInputError("scan not found", scan)
    superpoints = folder / f"{name}_superpoints.npy"
    return name, scan, superpoints if superpoints.is_file() else None


def scene_proposals(mesh: Path, superpoints_file: Path | None, method: str,
                    orient_normals: bool = False):
    """``(proposals, faces)``: the :class:`~folk.data.scene.Proposals` of one scan
    (``orient_normals``: see the module docstring) and whether the scan had faces."""
    import numpy as np

    from folk.data.ply import read_ply_faces
    from folk.data.reader import read_mesh_points
    from folk.errors import FolkInputError

    points, colors, _ = read_mesh_points(mesh)  # colours of a PLY without any: black
    faces = read_ply_faces(mesh)
    if method == "geometric":  # points only, whether or not the scan has faces
        from folk.proposals.geometric import geometric_proposals

        return geometric_proposals(points), len(faces) > 0
    superpoints = None
    if superpoints_file is not None:
        superpoints = np.load(superpoints_file, allow_pickle=False)
        if superpoints.shape != (points.shape[0],):
            raise FolkInputError(f"superpoints are {superpoints.shape}, the scan has "
                                 f"{points.shape[0]} points", superpoints_file)
    return merged_proposals(points, colors, faces, superpoints, orient_normals), len(faces) > 0


def merged_proposals(points, colors, faces, superpoints=None, orient_normals: bool = False):
    """Superpoint-merging proposals of one scan's arrays: ``points`` (N, 3) float32,
    ``colors`` (N, 3), ``faces`` (F, 3) (F may be 0: a point cloud), ``superpoints`` (N,) or
    None (then made here: the mesh segmentator, or the k-NN one for a point cloud). A point
    cloud gets one k-NN query, shared by its PCA normals, the segmentator and the merging;
    ``orient_normals`` signs those normals (module docstring) and segments with them, so a
    point cloud's ``superpoints`` are not used then."""
    import numpy as np

    from folk.ops import superpoints as ops
    from folk.proposals.superpoint_merging import superpoint_proposals

    colors = np.asarray(colors, dtype=np.float64)
    if len(faces):
        if superpoints is None:
            superpoints = ops.mesh_superpoints(points, faces)
        return superpoint_proposals(points, superpoints, colors=colors, faces=faces)
    neighbours = ops.point_neighbours(points)
    normals = ops.pca_normals(points, neighbours)
    if orient_normals:
        normals = ops.orient_normals(points, normals, neighbours)
    if superpoints is None or orient_normals:  # the flag changes the segmentation itself
        superpoints = ops.point_superpoints(
            points, k_thresh=ORIENTED_K_THRESH if orient_normals else POINT_K_THRESH,
            neighbours=neighbours, normals=normals, oriented=orient_normals,
            off_plane=POINT_OFF_PLANE)
    return superpoint_proposals(points, superpoints, colors=colors, normals=normals,
                                oriented=orient_normals, neighbours=neighbours)


def write_mask3d(out: Path, scene: str, proposals) -> tuple[Path, Path]:
    """``<out>/<scene>_masks.pt`` (float16 (N, Q), Mask3D's format) and
    ``<scene>_scores.npy``, each written atomically."""
    import numpy as np
    import torch

    from folk.files import atomic_open

    masks_path, scores_path = out / f"{scene}_masks.pt", out / f"{scene}_scores.npy"
    with atomic_open(masks_path, "wb") as handle:
        torch.save(np.ascontiguousarray(proposals.masks, dtype=np.float16), handle)
    with atomic_open(scores_path, "wb") as handle:
        np.save(handle, proposals.scores.astype(np.float32))
    return masks_path, scores_path


def run(args: argparse.Namespace) -> int:
    import time

    from folk.cli_args import check_output_folder
    from folk.errors import FolkInputError

    scans = [Path(s) for s in args.scans]
    jobs = [_mesh_of(scan) for scan in scans]
    names = [name for name, _, _ in jobs]
    if len(set(names)) != len(names):
        raise FolkInputError(f"two SCANs have the same scene name: {sorted(names)}")
    out = check_output_folder(args.out, inputs=scans)
    out.mkdir(parents=True, exist_ok=True)
    hint = args.method == "superpoints" and not args.orient_normals and not args.quiet
    for name, mesh, superpoints in jobs:
        if (out / f"{name}_masks.pt").exists() and not args.overwrite:
            if not args.quiet:
                print(f"{name}: proposals exist, skipped (--overwrite to redo)")
            continue
        start = time.perf_counter()
        proposals, faces = scene_proposals(mesh, superpoints, args.method, args.orient_normals)
        if proposals.num_proposals == 0:
            raise FolkInputError("no proposal found (is it an indoor scan in metres, z up?)",
                                 mesh)
        write_mask3d(out, name, proposals)
        if not args.quiet:
            source = "mesh" if faces else "point cloud"
            print(f"{name}: {proposals.num_proposals} proposals ({args.method}, {source}) in "
                  f"{time.perf_counter() - start:.1f} s -> {out / f'{name}_masks.pt'}")
        if hint and not faces:
            print("note: a point cloud without faces: if it is a real scan seen from one side "
                  "(RGB-D fusion), --orient-normals finds more objects (docs/proposals.md)")
            hint = False
    return 0
