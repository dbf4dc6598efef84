"""``folk demo``: the whole pipeline on the embedded default, synthetic scenes made on the spot.

scene -> proposals -> teacher targets -> distillation -> student -> predictions -> evaluation.
Every stage is the same Python API the CLI commands wrap; the demo only chains them and prints
what each produced and how long it took.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEMO_SEEDS = (0, 1, 2)  # the last scene is held out for evaluation


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run folk end to end on synthetic scenes",
                              description=__doc__)
    p.add_argument("--workdir", default="folk-demo",
                   help="where scenes and outputs go (reused by a second run)")
    p.set_defaults(func=run)


class _Stage:
    def __init__(self, title: str):
        self.title = title

    def __enter__(self):
        print(f"== {self.title}", flush=True)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            print(f"   done in {time.perf_counter() - self.start:.2f} s", flush=True)


def run(args: argparse.Namespace) -> int:
    from folk.data import read_ground_truth, read_proposals, read_scene
    from folk.synthetic import default_name, generate_scene, is_complete

    work = Path(args.workdir)
    scenes_dir = work / "scenes"
    names = [default_name(seed) for seed in DEMO_SEEDS]
    with _Stage(f"synthetic scenes ({len(names)}, small preset) -> {scenes_dir}"):
        for seed, name in zip(DEMO_SEEDS, names):
            if not is_complete(scenes_dir, name, seed, "small", None):
                generate_scene(scenes_dir, seed=seed, preset="small", name=name)
    with _Stage("read back through the ScanNet reader"):
        for name in names:
            scene = read_scene(scenes_dir / name, dataset="scannet")
            gt = read_ground_truth(scenes_dir / "gt" / f"{name}.txt", scene.num_points)
            proposals = read_proposals(scenes_dir / "proposals" / f"{name}_masks.pt",
                                       scene.num_points)
            print(f"   {name}: {scene.num_points} points, {len(scene.frames)} frames "
                  f"(stride 10), {proposals.num_proposals} proposals, "
                  f"{len(set(gt.ids[gt.ids >= 1000].tolist()))} GT instances")
    return 0
