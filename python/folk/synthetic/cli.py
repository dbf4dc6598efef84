"""``folk synth``: write synthetic scenes (ScanNet layout) for tests, demos and benchmarks."""

from __future__ import annotations

import argparse
import time

from folk.cli_args import (
    add_command,
    add_quiet,
    check_output_folder,
    non_negative_int,
    positive_int,
)
from folk.synthetic.config import PRESETS


def register(subparsers) -> None:
    p = add_command(
        subparsers, "synth", run,
        help="generate synthetic RGB-D scenes in the ScanNet layout",
        description="Generate synthetic scenes <out>/synthSSSS_00 (points, frames, GT, "
                    "GT proposals), deterministic per seed.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--preset", default="small", choices=sorted(PRESETS),
                   help="small: ~25k points, seconds to make; scannet: a ScanNet-sized scene "
                        "(default small)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the first scene")
    p.add_argument("--scenes", type=positive_int, default=1, help="number of scenes (seeds S, S+1, ...)")
    p.add_argument("--frames", type=positive_int, default=None,
                   help="raw frames per scene (default: the preset's)")
    p.add_argument("--overwrite", action="store_true",
                   help="regenerate scenes that are already complete")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from folk.synthetic.writer import default_name, generate_scene, is_complete

    check_output_folder(args.out)
    overrides = {} if args.frames is None else {"n_frames": args.frames}
    for seed in range(args.seed, args.seed + args.scenes):
        name = default_name(seed)
        if not args.overwrite and is_complete(args.out, name, seed, args.preset,
                                              overrides.get("n_frames")):
            print(f"{name}: already complete, skipped")
            continue
        t0 = time.perf_counter()
        scene = generate_scene(args.out, seed=seed, preset=args.preset, name=name,
                               progress=not args.quiet, **overrides)
        print(f"{name}: {scene.n_points} points, {scene.n_objects} objects, "
              f"{scene.n_frames} frames in {time.perf_counter() - t0:.1f} s -> {scene.root}")
    return 0
