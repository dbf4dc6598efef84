"""``folk teacher``: CLIP teacher targets for many scenes (one ``<out>/<scene>.npz`` each).

A thin wrapper over :func:`folk.teacher.pipeline.run_teacher`: resumable (finished scenes are
skipped), shardable (``--shard i/n``, or by itself under ``torchrun``: each rank takes its share
of the scenes, on ``cuda:LOCAL_RANK`` with ``--device cuda``), with a progress bar; proposals
without a usable view are reported at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from folk.cli_args import (
    add_clip_weights,
    add_command,
    add_quiet,
    add_scene_layout,
    add_trust_pickle,
    angle_degrees,
    check_output_folder,
    launcher_rank,
    non_negative_float,
    positive_int,
)
from folk.errors import FolkInputError


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must look like 0/4, got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return i, n


def register(subparsers: argparse._SubParsersAction) -> None:
    from folk.clip.defaults import DEFAULT_MODEL, POOLINGS
    from folk.teacher.config import TEACHERS, TeacherConfig

    defaults = TeacherConfig()
    p = add_command(
        subparsers, "teacher", run,
        help="compute CLIP teacher targets for scenes and their proposals",
        description=(
            "Visibility -> multi-view selection -> dense masks -> per-view CLIP embeddings -> "
            "label vote, for every proposal of every scene; writes <out>/<scene>.npz (teacher "
            "targets). Finished scenes are skipped, so an interrupted run resumes. CLIP weights "
            "are never downloaded: the default is folk's small CLIP (trained on synthetic "
            "scenes, synthetic vocabulary only); for real scans give real CLIP weights with "
            "--clip-model and --clip-pretrained (from the local cache) or --clip-checkpoint."))
    p.add_argument("scenes", nargs="+", type=Path, metavar="SCENE",
                   help="scene folders (ScanNet layout), or folders holding scene folders")
    p.add_argument("--out", required=True, type=Path, help="output folder of <scene>.npz")
    p.add_argument("--proposals", type=Path, default=None,
                   help="folder of per-scene proposals (<scene>_masks.pt/.npy/.npz or "
                        "<scene>.*, optional <scene>_scores.*, as folk distill and folk predict "
                        "read them); default: a 'proposals' folder beside the scenes")
    p.add_argument("--vocabulary", required=True,
                   help="'synthetic', 'scannet200', 'replica', a file with one class per line, "
                        "or a comma-separated list")
    add_scene_layout(p)
    p.add_argument("--teacher", default=defaults.teacher, choices=TEACHERS,
                   help=f"'folk' or the 'openmask3d' crop baseline (default {defaults.teacher})")
    g = p.add_argument_group("CLIP")
    add_clip_weights(g, model_help=f"open_clip architecture (default {DEFAULT_MODEL})")
    g.add_argument("--pooling", default=None, choices=POOLINGS,
                   help=f"mask pooling (default {defaults.clip.pooling})")
    g.add_argument("--clip-short-side", type=positive_int, default=None,
                   help="CLIP input size of a frame's shorter side, pixels (default: the "
                        "model's recommended one)")
    g.add_argument("--batch-frames", type=positive_int, default=None,
                   help=f"frames per CLIP forward (default {defaults.clip.batch_frames})")
    g.add_argument("--device", default="cpu",
                   help="'cpu' or 'cuda[:N]': CLIP and the geometry kernels run there")
    g = p.add_argument_group("views and masks")
    g.add_argument("--k", type=positive_int, default=None,
                   help=f"views per proposal (default {defaults.views.k})")
    g.add_argument("--theta", type=angle_degrees, default=None,
                   help=f"minimum rotation between views, degrees (default "
                        f"{defaults.views.theta_deg:g}; 0 = plain top-k)")
    g.add_argument("--delta", type=non_negative_float, default=None,
                   help=f"depth tolerance, metres (default {defaults.visibility.delta})")
    g.add_argument("--sparse-masks", action="store_true",
                   help="pool the sparse masks (no density-guided completion)")
    p.add_argument("--shard", type=_shard, default=None,
                   help="i/n: this process's share of the scenes (default: all of them, or, "
                        "under torchrun, the rank's share: RANK/WORLD_SIZE)")
    p.add_argument("--overwrite", action="store_true", help="redo finished scenes")
    add_trust_pickle(p)
    add_quiet(p)


def _vocabulary(spec: str) -> list[str]:
    from folk.data.vocabulary import resolve_vocabulary

    return list(resolve_vocabulary(spec).names)


def find_jobs(paths: list[Path], proposals: Path | None, dataset: str, stride: int | None,
              allow_pickle: bool = False):
    """Scene folders (given directly or one level down) with their proposal files, found by
    :func:`folk.proposals.files.proposal_files` (the names every command reads)."""
    from folk.proposals.files import proposal_files
    from folk.teacher.pipeline import SceneJob

    roots: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise FolkInputError("scene folder not found", path)
        if (path / "color").is_dir():
            roots.append(path)
        else:
            found = sorted(p for p in path.iterdir() if (p / "color").is_dir())
            if not found:
                raise FolkInputError("neither a scene folder (no color/) nor a folder of "
                                     "scenes", path)
            roots.extend(found)
    jobs = []
    for root in roots:
        folder = proposals or root.parent / "proposals"
        if not folder.is_dir():
            raise FolkInputError("proposals folder not found (set --proposals)", folder)
        masks, scores = proposal_files(folder, root.name)
        jobs.append(SceneJob(root.name, root, masks, scores, dataset, stride, allow_pickle))
    names = [j.name for j in jobs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise FolkInputError(f"scene names given twice: {dup[:5]}")
    return jobs


def shard_and_device(args: argparse.Namespace, environ=os.environ) -> tuple[tuple[int, int], str]:
    """``(shard, device)`` of this process: ``--shard``, else the launcher's rank share
    (:func:`folk.cli_args.launcher_rank`); ``--device cuda`` becomes ``cuda:LOCAL_RANK`` under
    a launcher that sets ``LOCAL_RANK``, so each rank of a node uses its own GPU."""
    rank, world = launcher_rank(environ)
    if args.shard is not None and world > 1:
        raise FolkInputError(f"--shard {args.shard[0]}/{args.shard[1]} under a launcher with "
                             f"WORLD_SIZE={world}: give one or the other (under torchrun each "
                             "rank takes its share by itself)")
    device = args.device
    if device == "cuda" and world > 1 and "LOCAL_RANK" in environ:
        try:
            device = f"cuda:{int(environ['LOCAL_RANK'])}"
        except ValueError:
            raise FolkInputError(f"LOCAL_RANK={environ['LOCAL_RANK']!r} is not an integer") \
                from None
    return args.shard or (rank, world), device


def build_config(args: argparse.Namespace):
    import dataclasses

    from folk.teacher.config import (
        ClipConfig,
        TeacherConfig,
        ViewSelectionConfig,
        VisibilityConfig,
    )

    base = TeacherConfig.openmask3d() if args.teacher == "openmask3d" else TeacherConfig()
    clip = {"model": args.clip_model, "pretrained": args.clip_pretrained,
            "checkpoint": args.clip_checkpoint, "weights_cache_dir": args.clip_cache_dir,
            "text_cache_dir": args.text_cache_dir, "pooling": args.pooling,
            "short_side": args.clip_short_side, "batch_frames": args.batch_frames,
            "device": args.device}
    clip = {k: v for k, v in clip.items() if v is not None}
    views = {k: v for k, v in {"k": args.k, "theta_deg": args.theta}.items() if v is not None}
    changes = {"clip": dataclasses.replace(ClipConfig(), **clip),
               "views": dataclasses.replace(base.views, **views) if views else base.views}
    if args.device.startswith("cuda"):
        changes["geometry_device"] = args.device
    if args.delta is not None:
        changes["visibility"] = VisibilityConfig(delta=args.delta)
    if args.sparse_masks:
        changes["dense_masks"] = False
    assert isinstance(base.views, ViewSelectionConfig)
    return dataclasses.replace(base, **changes)


def run(args: argparse.Namespace) -> int:
    from folk.teacher.pipeline import run_teacher, shard_jobs

    shard, args.device = shard_and_device(args)
    jobs = find_jobs(args.scenes, args.proposals, args.dataset, args.stride, args.trust_pickle)
    check_output_folder(args.out, inputs=[args.proposals, *args.scenes,
                                          *(job.root for job in jobs),
                                          *(job.proposals.parent for job in jobs)])
    config = build_config(args)
    if shard[1] > 1:
        print(f"folk teacher: shard {shard[0]} of {shard[1]}: "
              f"{len(shard_jobs(jobs, shard))} of {len(jobs)} scene(s)", file=sys.stderr)
    report = run_teacher(jobs, args.out, config, _vocabulary(args.vocabulary),
                         shard=shard, overwrite=args.overwrite, progress=not args.quiet)
    for scene, settings in report.redone.items():
        print(f"folk teacher: {scene}: redone, its targets were made with another "
              f"{', '.join(settings[:5])}", file=sys.stderr)
    print(f"folk teacher: {len(report.done)} scene(s) done, {len(report.skipped)} already "
          f"finished (skipped) -> {args.out}")
    for scene, seconds in report.seconds.items():
        print(f"  {scene}: {seconds:.1f} s")
    if report.no_view:
        total = sum(len(v) for v in report.no_view.values())
        print(f"folk teacher: {total} proposal(s) in {len(report.no_view)} scene(s) have no "
              "usable view (label -1, left out of distillation):", file=sys.stderr)
        for scene, ids in report.no_view.items():
            print(f"  {scene}: proposals {ids[:20]}{' ...' if len(ids) > 20 else ''}",
                  file=sys.stderr)
    return 0
