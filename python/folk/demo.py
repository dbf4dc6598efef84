"""``folk demo``: the whole pipeline on the embedded default, synthetic scenes made on the spot.

scene -> proposals -> teacher targets -> distillation -> student -> predictions -> evaluation
-> deployment (the student exported, predicting again without PyTorch: the same AP)
-> pictures (folk show: the held-out scene's instances beside its GT, one proposal's
teacher views, coloured PLY files).
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

from folk.cli_args import add_command, check_output_folder, positive_int
from folk.errors import FolkError

TRAIN_SEEDS = (0, 1, 2)
VAL_SEED = 3
TEST_SEED = 4


def register(subparsers) -> None:
    p = add_command(subparsers, "demo", run, help="run folk end to end on synthetic scenes",
                    description=__doc__)
    p.add_argument("--workdir", default="folk-demo",
                   help="where scenes and outputs go (reused by a second run)")
    p.add_argument("--epochs", type=positive_int, default=300,
                   help="distillation epochs (few proposals: many short epochs; default 300)")


def _folk(*argv: str) -> None:
    from folk.cli import run_command

    print(f"\n$ folk {shlex.join(argv)}", flush=True)
    start = time.perf_counter()
    if run_command(list(argv)) != 0:
        raise FolkError(f"`folk {argv[0]}` failed (see above)")
    print(f"   [{argv[0]}: {time.perf_counter() - start:.1f} s]", flush=True)


def run(args: argparse.Namespace) -> int:
    from folk.synthetic import default_name

    work = check_output_folder(args.workdir, "--workdir")
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
    # 5. Deployment: the student exported for the torch-free runtime, the same scene again.
    deployment, preds_runtime = work / "deployment", work / "predictions-runtime"
    _folk("export", "--checkpoint", str(student), "--vocabulary", "synthetic",
          "--out", str(deployment))
    _folk("predict", *inputs, "--checkpoint", str(student), "--vocabulary", "synthetic",
          "--scenes", test, "--out", str(preds_runtime), "--runtime", "onnx",
          "--deployment", str(deployment), "--quiet")
    _folk("eval", "--gt", str(gt_test), "--pred", str(preds_runtime), "--dataset", "scannet200",
          "--json", str(work / "eval-runtime.json"))
    ap_torch, ap_runtime = (_ap(work / name) for name in ("eval.json", "eval-runtime.json"))
    print(f"\nfolk demo: AP {ap_torch:.4f} with PyTorch, {ap_runtime:.4f} with the exported "
          f"student run by folk_runtime (ONNX Runtime, torch-free) from {deployment}/")
    if abs(ap_torch - ap_runtime) > 1e-9:
        raise FolkError("the deployment runtime's AP differs from PyTorch's (a bug: please "
                        "report it)")
    # 6. Free-text query over the held-out scene's instances (and its points coloured by it).
    _folk("query", "chair", "--scene", test, *inputs, "--checkpoint", str(student), "--top", "3",
          "--ply", str(work / "pictures" / f"{test}_query_chair.ply"))
    # 7. Pictures: the held-out scene's instances beside its GT, and one proposal's teacher views.
    _folk("show", "--scan", str(scenes / test), "--pred", str(preds), "--gt", str(gt_test),
          "--vocabulary", "synthetic", "--proposals", str(scenes / "proposals" / f"{test}_masks.pt"),
          "--proposal", str(_most_viewed_proposal(targets / f"{test}.npz")),
          "--out", str(work / "pictures"))
    print(f"\nfolk demo: outputs in {work}/ (targets/, student/, predictions/, eval.json, "
          "deployment/, predictions-runtime/, pictures/)")
    return 0


def _most_viewed_proposal(targets: Path) -> int:
    """The proposal the teacher saw in the most views (the most to show of it)."""
    from folk.teacher.targets import load_targets

    return int((load_targets(targets).view_ids >= 0).sum(axis=1).argmax())


def _ap(path: Path) -> float:
    """The overall AP of a ``folk eval --json`` file."""
    import json

    return float(json.loads(path.read_text())["ap"])
