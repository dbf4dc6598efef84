"""``folk view``: an interactive web viewer of one scene's instances with live free-text
queries (:mod:`folk.show.viewer`); prints its URL and serves until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from folk.cli_args import (
    add_command,
    add_pred_gt,
    add_scene_inputs,
    add_student,
    add_vocabulary,
    clip_choice_from_args,
    positive_int,
    scene_result_file,
)
from folk.errors import FolkInputError


def register(subparsers) -> None:
    p = add_command(
        subparsers, "view", run,
        help="interactive web viewer with live text queries (opens in a browser)",
        description=(
            "Serve a web page showing the scene's points coloured by instance (the proposals "
            "the student keeps after NMS, named by --pred's classes), a legend, a prediction / "
            "ground-truth toggle (with --gt) and a text box: a phrase typed there scores every "
            "instance live (cosine between its student embedding and the phrase's CLIP text "
            "embedding; no images) and colours the points by similarity, the best matches "
            "labelled. Works on a headless server: open the printed URL (through an SSH "
            "tunnel, e.g. ssh -L 8080:127.0.0.1:8080 HOST)."))
    p.add_argument("--scan", required=True, type=Path,
                   help="the scene: a scene folder (ScanNet layout) or a .ply of its points; "
                        "its name finds its features and proposals")
    add_scene_inputs(p)
    add_student(p)
    add_pred_gt(p)
    add_vocabulary(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1; 0.0.0.0: every interface)")
    p.add_argument("--port", type=positive_int, default=8080,
                   help="port to serve on (default 8080; the next free one if taken)")


def load(args: argparse.Namespace):
    """``(ViewScene, PhraseEncoder)`` of the parsed options, without importing torch (the
    student runs in NumPy; CLIP is loaded at the first phrase that needs it)."""
    from folk.data import read_ground_truth
    from folk.predict.cli import check_feature_width, load_student
    from folk.predict.submission import read_submission
    from folk.predict.vocabulary import resolve_vocabulary
    from folk.show.live_query import PhraseEncoder
    from folk.show.scene_outputs import class_names, read_scan_points
    from folk.show.view_scene import load_view_scene

    for option in ("scan", "pred", "gt"):
        path = getattr(args, option)
        if path is not None and not path.exists():
            raise FolkInputError(f"--{option}: not found", path)
    names = class_names("scannet200", resolve_vocabulary(args.vocabulary))
    scene = read_scan_points(args.scan)
    inputs, adapter, meta = load_student(args, without_torch=True)
    features, proposals = inputs.load(scene.name)
    check_feature_width(args, scene.name, features, adapter)
    n = scene.points.shape[0]
    pred = (read_submission(scene_result_file(args.pred, scene.name, "predictions", "--pred"), n)
            if args.pred is not None else None)
    gt = (read_ground_truth(scene_result_file(args.gt, scene.name, "ground truth", "--gt"), n)
          if args.gt is not None else None)
    view = load_view_scene(scene, features, proposals, adapter, args.nms_iou, names, pred, gt)
    encoder = PhraseEncoder(args.checkpoint, meta, args.text_embeddings,
                            clip_choice_from_args(args))
    return view, encoder


def run(args: argparse.Namespace) -> int:
    from folk.show.viewer import Viewer

    start = time.perf_counter()
    view, encoder = load(args)
    try:
        viewer = Viewer(view, encoder, host=args.host, port=args.port)
    except OSError as exc:
        raise FolkInputError(f"cannot serve on {args.host}:{args.port}: "
                             f"{exc.strerror or exc}") from None
    print(f"folk view: {view.scene.name}, {view.scene.points.shape[0]} points, "
          f"{len(view.instances.names)} instances, loaded in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    print(viewer.url, flush=True)
    try:
        viewer.serve_forever()
    except KeyboardInterrupt:
        print("folk view: stopped", file=sys.stderr)
    return 0
