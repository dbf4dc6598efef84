"""Benchmarks of folk.evaluation on synthetic ScanNet-sized scenes.

Run: ``.venv/bin/python -m pytest benchmarks/bench_evaluation.py`` (pytest-benchmark). A synthetic scene has the size of a ScanNet200 val scene: 150k
vertices, 50 GT instances (about a third of the vertices are void), 150 predicted masks
(noisy copies, duplicates, blobs, about 1% of the vertices each).

The full benchmark is 312 val scenes; timing them all here would take minutes for no extra
information, since the evaluator's cost is per scene plus a small final AP step (timed on its
own below). We time a few scenes and record the time per scene and its extrapolation to 312
scenes (in memory; reading submission text files adds their parsing on top). Measured values:
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from folk.evaluation import Evaluator, InstancePrediction, evaluate, load_classes
from folk.evaluation.matching import match_scene

NUM_VERTICES = 150_000
NUM_GT = 50
NUM_PRED = 150
NUM_SCENES = 4  # timed together; see the module doc for extrapolating to 312


def synthetic_scene(seed: int) -> tuple[np.ndarray, InstancePrediction]:
    rng = np.random.default_rng(seed)
    classes = load_classes("scannet200")
    labels = rng.choice(classes.eval_ids[:60], size=NUM_GT)
    # instances are contiguous runs of a random vertex order, sizes 300..4000
    sizes = rng.integers(300, 4000, size=NUM_GT)
    order = rng.permutation(NUM_VERTICES)
    ids = np.zeros(NUM_VERTICES, dtype=np.int64)
    bounds = np.r_[0, np.cumsum(sizes)]
    for k in range(NUM_GT):
        ids[order[bounds[k] : bounds[k + 1]]] = labels[k] * 1000 + k + 1
    masks = np.zeros((NUM_VERTICES, NUM_PRED), dtype=bool)
    pred_labels = np.empty(NUM_PRED, dtype=np.int64)
    for q in range(NUM_PRED):
        k = int(rng.integers(0, NUM_GT))
        if q < 2 * NUM_GT:  # noisy copy (some twice: duplicates)
            verts = order[bounds[k] : bounds[k + 1]]
            verts = verts[rng.random(verts.size) < rng.uniform(0.5, 1.0)]
            masks[verts, q] = True
            masks[rng.integers(0, NUM_VERTICES, size=verts.size // 5), q] = True
            pred_labels[q] = labels[k] if rng.random() < 0.7 else rng.choice(labels)
        else:  # blob anywhere
            masks[rng.integers(0, NUM_VERTICES, size=int(rng.integers(50, 3000))), q] = True
            pred_labels[q] = rng.choice(labels)
    return ids, InstancePrediction(masks, pred_labels, rng.random(NUM_PRED))


@pytest.fixture(scope="module")
def scenes():
    return {f"scene{s:04d}_00": synthetic_scene(s) for s in range(NUM_SCENES)}


def test_match_one_scannet_sized_scene(benchmark, scenes):
    """Per-scene cost: intersections (the bulk), IoU and matching at the 10 thresholds."""
    benchmark.extra_info.update(vertices=NUM_VERTICES, gt_instances=NUM_GT,
                                predictions=NUM_PRED)
    gt_ids, pred = next(iter(scenes.values()))
    classes = load_classes("scannet200")
    benchmark.pedantic(match_scene, args=(gt_ids, pred, classes), rounds=5, iterations=1)


def test_evaluate_scannet_sized_scenes(benchmark, scenes):
    """End to end in memory (validation + matching + AP) over NUM_SCENES scenes."""
    gt = {name: ids for name, (ids, _) in scenes.items()}
    preds = {name: pred for name, (_, pred) in scenes.items()}
    result = benchmark.pedantic(evaluate, args=(gt, preds, "scannet200"), rounds=3, iterations=1)
    # from the fastest round, like every time in benchmarks/RESULTS.md
    benchmark.extra_info["scenes"] = NUM_SCENES
    benchmark.extra_info["seconds_per_scene"] = benchmark.stats.stats.min / NUM_SCENES
    benchmark.extra_info["extrapolated_312_scenes_s"] = (
        312 * benchmark.stats.stats.min / NUM_SCENES
    )
    assert 0.0 <= result.ap <= 1.0


def test_final_ap_step_over_many_scenes(benchmark, scenes):
    """The AP step alone, with 312 scenes' worth of matched entries (scenes reused)."""
    ev = Evaluator("scannet200")
    names = list(scenes)
    for i in range(312):
        ids, pred = scenes[names[i % len(names)]]
        if i < len(names):
            ev.add_scene(f"s{i}", ids, pred)
        else:  # reuse the matched scene instead of matching it again
            ev._scenes[f"s{i}"] = ev._scenes[f"s{i % len(names)}"]
    benchmark.pedantic(ev.result, rounds=3, iterations=1)
