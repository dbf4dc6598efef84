"""``folk show``: pictures and coloured PLY files of a scene's predicted instances (beside its
ground truth), and of what the teacher sees of one proposal."""

from __future__ import annotations

import argparse
from pathlib import Path

from folk.cli_args import (
    add_clip_weights,
    add_command,
    add_pred_gt,
    add_scene_layout,
    add_trust_pickle,
    check_output_folder,
    non_negative_float,
    non_negative_int,
    scene_result_file,
)
from folk.errors import FolkInputError


def register(subparsers) -> None:
    p = add_command(
        subparsers, "show", run,
        help="pictures (PNG) and coloured PLY files of predictions and teacher views",
        description=(
            "With --pred: <out>/<scene>.png, the scene's points coloured by predicted instance "
            "from above and from an oblique view, class labels at the instances, beside the "
            "ground truth when --gt is given (same cameras; a prediction matched to a GT "
            "instance, IoU >= 0.5, has its colour), and <out>/<scene>_pred.ply (and _gt.ply) "
            "in the same colours for MeshLab, Open3D or Blender. With --proposal Q: "
            "<out>/<scene>_proposal<Q>_views.png, the teacher's selected frames for proposal "
            "Q, its sparse and completed masks, each view's CLIP label and the vote. Rendered "
            "on the CPU, no display needed."))
    p.add_argument("--scan", required=True, type=Path,
                   help="the scene: a scene folder (ScanNet layout) or a .ply of its points")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    add_pred_gt(p)
    p.add_argument("--min-confidence", type=non_negative_float, default=0.0,
                   help="leave out predicted instances below this confidence (default 0: all)")
    p.add_argument("--classes", default="scannet200", choices=("scannet200", "replica"),
                   help="benchmark class list naming the label ids; GT instances of classes "
                        "it does not evaluate (wall, floor) are drawn unlabelled (default "
                        "scannet200)")
    p.add_argument("--vocabulary", default=None,
                   help="class names the predictions were made with (as for folk predict) and "
                        "the teacher's vocabulary for --proposal (needed there)")
    g = p.add_argument_group("teacher views (--proposal)")
    g.add_argument("--proposals", type=Path, default=None,
                   help="the scene's proposal masks (N x Q: Mask3D .pt, .npy or .npz)")
    g.add_argument("--proposal", type=non_negative_int, default=None, metavar="Q",
                   help="index (column) of the proposal whose teacher views to draw")
    add_scene_layout(p)
    add_clip_weights(g, model_help="open_clip architecture (default: folk's small CLIP, as "
                                   "folk teacher)")
    add_trust_pickle(p)


def _check_args(args: argparse.Namespace) -> None:
    if args.pred is None and args.proposal is None:
        raise FolkInputError("nothing to show: give --pred (scene picture) and/or --proposal "
                             "with --proposals (teacher views)")
    if args.gt is not None and args.pred is None:
        raise FolkInputError("--gt is drawn beside the predictions: give --pred too")
    if (args.proposal is None) != (args.proposals is None):
        raise FolkInputError("--proposal Q and --proposals FILE go together")
    if args.proposal is not None and args.vocabulary is None:
        raise FolkInputError("--proposal needs --vocabulary (the teacher's class names)")
    for option in ("scan", "pred", "gt", "proposals"):
        path = getattr(args, option)
        if path is not None and not path.exists():
            raise FolkInputError(f"--{option}: not found", path)


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    check_output_folder(args.out, inputs=[args.scan, args.pred, args.gt, args.proposals])
    from folk.data.vocabulary import resolve_vocabulary

    vocabulary = resolve_vocabulary(args.vocabulary) if args.vocabulary else None
    written: list[Path] = []
    if args.pred is not None:
        written += _scene_outputs(args, vocabulary)
    if args.proposal is not None:
        written.append(_teacher_views(args, vocabulary))
    for path in written:
        print(path)
    return 0


def _scene_outputs(args: argparse.Namespace, vocabulary) -> list[Path]:
    from folk.data import read_ground_truth
    from folk.predict.submission import read_submission
    from folk.show.scene_outputs import class_names, read_scan_points, write_scene_outputs

    scene = read_scan_points(args.scan)
    n = scene.points.shape[0]
    pred = read_submission(scene_result_file(args.pred, scene.name, "predictions", "--pred"), n)
    gt = (read_ground_truth(scene_result_file(args.gt, scene.name, "ground truth", "--gt"), n)
          if args.gt is not None else None)
    return write_scene_outputs(args.out, scene, pred, gt, class_names(args.classes, vocabulary),
                               args.min_confidence)


def _teacher_views(args: argparse.Namespace, vocabulary) -> Path:
    import dataclasses

    from folk.data import read_proposals, read_scene
    from folk.show.scene_picture import write_png
    from folk.show.teacher_views import proposal_views, teacher_views_picture
    from folk.teacher.config import ClipConfig, TeacherConfig
    from folk.teacher.pipeline import Teacher

    if not args.scan.is_dir():
        raise FolkInputError("--proposal needs the scene folder (its frames) as --scan",
                             args.scan)
    scene = read_scene(args.scan, dataset=args.dataset, stride=args.stride)
    proposals = read_proposals(args.proposals, num_points=scene.num_points,
                               allow_pickle=args.trust_pickle)
    if args.proposal >= proposals.num_proposals:
        raise FolkInputError(f"--proposal {args.proposal}: the file holds "
                             f"{proposals.num_proposals} proposals (0 to "
                             f"{proposals.num_proposals - 1})", args.proposals)
    clip = {"model": args.clip_model, "pretrained": args.clip_pretrained,
            "checkpoint": args.clip_checkpoint, "weights_cache_dir": args.clip_cache_dir,
            "text_cache_dir": args.text_cache_dir}
    config = TeacherConfig(clip=dataclasses.replace(
        ClipConfig(), **{k: v for k, v in clip.items() if v is not None}))
    teacher = Teacher(config, vocabulary.names)
    views = proposal_views(teacher, scene, proposals, args.proposal)
    return write_png(args.out / f"{scene.name}_proposal{args.proposal}_views.png",
                     teacher_views_picture(views))
