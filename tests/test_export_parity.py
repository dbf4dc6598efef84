"""Parity of the deployment runtime with the PyTorch student (CPU, ONNX Runtime).

An exported folder run by ``folk_runtime.Runtime`` must give the PyTorch student's embeddings
within 1e-5 and the same labels (fp32) on awkward sizes — one proposal, a proposal of one point,
points in several proposals, N not a multiple of anything — and the same predictions as
``predict_scene`` after NMS. fp16 deployments must agree with fp32 on >= 99% of the labels of
demo-like synthetic scenes (geometric features, GT instances and perturbed copies as
proposals, a student whose classes are separable); the measured agreement and AP difference
are printed (``pytest -s``). TensorRT: built and compared on a GPU with TensorRT, else skipped
saying why.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from folk.data.membership import ProposalMembership
from folk.data.scene import PointFeatures, Proposals
from folk.export.deploy import ExportOptions, export_deployment, student_export
from folk.export.graph import membership_inputs
from folk.export.predictor import predict_scene_runtime
from folk.export.tensorrt import tensorrt_problem
from folk.predict import PredictConfig, predict_scene
from folk.predict.vocabulary import StudentText, resolve_vocabulary, vocabulary_from_names
from folk.student.classify import class_probabilities, embed_segments
from folk.student.model import VLAdapter
from folk_runtime import Runtime

C, H, D = 13, 24, 10
NAMES = ["chair", "table", "lamp", "plant", "sofa", "bed", "sink"]
TAU = 0.02


def _export(folder, adapter, text, names, precision="fp32", tensorrt=False):
    student = student_export(adapter, {"tau_l": TAU, "features": "test"},
                             StudentText(text, "test", ""), vocabulary_from_names(names))
    return export_deployment(folder, student, ExportOptions(precision=precision,
                                                            tensorrt=tensorrt)).folder


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(3)
    adapter = VLAdapter(C, H, D, "gelu").eval()
    text = np.random.default_rng(3).normal(size=(len(NAMES), D)).astype(np.float32)
    return adapter, text


@pytest.fixture(scope="module")
def deployment(student, tmp_path_factory):
    return _export(tmp_path_factory.mktemp("deploy") / "fp32", *student, NAMES)


def _awkward_membership(case: str, rng) -> tuple[int, list]:
    if case == "one proposal of one point":
        return 1, [[0]]
    if case == "one proposal, all points":
        return 1009, [np.arange(1009)]
    if case == "a point in every proposal":
        lists = [np.union1d(rng.choice(97, size=int(rng.integers(1, 40)), replace=False), [41])
                 for _ in range(23)]
        return 97, lists
    # many proposals of random sizes, one of a single point, N prime
    lists = [rng.choice(7919, size=int(rng.integers(1, 3000)), replace=False)
             for _ in range(61)]
    lists[17] = [7918]
    return 7919, lists


@pytest.mark.parametrize("case", ["one proposal of one point", "one proposal, all points",
                                  "a point in every proposal", "many proposals, N prime"])
def test_runtime_graph_equals_the_pytorch_student(student, deployment, case):
    adapter, text = student
    rng = np.random.default_rng(len(case))
    n, lists = _awkward_membership(case, rng)
    features = (rng.normal(size=(n, C)) * rng.uniform(0.1, 10)).astype(np.float32)
    membership = ProposalMembership.from_lists(lists, n)
    out = Runtime(deployment, providers=["CPUExecutionProvider"]).run_graph(
        **membership_inputs(membership.offsets, membership.indices, features))
    expected = embed_segments(adapter, features, membership)
    probs = class_probabilities(expected, text, TAU)
    np.testing.assert_allclose(out.embeddings, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.probabilities, probs, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(out.labels, probs.argmax(axis=1))


def _scene_with_duplicates(n: int, q: int, rng) -> tuple[np.ndarray, Proposals]:
    """Random blobs as proposals plus near-copies of some of them (what NMS removes)."""
    masks = np.zeros((n, q), bool)
    for j in range(q):
        if j % 4 == 3:  # a near-duplicate of the previous proposal
            masks[:, j] = masks[:, j - 1]
            masks[rng.choice(n, size=1), j] ^= True
            masks[rng.integers(n), j] = True
        else:
            start = int(rng.integers(n))
            masks[np.arange(start, start + int(rng.integers(1, n // 3))) % n, j] = True
    return (rng.normal(size=(n, C)).astype(np.float32),
            Proposals(masks, rng.uniform(0.2, 1.0, q)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_runtime_predictions_equal_predict_scene(student, deployment, seed):
    adapter, text = student
    rng = np.random.default_rng(seed)
    features, proposals = _scene_with_duplicates(int(rng.integers(50, 700)),
                                                 int(rng.integers(1, 40)), rng)
    vocab = vocabulary_from_names(NAMES)
    config = PredictConfig(tau_l=TAU)
    expected = predict_scene(PointFeatures(features), proposals, adapter, text,
                             vocab.label_ids, config, scene="s")
    got = predict_scene_runtime(Runtime(deployment, providers=["CPUExecutionProvider"]),
                                PointFeatures(features), proposals, config, scene="s")
    np.testing.assert_array_equal(got.proposal_index, expected.proposal_index)
    np.testing.assert_array_equal(got.label_ids, expected.label_ids)
    np.testing.assert_array_equal(got.masks, expected.masks)
    np.testing.assert_allclose(got.confidences, expected.confidences, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got.embeddings, expected.embeddings, atol=1e-5, rtol=0)


# ---- fp16 on demo-like scenes ---------------------------------------------------------------

def _demo_like_scene(seed: int):
    """A synthetic ``small`` scene: geometric features, its GT, and proposals = every object
    instance plus two perturbed copies (30% of its points dropped; a neighbour's points
    added), with scores that rank the exact instance first."""
    from folk.data.scene import Scene
    from folk.features import GeometricFeatures
    from folk.synthetic import STRUCTURE_IDS, build_scene

    pts = build_scene(seed, "small").points
    features = GeometricFeatures()(Scene(f"s{seed}", pts.points, pts.colors, frames=[],
                                         normals=pts.normals)).features
    codes = np.unique(pts.gt[pts.gt >= 1000])
    objects = codes[~np.isin(codes // 1000, list(STRUCTURE_IDS.values()))]
    rng = np.random.default_rng(seed)
    columns, scores = [], []
    for k, code in enumerate(objects):
        exact = pts.gt == code
        dropped = exact & (rng.random(exact.shape[0]) > 0.3)
        grown = exact | (pts.gt == objects[(k + 1) % len(objects)])
        columns += [exact, dropped, grown]
        scores += [0.9, 0.6, 0.3]
    return (features, Proposals(np.stack(columns, axis=1), np.array(scores)), pts.gt,
            objects // 1000)


@pytest.fixture(scope="module")
def demo_like(tmp_path_factory):
    return demo_like_deployments(tmp_path_factory.mktemp("fp16"))


def demo_like_deployments(root):
    """Five scenes; a random adapter on geometric features whose class text embeddings are the
    class means of its embeddings over the first two scenes (classes separable, as after
    distillation); fp32 and fp16 deployments of it."""
    scenes = [_demo_like_scene(seed) for seed in range(5)]
    vocab = resolve_vocabulary("synthetic")
    torch.manual_seed(0)
    adapter = VLAdapter(scenes[0][0].shape[1], 64, 32, "gelu").eval()
    sums = np.random.default_rng(0).normal(scale=0.05, size=(len(vocab), 32))
    for features, proposals, _, classes in scenes[:2]:
        exact = proposals.masks[:, 0::3]
        emb = embed_segments(adapter, features, ProposalMembership.from_masks(exact))
        for e, label in zip(emb, classes, strict=True):
            sums[vocab.label_ids.index(int(label))] += e
    text = (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(np.float32)
    student = student_export(adapter, {"tau_l": 0.01, "features": "geometric"},
                             StudentText(text, "class means", ""), vocab)
    folders = {p: export_deployment(root / p, student, ExportOptions(precision=p)).folder
               for p in ("fp32", "fp16")}
    return scenes[2:], folders


def test_fp16_labels_agree_with_fp32_on_demo_like_scenes(demo_like):
    from folk.evaluation.evaluator import Evaluator

    scenes, folders = demo_like
    runtimes = {p: Runtime(f, providers=["CPUExecutionProvider"]) for p, f in folders.items()}
    evaluators = {p: Evaluator("scannet200") for p in folders}
    agree = total = 0
    for i, (features, proposals, gt, _) in enumerate(scenes):
        preds = {p: predict_scene_runtime(rt, features, proposals, scene=f"s{i}")
                 for p, rt in runtimes.items()}
        by_proposal = {p: dict(zip(pred.proposal_index.tolist(), pred.label_ids.tolist(),
                                   strict=True)) for p, pred in preds.items()}
        assert by_proposal["fp16"].keys() == by_proposal["fp32"].keys()  # same NMS
        agree += sum(by_proposal["fp16"][q] == label for q, label in by_proposal["fp32"].items())
        total += len(by_proposal["fp32"])
        for p, pred in preds.items():
            evaluators[p].add_scene(f"s{i}", gt, pred.to_instance_prediction())
    ap = {p: e.result().ap for p, e in evaluators.items()}
    print(f"\nfp16 vs fp32 on {len(scenes)} demo-like scenes: labels agree on {agree}/{total} "
          f"proposals ({agree / total:.2%}); AP {ap['fp32']:.4f} (fp32) vs {ap['fp16']:.4f} "
          f"(fp16), difference {ap['fp16'] - ap['fp32']:+.4f}")
    assert total >= 60
    assert agree / total >= 0.99
    assert abs(ap["fp16"] - ap["fp32"]) <= 0.01


# ---- TensorRT -------------------------------------------------------------------------------

TENSORRT_PROBLEM = tensorrt_problem()


@pytest.mark.skipif(TENSORRT_PROBLEM is not None, reason=f"{TENSORRT_PROBLEM}")
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_engine_equals_the_pytorch_student(student, tmp_path, precision):
    adapter, text = student
    folder = _export(tmp_path / precision, adapter, text, NAMES, precision, tensorrt=True)
    rng = np.random.default_rng(11)
    n, lists = _awkward_membership("many proposals, N prime", rng)
    features = rng.normal(size=(n, C)).astype(np.float32)
    membership = ProposalMembership.from_lists(lists, n)
    inputs = membership_inputs(membership.offsets, membership.indices, features)
    trt = Runtime(folder, backend="tensorrt").run_graph(**inputs)
    ort = Runtime(folder, providers=["CPUExecutionProvider"]).run_graph(**inputs)
    expected = embed_segments(adapter, features.astype(np.float16).astype(np.float32)
                              if precision == "fp16" else features, membership)
    tolerance = 1e-5 if precision == "fp32" else 2e-2
    np.testing.assert_allclose(trt.embeddings, expected, atol=tolerance, rtol=0)
    np.testing.assert_allclose(trt.embeddings, ort.embeddings, atol=tolerance, rtol=0)
    if precision == "fp32":
        np.testing.assert_array_equal(trt.labels, ort.labels)
