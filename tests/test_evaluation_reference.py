"""folk's vectorised evaluator against a slow, loop-per-instance reference.

``_naive_evaluate`` follows the structure of ScanNet's ``evaluate_semantic_instance.py`` (as
extended for ScanNet200 by Mask3D / OpenMask3D) step by step: per-instance dicts, a loop over
GT instances and their overlapping predictions with a "visited" set, the ignore rule for
unmatched predictions, and AP from an explicit loop over the distinct confidences. It is
written to be obviously faithful, not fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from folk.evaluation import IOU_THRESHOLDS, InstancePrediction, evaluate, load_classes

MIN_SIZE = 100


def _naive_ap(y_true: list[int], y_score: list[float], hard_fn: int) -> float:
    """ScanNet's AP: one PR point per distinct score, artificial (r=0, p=1) end point, and
    step widths 0.5 * (r[i-1] - r[i+1]) with r padded by r[0] in front and 0 behind."""
    points = []  # (precision, recall) in increasing score
    num_true = sum(y_true)
    for s in sorted(set(y_score)):
        tp = sum(t for t, sc in zip(y_true, y_score) if sc >= s)
        fp = sum(1 - t for t, sc in zip(y_true, y_score) if sc >= s)
        fn = (num_true - tp) + hard_fn
        points.append((tp / (tp + fp), tp / (tp + fn)))
    points.append((1.0, 0.0))
    recall = [r for _, r in points]
    ap = 0.0
    for i, (p, _) in enumerate(points):
        before = recall[i - 1] if i > 0 else recall[0]
        after = recall[i + 1] if i + 1 < len(recall) else 0.0
        ap += p * 0.5 * (before - after)
    return ap


def _naive_evaluate(gt: dict, preds: dict, eval_ids, thresholds=IOU_THRESHOLDS) -> np.ndarray:
    eval_ids = [int(c) for c in eval_ids]
    scenes = []
    for scene, ids in gt.items():
        void = ~np.isin(ids // 1000, eval_ids)
        gts = {c: [] for c in eval_ids}
        for value in np.unique(ids):
            if value != 0 and value // 1000 in gts:
                gts[value // 1000].append(
                    {"value": value, "size": int((ids == value).sum()), "matched": []}
                )
        pred_by_class = {c: [] for c in eval_ids}
        p = preds.get(scene)
        for k in range(0 if p is None else len(p)):
            c = int(p.label_ids[k])
            mask = p.masks[:, k]
            size = int(mask.sum())
            if c not in pred_by_class or size < MIN_SIZE:
                continue
            pred = {
                "uid": (scene, k),
                "size": size,
                "conf": float(p.confidences[k]),
                "void": int((mask & void).sum()),
                "matched": [],
            }
            for g in gts[c]:
                inter = int((mask & (ids == g["value"])).sum())
                if inter > 0:
                    pred["matched"].append((g, inter))
                    g["matched"].append((pred, inter))
            pred_by_class[c].append(pred)
        scenes.append((gts, pred_by_class))

    ap = np.full((len(eval_ids), len(thresholds)), np.nan)
    for ti, th in enumerate(thresholds):
        visited = set()
        for ci, c in enumerate(eval_ids):
            y_true, y_score, hard_fn, has_gt, has_pred = [], [], 0, False, False
            for gts, pred_by_class in scenes:
                big = [g for g in gts[c] if g["size"] >= MIN_SIZE]
                has_gt |= bool(big)
                has_pred |= bool(pred_by_class[c])
                for g in big:
                    best = None
                    for pred, inter in g["matched"]:
                        if pred["uid"] in visited:
                            continue
                        if inter / (g["size"] + pred["size"] - inter) > th:
                            if best is None:
                                best = pred["conf"]
                                visited.add(pred["uid"])
                            else:  # duplicate: the lower score is a false positive
                                y_true.append(0)
                                y_score.append(min(best, pred["conf"]))
                                best = max(best, pred["conf"])
                    if best is None:
                        hard_fn += 1
                    else:
                        y_true.append(1)
                        y_score.append(best)
                for pred in pred_by_class[c]:
                    if any(i / (g["size"] + pred["size"] - i) > th for g, i in pred["matched"]):
                        continue
                    ignored = pred["void"] + sum(
                        i for g, i in pred["matched"] if g["size"] < MIN_SIZE
                    )
                    if ignored / pred["size"] <= th:
                        y_true.append(0)
                        y_score.append(pred["conf"])
            if has_gt and has_pred:
                ap[ci, ti] = _naive_ap(y_true, y_score, hard_fn)
            elif has_gt:
                ap[ci, ti] = 0.0
    return ap


# ---------------------------------------------------------------------------------------------
def _random_scene(rng: np.random.Generator, classes: list[int], void_labels: list[int]):
    """A scene with awkward sizes: small and big instances, void of several kinds, and
    predictions that are noisy copies, duplicates, merges of two instances, blobs on void,
    tiny masks, non-evaluated labels, and tied confidences."""
    n = int(rng.integers(1200, 3000))
    order = rng.permutation(n)
    ids = np.zeros(n, dtype=np.int64)
    instances = []
    start = 0
    next_instance = dict.fromkeys(classes, 1)
    while start < n:
        size = int(rng.choice([40, 90, 99, 100, 101, 150, 250, 400]))
        verts = order[start : start + size]
        start += size
        if rng.random() < 0.25:
            ids[verts] = int(rng.choice(void_labels)) * 1000 + int(rng.integers(0, 3))
            continue
        c = int(rng.choice(classes))
        ids[verts] = c * 1000 + next_instance[c]
        next_instance[c] += 1
        instances.append((c, verts))

    masks, labels = [], []

    def add(verts, label):
        m = np.zeros(n, dtype=bool)
        m[verts] = True
        masks.append(m)
        labels.append(label)

    for c, verts in instances:
        if rng.random() < 0.2:
            continue
        keep = verts[rng.random(verts.size) > rng.uniform(0, 0.6)]
        extra = rng.choice(n, size=int(rng.integers(0, verts.size // 2 + 1)), replace=False)
        label = c if rng.random() < 0.85 else int(rng.choice(classes))
        add(np.concatenate([keep, extra]), label)
        if rng.random() < 0.3:  # duplicate
            add(verts[rng.random(verts.size) > 0.2], c)
    same_class = {}
    for c, verts in instances:
        same_class.setdefault(c, []).append(verts)
    for c, group in same_class.items():  # merges: IoU > 0.25 with two GT instances
        if len(group) >= 2 and rng.random() < 0.7:
            add(np.concatenate(group[:2]), c)
            add(np.concatenate(group[:2])[::2], c)
    for _ in range(int(rng.integers(0, 5))):  # blobs, tiny masks, non-evaluated labels
        size = int(rng.choice([50, 99, 100, 120, 300]))
        label = int(rng.choice(classes + void_labels[1:]))
        add(rng.choice(n, size=size, replace=False), label)
    void_verts = np.flatnonzero(np.isin(ids // 1000, void_labels))
    if void_verts.size > 150:  # mostly on void
        add(np.concatenate([void_verts[:120], order[:60]]), int(rng.choice(classes)))
    if not masks:
        return ids, InstancePrediction.empty(n)
    perm = rng.permutation(len(masks))  # prediction order matters at IoU 0.25: shuffle it
    confidences = np.round(rng.random(len(masks)), 1)  # ties on purpose
    return ids, InstancePrediction(np.stack(masks, axis=1)[:, perm], np.asarray(labels)[perm],
                            confidences)


def _compare(seed: int, dataset: str) -> None:
    rng = np.random.default_rng(seed)
    spec = load_classes(dataset)
    if dataset == "scannet200":
        classes, void_labels = [2, 4, 5, 6], [0, 1, 3]  # wall (1) and floor (3) are void
    else:
        classes, void_labels = [3, 7, 8], [0]
    gt, preds = {}, {}
    for s in range(int(rng.integers(1, 4))):
        gt[f"scene{s}"], preds[f"scene{s}"] = _random_scene(rng, classes, void_labels)
    result = evaluate(gt, preds, dataset)
    expected = _naive_evaluate(gt, preds, spec.eval_ids)
    np.testing.assert_allclose(
        result.class_ap,
        expected,
        rtol=0,
        atol=1e-12,
        equal_nan=True,
        err_msg=f"seed {seed}, {dataset}",
    )


@pytest.mark.parametrize("seed", range(40))
def test_vectorised_evaluator_matches_naive_reference_on_random_scannet200_scenes(seed):
    _compare(seed, "scannet200")


@pytest.mark.parametrize("seed", range(10))
def test_vectorised_evaluator_matches_naive_reference_on_random_replica_scenes(seed):
    _compare(1000 + seed, "replica")


def test_vectorised_evaluator_matches_naive_reference_on_a_fresh_seed():
    seed = int(np.random.SeedSequence().entropy % (2**32))
    _compare(seed, "scannet200")  # the failure message names the seed


def test_naive_ap_reproduces_hand_computed_values():
    # two GT instances, one found twice (duplicate scored 0.8), the other at 0.7
    assert _naive_ap([1, 0, 1], [0.9, 0.8, 0.7], 0) == pytest.approx(19 / 24)
    assert _naive_ap([1, 0], [0.1, 0.9], 0) == pytest.approx(0.25)
    assert _naive_ap([], [], 1) == 0.0
