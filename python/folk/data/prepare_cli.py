"""``folk prepare scannet``: ScanNet's release folders (``scans/<scene>/``) → folk's scene
layout, superpoints and ScanNet200 GT (:mod:`folk.data.scannet_prepare`), resumable per
scene, parallel over scenes (``--jobs``), and under ``torchrun`` (``RANK`` / ``WORLD_SIZE``
set) each rank takes its own share of the scenes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from folk.cli_args import add_command, add_quiet, add_scene_list, launcher_rank

LABEL_MAP_NAME = "scannetv2-labels.combined.tsv"


def register(subparsers) -> None:
    parent = add_command(
        subparsers, "prepare", _no_dataset,
        help="turn a dataset's raw download into folk's scene layout",
        description="Turn a dataset's raw files into folk's scene layout.")
    datasets = parent.add_subparsers(dest="dataset", metavar="DATASET")
    p = datasets.add_parser(
        "scannet", help="ScanNet release folders (scans/<scene>/ with .sens, mesh, "
                        "annotations)",
        description="For every scene folder of SCANS_DIR (<scene>.sens, <scene>_vh_clean_2.ply,"
                    " <scene>_vh_clean_2.0.010000.segs.json, <scene>.aggregation.json): write "
                    "OUT/<scene>/ (frames every --stride-th, mesh, <scene>_superpoints.npy) "
                    "and OUT/gt/<scene>.txt (ScanNet200 GT). Complete scenes are skipped; "
                    "under torchrun each rank takes its share of the scenes.")
    p.set_defaults(func=run)
    p.add_argument("scans_dir", metavar="SCANS_DIR", help="ScanNet's scans/ folder")
    p.add_argument("--out", required=True, help="output folder (not inside SCANS_DIR)")
    p.add_argument("--stride", type=int, default=10,
                   help="export every n-th frame, numbered as in the .sens (default 10)")
    add_scene_list(p, "--scenes", "scenes to prepare (default: every scene folder)")
    p.add_argument("--jobs", type=int, default=1, help="scenes prepared in parallel")
    p.add_argument("--label-map", default=None,
                   help=f"ScanNet's {LABEL_MAP_NAME} (default: in SCANS_DIR or its parent); "
                        "without it no GT is written")
    p.add_argument("--require-frames", action="store_true",
                   help="a scene without <scene>.sens is an error (default: mesh, "
                        "superpoints and GT are written and the missing frames reported)")
    p.add_argument("--overwrite", action="store_true", help="redo complete scenes too")
    add_quiet(p)


def _no_dataset(args: argparse.Namespace) -> int:
    from folk.errors import FolkInputError

    raise FolkInputError("say which dataset: folk prepare scannet SCANS_DIR --out DIR")


def _find_label_map(args: argparse.Namespace) -> Path | None:
    from folk.errors import FolkInputError

    if args.label_map is not None:
        if not Path(args.label_map).is_file():
            raise FolkInputError("label map not found", args.label_map)
        return Path(args.label_map)
    scans = Path(args.scans_dir)
    for folder in (scans, scans.resolve().parent):
        if (folder / LABEL_MAP_NAME).is_file():
            return folder / LABEL_MAP_NAME
    return None


def _scene_names(args: argparse.Namespace) -> list[str]:
    from folk.data.scannet_raw import list_raw_scenes
    from folk.errors import FolkInputError
    from folk.student.inputs import parse_scene_list

    available = list_raw_scenes(args.scans_dir)
    if args.scenes is None:
        if not available:
            raise FolkInputError("no scene folders (<scene>/<scene>_vh_clean_2.ply)",
                                 args.scans_dir)
        return available
    wanted = parse_scene_list(args.scenes)
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise FolkInputError(f"--scenes names {len(missing)} scene(s) with no folder and mesh "
                             f"here, e.g. {missing[:5]}", args.scans_dir)
    return wanted


def _prepare_one(task: tuple) -> tuple[str, object]:
    """Prepare one scene (in a worker process or not): ``(name, PreparedScene)`` or
    ``(name, error message)`` for bad input."""
    name, scans_dir, out, stride, label_map_path, require_frames, overwrite = task
    from folk.data.classes import load_class_list
    from folk.data.scannet_gt import read_label_map
    from folk.data.scannet_prepare import prepare_scene
    from folk.data.scannet_raw import find_raw_scene
    from folk.errors import FolkInputError

    try:
        label_map = read_label_map(label_map_path) if label_map_path else None
        result = prepare_scene(find_raw_scene(Path(scans_dir) / name), out, stride=stride,
                               superpoints=scene_superpoints, label_map=label_map,
                               valid_ids=load_class_list("scannet200").ids,
                               require_frames=require_frames, overwrite=overwrite)
    except FolkInputError as exc:
        return name, str(exc)
    return name, result


def scene_superpoints(vertices, faces):
    """ScanNet's segmentator on the mesh; on the k-NN graph of the vertices when the mesh has
    no faces (a point cloud saved as PLY, like folk's synthetic scenes), with the settings
    ``folk proposals`` uses for a point cloud, so that its proposals from this file are the
    ones it would make itself."""
    from folk.ops import mesh_superpoints, point_superpoints
    from folk.proposals.cli import POINT_K_THRESH, POINT_OFF_PLANE

    if len(faces):
        return mesh_superpoints(vertices, faces)
    return point_superpoints(vertices, k_thresh=POINT_K_THRESH, off_plane=POINT_OFF_PLANE)


def _describe(name: str, result) -> str:
    if isinstance(result, str):
        return f"{name}: error: {result}"
    if result.skipped:
        return f"{name}: already prepared (stride {result.stride}), skipped"
    frames = (f"{result.frames_written} of {result.frames_total} frames"
              + (f" ({result.lost_poses} with lost poses)" if result.lost_poses else "")
              if result.frames_total else "no .sens: frames missing")
    gt = f"GT {result.gt_instances} instances" if result.gt_instances >= 0 else "no GT"
    return (f"{name}: {result.num_points} points, {result.num_superpoints} superpoints, "
            f"{frames}, {gt} in {result.seconds:.1f} s")


def run(args: argparse.Namespace) -> int:
    from folk.data.scannet_prepare import check_output_location
    from folk.errors import FolkInputError

    if args.stride < 1:
        raise FolkInputError(f"--stride must be >= 1, got {args.stride}")
    if args.jobs < 1:
        raise FolkInputError(f"--jobs must be >= 1, got {args.jobs}")
    if not Path(args.scans_dir).is_dir():
        raise FolkInputError("scans folder not found", args.scans_dir)
    check_output_location(args.scans_dir, args.out)
    rank, world = launcher_rank()
    names = _scene_names(args)[rank::world]
    label_map = _find_label_map(args)
    if label_map is None:
        print(f"folk prepare: no {LABEL_MAP_NAME} in {args.scans_dir} or its parent (give "
              "--label-map): no GT is written", file=sys.stderr)
    else:
        from folk.data.scannet_gt import read_label_map

        read_label_map(label_map)  # a bad file fails here, before any scene
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if world > 1:
        print(f"folk prepare: rank {rank} of {world}: {len(names)} scene(s)", file=sys.stderr)

    tasks = [(name, str(args.scans_dir), str(args.out), args.stride,
              str(label_map) if label_map else None, args.require_frames, args.overwrite)
             for name in names]
    results = dict(_run_tasks(tasks, args.jobs, progress=not args.quiet))
    failed = {n: r for n, r in results.items() if isinstance(r, str)}
    done = [r for r in results.values() if not isinstance(r, str)]
    no_frames = [r.name for r in done if not r.frames_total]
    print(f"prepared {sum(not r.skipped for r in done)}, already complete "
          f"{sum(r.skipped for r in done)}, failed {len(failed)} -> {args.out}")
    if no_frames:
        print(f"frames missing (no .sens) for {len(no_frames)} scene(s): "
              f"{', '.join(no_frames[:10])}{' ...' if len(no_frames) > 10 else ''}")
    if failed:
        raise FolkInputError(f"{len(failed)} scene(s) failed: " + "; ".join(
            f"{r}" for r in list(failed.values())[:5]))
    return 0


def _run_tasks(tasks: list[tuple], jobs: int, progress: bool):
    """Yield ``(name, result)`` per scene as they finish: one line per scene, or a progress
    bar on a terminal (the lines of failed scenes are printed either way)."""
    from folk.progress import Progress

    bar = Progress(total=len(tasks), desc="prepare", unit="scene", enabled=progress,
                   per_item=False)

    def report(name, result):
        bar.update(1)
        if not bar.on_terminal:
            print(_describe(name, result), flush=True)
        elif isinstance(result, str):
            bar.write(_describe(name, result))
        return name, result

    try:
        if jobs == 1 or len(tasks) <= 1:
            for task in tasks:
                yield report(*_prepare_one(task))
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
                futures = [pool.submit(_prepare_one, task) for task in tasks]
                for future in as_completed(futures):
                    yield report(*future.result())
    finally:
        bar.close()
