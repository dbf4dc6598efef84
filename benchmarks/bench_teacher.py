#!/usr/bin/env python
"""Teacher ablation on synthetic scenes with ground-truth proposals (docs/teacher.md).

For each variant, the teacher labels every GT proposal of every scene; the labels are scored
with the ScanNet200 protocol (folk.evaluation) as instance predictions: mask = the proposal,
label = the teacher's label (proposals without a view predict nothing), confidence =
``softmax_c(100 · cos(ē, t_c))`` of that label. Also the label accuracy against the GT class
and the teacher's seconds per scene (CLIP on the CPU).

    .venv/bin/python benchmarks/bench_teacher.py --scenes 6 --out /tmp/bench-teacher
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = {
    "openmask3d crops (baseline)": {"teacher": "openmask3d"},
    "mask pooling, sparse masks": {"dense_masks": False, "theta": 0.0},
    "+ dense masks": {"dense_masks": True, "theta": 0.0},
    "+ multi-view selection (folk)": {"dense_masks": True, "theta": 15.0},
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/bench-teacher"))
    p.add_argument("--scenes", type=int, default=6)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--stride", type=int, default=None, help="frame stride (default: ScanNet's 10)")
    p.add_argument("--poolings", default="attention,mean")
    p.add_argument("--short-side", type=int, default=None)
    p.add_argument("--repeat", type=int, default=1,
                   help="time each scene this many times and keep the fastest")
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from folk.data import read_ground_truth, read_proposals, read_scene
    from folk.evaluation import evaluate
    from folk.evaluation.prediction import InstancePrediction
    from folk.synthetic import VOCABULARY, VOCABULARY_IDS, default_name, generate_scene, is_complete
    from folk.teacher.config import ViewSelectionConfig
    from folk.teacher.pipeline import ClipConfig, Teacher, TeacherConfig

    scenes_dir = args.out / "scenes"
    names = []
    for seed in range(args.first_seed, args.first_seed + args.scenes):
        name = default_name(seed)
        if not is_complete(scenes_dir, name, seed, "small"):
            generate_scene(scenes_dir, seed=seed, preset="small", progress=False)
        names.append(name)
    data = {}
    for name in names:
        scene = read_scene(scenes_dir / name, stride=args.stride)
        props = read_proposals(scenes_dir / "proposals" / f"{name}_masks.pt",
                               num_points=scene.num_points)
        gt = read_ground_truth(scenes_dir / "gt" / f"{name}.txt", num_points=scene.num_points)
        meta = json.loads((scenes_dir / name / "meta.json").read_text())
        truth = np.array([VOCABULARY.index(o["class_name"]) for o in meta["objects"]])
        data[name] = (scene, props, gt, truth)
    ids = np.array([VOCABULARY_IDS[c] for c in VOCABULARY])

    clip_cfg = ClipConfig(short_side=args.short_side)
    clip = clip_cfg.load()
    rows = []
    for variant, spec in VARIANTS.items():
        poolings = ["-"] if spec.get("teacher") == "openmask3d" else args.poolings.split(",")
        for pooling in poolings:
            if spec.get("teacher") == "openmask3d":
                cfg = TeacherConfig.openmask3d(clip=clip_cfg)
            else:
                cfg = TeacherConfig(
                    dense_masks=spec["dense_masks"],
                    views=ViewSelectionConfig(theta_deg=spec["theta"]),
                    clip=dataclasses.replace(clip_cfg, pooling=pooling))
            teacher = Teacher(cfg, list(VOCABULARY), clip=clip)
            teacher.run(*data[names[0]][:2])  # warm-up (first-call overheads)
            gts, preds, seconds, correct, total = {}, {}, [], 0, 0
            for name, (scene, props, gt, truth) in data.items():
                best = np.inf
                for _ in range(max(1, args.repeat)):
                    t0 = time.perf_counter()
                    t = teacher.run(scene, props)
                    best = min(best, time.perf_counter() - t0)
                seconds.append(best)
                ok = t.labels >= 0
                logits = 100.0 * t.targets @ t.text_embeddings.T
                prob = np.exp(logits - logits.max(1, keepdims=True))
                prob /= prob.sum(1, keepdims=True)
                conf = prob[np.arange(len(ok)), np.maximum(t.labels, 0)] * props.scores
                preds[name] = InstancePrediction(props.masks.T[ok], ids[t.labels[ok]], conf[ok])
                gts[name] = gt.ids
                correct += int((t.labels == truth).sum())
                total += len(truth)
            res = evaluate(gts, preds, "scannet200")
            row = {"variant": variant, "pooling": pooling, "ap": 100 * res.ap,
                   "ap50": 100 * res.ap50, "ap25": 100 * res.ap25,
                   "label_accuracy": 100 * correct / total,
                   "s_per_scene": float(np.mean(seconds)), "proposals": total}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| teacher | pooling | AP | AP50 | AP25 | label acc. | s/scene |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['pooling']} | {r['ap']:.1f} | {r['ap50']:.1f} | "
              f"{r['ap25']:.1f} | {r['label_accuracy']:.1f} | {r['s_per_scene']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"scenes": names, "stride": args.stride,
                                         "clip": clip.identity, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
