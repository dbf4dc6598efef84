#!/usr/bin/env python
"""The teacher: its ablation (a script) and its speed against the student's (pytest-benchmark).

**Ablation** (docs/teacher.md), run as a script: for each variant, the teacher labels every GT
proposal of every synthetic scene; the labels are scored with the ScanNet200 protocol
(folk.evaluation) as instance predictions: mask = the proposal, label = the teacher's label
(proposals without a view predict nothing), confidence = ``softmax_c(100 · cos(ē, t_c))`` of
that label. Also the label accuracy against the GT class and the teacher's seconds per scene
(CLIP on the CPU).

    .venv/bin/python benchmarks/bench_teacher.py --scenes 6 --out /tmp/bench-teacher

**Seconds per scene** (benchmarks/RESULTS.md), under pytest-benchmark: one small synthetic scene
(seed 0, ScanNet's stride: 10 frames) with its GT instances as proposals. The folk teacher and
the OpenMask3D-style crop baseline with folk's small CLIP and with a ViT-B/16-sized CLIP
(random weights: speed only), including reading the frames; the student's label step
(``predict_scene``) and folk's geometric features on the same scene.

    .venv/bin/python -m pytest benchmarks/bench_teacher.py
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

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
    from folk.predict.instances import InstancePrediction
    from folk.synthetic import VOCABULARY, VOCABULARY_IDS, default_name, generate_scene, is_complete
    from folk.teacher.config import ClipConfig, TeacherConfig, ViewSelectionConfig
    from folk.teacher.pipeline import Teacher

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
                preds[name] = InstancePrediction(props.masks[:, ok], ids[t.labels[ok]], conf[ok])
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


# ---- pytest-benchmark: seconds per scene, teacher vs student -------------------------------

TIMING_SEED = 0
#: The student's input on the timing scene: Mask3D-wide random features, a default-sized adapter.
STUDENT_FEATURE_DIM, STUDENT_HIDDEN, STUDENT_TEXT_DIM = 96, 512, 512


@pytest.fixture(scope="module")
def timing_case(tmp_path_factory):
    from folk.data import read_proposals, read_scene
    from folk.synthetic import default_name, generate_scene, is_complete

    cache = Path(tempfile.gettempdir()) / "folk-bench-teacher"
    name = default_name(TIMING_SEED)
    if not is_complete(cache, name, TIMING_SEED, "small"):
        generate_scene(cache, seed=TIMING_SEED, preset="small", progress=False)
    scene = read_scene(cache / name)  # ScanNet's default stride 10
    proposals = read_proposals(cache / "proposals" / f"{name}_masks.pt",
                               num_points=scene.num_points)
    return {"scene": scene, "proposals": proposals,
            "text_cache": str(tmp_path_factory.mktemp("text-cache"))}


def _scene_info(case) -> dict:
    return {"points": int(case["scene"].num_points), "frames": len(case["scene"].frames),
            "proposals": int(case["proposals"].num_proposals)}


def _random_vit_b16():
    """open_clip's ViT-B-16 with random weights (nothing is downloaded): the speed of a real
    CLIP of that size; its labels mean nothing."""
    import open_clip
    import torch

    from folk.clip.loader import ClipModel

    torch.manual_seed(0)
    net = open_clip.create_model("ViT-B-16", pretrained=None).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return ClipModel(name="ViT-B-16", model=net, tokenizer=open_clip.get_tokenizer("ViT-B-16"),
                     mean=(0.48145466, 0.4578275, 0.40821073),
                     std=(0.26862954, 0.26130258, 0.27577711), image_size=(224, 224),
                     identity="ViT-B-16|random-weights|folk-benchmark")


def _time_teacher(benchmark, case, teacher_kind: str, clip_kind: str, rounds: int) -> None:
    from folk.synthetic import VOCABULARY
    from folk.teacher.config import ClipConfig, TeacherConfig
    from folk.teacher.pipeline import Teacher

    if clip_kind == "small":
        clip, clip_cfg = None, ClipConfig(text_cache_dir=case["text_cache"])
    else:
        clip = _random_vit_b16()
        clip_cfg = ClipConfig(model="ViT-B-16", text_cache_dir=case["text_cache"])
    config = (TeacherConfig.openmask3d(clip=clip_cfg) if teacher_kind == "openmask3d"
              else TeacherConfig(clip=clip_cfg))
    teacher = Teacher(config, list(VOCABULARY), clip=clip)
    teacher.run(case["scene"], case["proposals"])  # warm-up: first-call overheads
    results = []
    benchmark.pedantic(lambda: results.append(teacher.run(case["scene"], case["proposals"])),
                       rounds=rounds, iterations=1)
    fastest = min(results, key=lambda t: t.meta["seconds"]["total"])
    benchmark.extra_info.update(_scene_info(case), teacher=teacher_kind, clip=teacher.clip.name,
                                stages=fastest.meta["seconds"],
                                labelled=int((fastest.labels >= 0).sum()))


def test_teacher_folk_small_clip(benchmark, timing_case):
    _time_teacher(benchmark, timing_case, "folk", "small", rounds=3)


def test_teacher_openmask3d_small_clip(benchmark, timing_case):
    _time_teacher(benchmark, timing_case, "openmask3d", "small", rounds=3)


def test_teacher_folk_vit_b16_sized_clip(benchmark, timing_case):
    _time_teacher(benchmark, timing_case, "folk", "vit-b-16", rounds=1)


def test_teacher_openmask3d_vit_b16_sized_clip(benchmark, timing_case):
    _time_teacher(benchmark, timing_case, "openmask3d", "vit-b-16", rounds=1)


def test_student_predict_same_scene(benchmark, timing_case):
    """The student's whole label step on the same scene (NMS, segment mean, adapter, softmax
    over the 16 classes), from Mask3D-wide point features already in memory."""
    import torch

    from folk.data.scene import PointFeatures
    from folk.predict import PredictConfig, predict_scene
    from folk.student import VLAdapter
    from folk.synthetic import VOCABULARY

    rng = np.random.default_rng(0)
    n = timing_case["scene"].num_points
    features = PointFeatures(rng.normal(size=(n, STUDENT_FEATURE_DIM)).astype(np.float32))
    text = rng.normal(size=(len(VOCABULARY), STUDENT_TEXT_DIM)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    torch.manual_seed(0)
    adapter = VLAdapter(STUDENT_FEATURE_DIM, STUDENT_HIDDEN, STUDENT_TEXT_DIM).eval()
    pred = benchmark(predict_scene, features, timing_case["proposals"], adapter, text,
                     np.arange(1, len(VOCABULARY) + 1), PredictConfig(), scene="timing")
    benchmark.extra_info.update(_scene_info(timing_case), feature_dim=STUDENT_FEATURE_DIM,
                                instances=len(pred))


def test_geometric_features_same_scene(benchmark, timing_case):
    """What the student needs first when no Mask3D features exist."""
    from folk.features import GeometricFeatures

    out = benchmark.pedantic(GeometricFeatures(), args=(timing_case["scene"],), rounds=1)
    benchmark.extra_info.update(_scene_info(timing_case), feature_dim=int(out.dim))


if __name__ == "__main__":
    sys.exit(main())
