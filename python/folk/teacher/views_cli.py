"""``folk views``: visibility counts and view selection for one scene.

Reads a scene in the ScanNet layout (or Replica / Open-YOLO 3D's variant) and Mask3D-format
proposals, counts per (frame, proposal) the visible points and the distinct pixels they hit
(:func:`folk.ops.visibility.visibility_counts`, frames streamed in chunks so memory stays
bounded), selects views per proposal (:func:`folk.ops.views.select_views`) and writes one
``.npz``:

=============  ==========  ================================================================
``frame_ids``  (F,) int64  ids of the frames used (file numbers; frames with bad poses are
                           not among them)
``counts``     (F, Q) i32  visible points of proposal q in frame f
``pixels``     (F, Q) i32  distinct depth pixels those points hit
``selected``   (Q, K) i64  frame ids of the selected views, rank order, −1 padded
``config``     str         JSON of the parameters used
=============  ==========  ================================================================
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from folk.cli_args import (
    add_command,
    add_scene_layout,
    add_trust_pickle,
    angle_degrees,
    check_output_file,
    non_negative_float,
    positive_int,
)
from folk.files import save_npz
from folk.teacher.config import TeacherConfig, ViewSelectionConfig, VisibilityConfig


def register(subparsers) -> None:
    vis, sel = VisibilityConfig(), ViewSelectionConfig()
    p = add_command(
        subparsers, "views", run, help="visibility counts and view selection for one scene",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scene", required=True, type=Path, help="scene folder")
    p.add_argument("--proposals", required=True, type=Path,
                   help="Mask3D proposal masks (N x Q): .pt/.npy/.npz")
    p.add_argument("--scores", type=Path, default=None, help="optional (Q,) proposal scores")
    add_scene_layout(p)
    p.add_argument("--delta", type=non_negative_float, default=vis.delta,
                   help=f"depth tolerance in metres (default: {vis.delta})")
    p.add_argument("--k", type=positive_int, default=sel.k, help=f"views per proposal (default: {sel.k})")
    p.add_argument("--theta", type=angle_degrees, default=sel.theta_deg,
                   help=f"minimum rotation between views, degrees (default: {sel.theta_deg})")
    p.add_argument("--min-visible", type=positive_int, default=sel.min_visible,
                   help=f"minimum visible points of a candidate view (default: "
                        f"{sel.min_visible})")
    p.add_argument("--refill", action="store_true",
                   help="walk past the top-k until k views are kept")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.add_argument("--chunk-frames", type=positive_int, default=TeacherConfig().frame_chunk,
                   help=f"depth frames held in memory at once (default: "
                        f"{TeacherConfig().frame_chunk}, as the teacher's)")
    add_trust_pickle(p)
    p.add_argument("--out", required=True, type=Path, help="output .npz")


def run(args: argparse.Namespace) -> int:
    from folk.data import read_proposals, read_scene
    from folk.data.membership import ProposalMembership
    from folk.ops.views import select_views
    from folk.ops.visibility import visibility_counts

    vis_cfg = VisibilityConfig(delta=args.delta)
    sel_cfg = ViewSelectionConfig(k=args.k, theta_deg=args.theta, min_visible=args.min_visible,
                                  refill=args.refill)
    check_output_file(args.out, inputs=[args.proposals, args.scores, args.scene])
    times: dict[str, float] = {}

    t = time.perf_counter()
    scene = read_scene(args.scene, dataset=args.dataset, stride=args.stride)
    times["read scene"] = time.perf_counter() - t

    t = time.perf_counter()
    proposals = read_proposals(args.proposals, num_points=scene.num_points,
                               scores_path=args.scores, allow_pickle=args.trust_pickle)
    membership = ProposalMembership.from_masks(proposals.masks)
    times["read proposals"] = time.perf_counter() - t

    frames = scene.frames
    f, q = len(frames), membership.num_proposals
    counts = np.zeros((f, q), dtype=np.int32)
    pixels = np.zeros((f, q), dtype=np.int32)
    mb = membership
    points = scene.points
    if args.device != "cpu":
        import torch

        points = torch.from_numpy(points).to(args.device)
        mb = mb.to(args.device)
    t_load = t_kernel = 0.0
    start = 0
    while start < f:
        # A chunk of consecutive frames of one depth size.
        size = frames[start].depth_intrinsics.size
        stop = start + 1
        while (stop < f and stop - start < args.chunk_frames
               and frames[stop].depth_intrinsics.size == size):
            stop += 1
        chunk = frames[start:stop]
        t = time.perf_counter()
        depths = np.stack([fr.load_depth() for fr in chunk])
        t_load += time.perf_counter() - t
        t = time.perf_counter()
        poses = np.stack([fr.pose for fr in chunk])
        intr = np.array([[fr.depth_intrinsics.fx, fr.depth_intrinsics.fy,
                          fr.depth_intrinsics.cx, fr.depth_intrinsics.cy] for fr in chunk])
        if args.device != "cpu":
            depths = torch.from_numpy(depths).to(args.device)
        out = visibility_counts(points, poses, intr, depths, mb, delta=vis_cfg.delta,
                                device=args.device)
        counts[start:stop] = np.asarray(out.counts.cpu() if hasattr(out.counts, "cpu")
                                        else out.counts)
        pixels[start:stop] = np.asarray(out.pixels.cpu() if hasattr(out.pixels, "cpu")
                                        else out.pixels)
        t_kernel += time.perf_counter() - t
        start = stop
    times["load depth"] = t_load
    times["visibility"] = t_kernel

    t = time.perf_counter()
    poses = scene.poses
    selected_index = select_views(counts, poses, **sel_cfg.kwargs())
    frame_ids = scene.frame_ids
    selected = np.full(selected_index.shape, -1, dtype=np.int64)
    has_view = selected_index >= 0
    selected[has_view] = frame_ids[selected_index[has_view]]
    times["view selection"] = time.perf_counter() - t

    t = time.perf_counter()
    config = {"scene": str(args.scene), "proposals": str(args.proposals),
              "dataset": args.dataset, "stride": args.stride,
              "visibility": vis_cfg.kwargs(), "views": sel_cfg.kwargs()}
    save_npz(args.out, frame_ids=frame_ids.astype(np.int64), counts=counts, pixels=pixels,
             selected=selected, config=np.array(json.dumps(config)))
    times["write"] = time.perf_counter() - t

    views_per = (selected >= 0).sum(axis=1)
    print(f"folk views: {scene.name}: {scene.num_points} points, {f} frames"
          f" ({len(scene.skipped_frames)} skipped for bad poses), {q} proposals")
    print(f"  views per proposal: mean {views_per.mean() if q else 0:.2f}, "
          f"{int((views_per == 0).sum())} proposal(s) without any view")
    for stage, seconds in times.items():
        print(f"  {stage:<16s}{seconds:8.3f} s")
    print(f"  wrote {args.out}")
    return 0
