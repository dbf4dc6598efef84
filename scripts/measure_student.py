#!/usr/bin/env python
"""Student vs teacher on synthetic scenes (issue 6's measurement), written as a table.

Train on some synthetic scenes, evaluate on others (never the same): teacher AP (its voted
labels on the proposals), student AP for a sweep of (λ1, λ2), label agreement of the student
with the teacher on the test scenes, and per-scene time of the student's prediction against the
full teacher. Proposals are the GT instances (standing in for Mask3D), features the geometric
ones, CLIP folk's small model.

    .venv/bin/python scripts/measure_student.py --workdir /tmp/folk-measure

Prints a Markdown table and writes ``<workdir>/student_vs_teacher.json``. Finished scenes,
targets and checkpoints are reused by a second run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from folk.cli import main as folk
from folk.data import read_ground_truth, read_proposals, read_scene
from folk.evaluation import InstancePrediction, evaluate
from folk.features import GeometricFeatures
from folk.predict.predictor import PredictConfig, predict_scene
from folk.predict.vocabulary import load_text_embeddings
from folk.student.model import load_adapter
from folk.synthetic import VOCABULARY, VOCABULARY_IDS, default_name
from folk.teacher.targets import load_targets

LAMBDAS = ((1.0, 0.0), (0.8, 0.2), (0.2, 0.8), (0.0, 1.0))  # (λ1 contrastive, λ2 label)


def _run(*argv: str) -> None:
    if folk(list(argv)) != 0:
        raise SystemExit(f"folk {argv[0]} failed")


def _ap(result) -> dict[str, float]:
    return {"ap": result.ap, "ap50": result.ap50, "ap25": result.ap25}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("folk-measure"))
    parser.add_argument("--train", type=int, default=12, help="training scenes")
    parser.add_argument("--val", type=int, default=2, help="validation scenes (best.pt)")
    parser.add_argument("--test", type=int, default=4, help="held-out test scenes")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-proposals", type=int, default=32,
                        help="small data: small batches, so that training takes enough steps")
    args = parser.parse_args()

    work = args.workdir
    names = [default_name(s) for s in range(args.train + args.val + args.test)]
    train, val = names[:args.train], names[args.train:args.train + args.val]
    test = names[args.train + args.val:]
    scenes, targets = work / "scenes", work / "targets"

    _run("synth", "--out", str(scenes), "--scenes", str(len(names)), "--quiet")
    t0 = time.perf_counter()
    _run("teacher", *[str(scenes / n) for n in names], "--out", str(targets),
         "--proposals", str(scenes / "proposals"), "--vocabulary", "synthetic", "--quiet")
    teacher_wall = time.perf_counter() - t0

    # Test scenes: GT, proposals, teacher predictions (voted label on each proposal, conf 1).
    label_ids = np.array([VOCABULARY_IDS[c] for c in VOCABULARY])
    gts, proposals, teacher_preds, teacher_labels, teacher_seconds, feats = {}, {}, {}, {}, [], {}
    features = GeometricFeatures()
    feature_seconds = []
    for name in test:
        scene = read_scene(scenes / name)
        gts[name] = read_ground_truth(scenes / "gt" / f"{name}.txt", scene.num_points).ids
        proposals[name] = read_proposals(scenes / "proposals" / f"{name}_masks.pt",
                                         scene.num_points)
        t = load_targets(targets / f"{name}.npz")
        assert list(t.vocabulary) == list(VOCABULARY), "teacher vocabulary differs"
        keep = t.valid
        teacher_labels[name] = t.labels
        teacher_preds[name] = InstancePrediction(
            proposals[name].masks[:, keep], label_ids[t.labels[keep]],
            np.ones(int(keep.sum())))
        teacher_seconds.append(float(t.meta.get("seconds", {}).get("total", np.nan)))
        start = time.perf_counter()
        feats[name] = features(scene)
        feature_seconds.append(time.perf_counter() - start)
    teacher_result = evaluate(gts, teacher_preds, "scannet200")

    rows = []
    for lam_con, lam_ce in LAMBDAS:
        out = work / f"student-{lam_con:g}-{lam_ce:g}"
        if not (out / "best.pt").is_file():
            _run("distill", "--targets", str(targets), "--features", "geometric",
                 "--scans", str(scenes), "--proposals", str(scenes / "proposals"),
                 "--scenes-train", ",".join(train), "--scenes-val", ",".join(val),
                 "--gt", str(scenes / "gt"), "--out", str(out), "--epochs", str(args.epochs),
                 "--batch-proposals", str(args.batch_proposals),
                 "--lambda-con", str(lam_con), "--lambda-ce", str(lam_ce), "--quiet")
        adapter, meta = load_adapter(out / "best.pt")
        text = load_text_embeddings(out / "text_embeddings.npz")
        text_emb = text.embeddings[[list(text.names).index(c) for c in VOCABULARY]]
        preds, agree, total, seconds = {}, 0, 0, []
        for name in test:
            predict_scene(feats[name], proposals[name], adapter, text_emb, label_ids,
                          tau_l=meta.get("tau_l", 0.01))  # warm-up: time the second call
            p = predict_scene(feats[name], proposals[name], adapter, text_emb, label_ids,
                              PredictConfig(confidence_one=True),
                              tau_l=meta.get("tau_l", 0.01), scene=name)
            seconds.append(sum(p.timings.values()))
            preds[name] = p.to_instance_prediction()
            teacher = teacher_labels[name][p.proposal_index]
            valid = teacher >= 0
            agree += int((p.class_index[valid] == teacher[valid]).sum())
            total += int(valid.sum())
        result = evaluate(gts, preds, "scannet200")
        rows.append({"lambda_con": lam_con, "lambda_ce": lam_ce, **_ap(result),
                     "agreement": agree / max(total, 1),
                     "student_seconds_per_scene": float(np.mean(seconds))})

    report = {
        "scenes": {"train": train, "val": val, "test": test},
        "teacher": {**_ap(teacher_result),
                    "seconds_per_scene": float(np.nanmean(teacher_seconds)),
                    "wall_seconds_all_scenes": teacher_wall},
        "geometric_features_seconds_per_scene": float(np.mean(feature_seconds)),
        "students": rows,
    }
    (work / "student_vs_teacher.json").write_text(json.dumps(report, indent=2))

    print(f"\n{len(train)} train / {len(val)} val / {len(test)} test synthetic scenes "
          f"(small preset), GT proposals, confidence 1\n")
    print("| model | AP | AP50 | AP25 | agreement with teacher | s/scene |")
    print("|---|---|---|---|---|---|")
    tr = report["teacher"]
    print(f"| teacher (small CLIP, images) | {100 * tr['ap']:.1f} | {100 * tr['ap50']:.1f} | "
          f"{100 * tr['ap25']:.1f} | – | {tr['seconds_per_scene']:.2f} |")
    for r in rows:
        print(f"| student λ1={r['lambda_con']:g}, λ2={r['lambda_ce']:g} | {100 * r['ap']:.1f} | "
              f"{100 * r['ap50']:.1f} | {100 * r['ap25']:.1f} | {100 * r['agreement']:.1f}% | "
              f"{r['student_seconds_per_scene']:.4f} |")
    print(f"\ngeometric point features: {report['geometric_features_seconds_per_scene']:.2f} "
          "s/scene (the student's input; Mask3D's features would replace them)")


if __name__ == "__main__":
    main()
