"""``folk demo``: the whole pipeline on the embedded default, synthetic scenes made on the spot.

scene -> proposals -> teacher targets -> distillation -> student -> predictions -> evaluation.
Each stage is the ``folk`` command a user would type (printed before it runs), so the demo is
also a worked example. Proposals are the scenes' GT instances in Mask3D's format (standing in
for Mask3D), point features the geometric ones (no 3D backbone needed), CLIP folk's small
model trained on synthetic objects. A second run reuses what the first one finished.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import time
from pathlib import Path

TRAIN_SEEDS = (0, 1, 2)
VAL_SEED = 3
TEST_SEED = 4


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run folk end to end on synthetic scenes",
                              description=__doc__)
    p.add_argument("--workdir", default="folk-demo",
                   help="where scenes and outputs go (reused by a second run)")
    p.add_argument("--epochs", type=int, default=300,
                   help="distillation epochs (few proposals: many short epochs)")
    p.set_defaults(func=run)


def _folk(*argv: str) -> None:
    from folk.cli import main
    from folk.errors import FolkError

    print(f"\n$ folk {shlex.join(argv)}", flush=True)
    start = time.perf_counter()
    if main(list(argv)) != 0:
        raise FolkError(f"`folk {argv[0]}` failed (see above)")
    print(f"   [{argv[0]}: {time.perf_counter() - start:.1f} s]", flush=True)


def run(args: argparse.Namespace) -> int:
    from folk.synthetic import default_name

    work = Path(args.workdir)
    scenes, targets, student, preds = (work / d for d in ("scenes", "targets", "student",
                                                          "predictions"))
    train = [default_name(s) for s in TRAIN_SEEDS]
    val, test = default_name(VAL_SEED), default_name(TEST_SEED)
    everything = [*train, val, test]

    # 1. Scans: RGB-D frames, points, GT, GT instances as Mask3D-format proposals.
    _folk("synth", "--out", str(scenes), "--scenes", str(len(everything)), "--seed", "0",
          "--quiet")
    # 2. Teacher (offline, uses the images): visibility, views, dense masks, CLIP, vote.
    _folk("teacher", *[str(scenes / s) for s in everything], "--out", str(targets),
          "--proposals", str(scenes / "proposals"), "--vocabulary", "synthetic", "--quiet")
    # 3. Distillation into the student (VL-adapter on geometric point features).
    inputs = ["--features", "geometric", "--scans", str(scenes),
              "--proposals", str(scenes / "proposals")]
    if not (student / "best.pt").is_file():
        _folk("distill", "--targets", str(targets), *inputs, "--scenes-train", ",".join(train),
              "--scenes-val", val, "--gt", str(scenes / "gt"), "--out", str(student),
              "--epochs", str(args.epochs), "--batch-proposals", "16", "--quiet")
    # 4. Image-free prediction on a scene the student never saw, then the benchmark metric.
    _folk("predict", *inputs, "--checkpoint", str(student), "--vocabulary", "synthetic",
          "--scenes", test, "--out", str(preds))
    gt_test = work / "gt-test"  # folk eval scores every scene of --gt: only the held-out one
    gt_test.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(scenes / "gt" / f"{test}.txt", gt_test / f"{test}.txt")
    _folk("eval", "--gt", str(gt_test), "--pred", str(preds), "--dataset", "scannet200",
          "--json", str(work / "eval.json"))
    # 5. Free-text query over the held-out scene's instances.
    _folk("query", "chair", "--scene", test, *inputs, "--checkpoint", str(student), "--top", "3")
    print(f"\nfolk demo: outputs in {work}/ (targets/, student/, predictions/, eval.json)")
    return 0
