"""Per-scene latency of the deployment runtime against PyTorch and against the memory floor
(pytest-benchmark).

Input of ScanNet size: the synthetic ``scannet`` preset (≈147k points, its 148 instances) with
96-dim point features (Mask3D's width; random values: only their shape matters for timing), a
96 → 512 → 768 VL-adapter, 200 classes. Proposals: Q = 150 (the instances and two perturbed
copies) and Q = 600 (each instance with three perturbed copies: 30% of its points dropped, a
neighbour added, half of it — Mask3D-like overlaps that NMS at IoU 0.9 mostly keeps).

Timed in one run, per Q:

* ``test_runtime_torch_predict_scene``: :func:`folk.predict.predict_scene`, PyTorch eager
  (dense masks in, NMS, CSR, segment mean, adapter, softmax);
* ``test_runtime_onnx_session``: the ONNX Runtime session of the exported ``model.onnx`` alone,
  on the graph inputs of the proposals NMS keeps;
* ``test_runtime_end_to_end``: ``folk_runtime.Runtime.label`` from CSR proposals: checks, NMS,
  graph inputs, the session, classification;
* ``test_runtime_read_floor``: a large NumPy copy, from which the memory bandwidth of this run
  and the floor — reading the features once, their bytes over that bandwidth — are recorded;
* ``test_runtime_cold_start`` / ``test_runtime_cold_start_torch``: a fresh Python process that
  loads the deployment folder and labels one scene (folk_runtime), or loads the checkpoint and
  predicts with PyTorch.

    .venv/bin/python -m pytest benchmarks/bench_runtime.py --benchmark-columns=min,mean,rounds
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from folk.data.membership import ProposalMembership
from folk.data.scene import PointFeatures, Proposals
from folk.export.deploy import ExportOptions, export_deployment, student_export
from folk.predict import PredictConfig, predict_scene
from folk.predict.vocabulary import StudentText, resolve_vocabulary
from folk.proposals.nms import nms_membership
from folk.student import VLAdapter, save_adapter
from folk_runtime import Runtime

FEATURE_DIM, HIDDEN, TEXT_DIM = 96, 512, 768
PROPOSALS = (150, 600)
COPY_BYTES = 256 * 2**20  # the bandwidth probe: far larger than any cache


def _proposals(gt: np.ndarray, q: int, rng) -> Proposals:
    """The scene's instances, then perturbed copies of them, up to ``q`` columns."""
    codes = np.unique(gt[gt >= 1000])
    instances = [gt == c for c in codes]
    columns = list(instances)
    kinds = ("dropped", "grown", "half")
    while len(columns) < q:
        k = len(columns) - len(instances)
        base = instances[k % len(instances)]
        kind = kinds[(k // len(instances)) % len(kinds)]
        if kind == "dropped":
            columns.append(base & (rng.random(base.shape[0]) > 0.3))
        elif kind == "grown":
            columns.append(base | instances[(k + 1) % len(instances)])
        else:
            members = np.flatnonzero(base)
            half = np.zeros_like(base)
            half[members[: max(1, members.size // 2)]] = True
            columns.append(half)
    masks = np.stack(columns[:q], axis=1)
    return Proposals(masks, rng.uniform(0.5, 1.0, q))


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from folk.synthetic import build_scene

    pts = build_scene(0, "scannet").points
    rng = np.random.default_rng(0)
    features = rng.normal(size=(pts.points.shape[0], FEATURE_DIM)).astype(np.float32)
    vocab = resolve_vocabulary("scannet200")
    text = rng.normal(size=(len(vocab), TEXT_DIM)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    torch.manual_seed(0)
    adapter = VLAdapter(FEATURE_DIM, HIDDEN, TEXT_DIM).eval()
    root = tmp_path_factory.mktemp("runtime")
    meta = {"tau_l": 0.01, "features": "mask3d"}
    folder = export_deployment(root / "deployment", student_export(
        adapter, meta, StudentText(text, "random", ""), vocab), ExportOptions()).folder
    save_adapter(root / "student.pt", adapter, meta)
    return {"features": features, "gt": pts.gt, "vocab": vocab, "text": text,
            "adapter": adapter, "folder": folder, "root": root,
            "runtime": Runtime(folder, providers=["CPUExecutionProvider"]), "cases": {}}


def _case(scene: dict, q: int) -> dict:
    """The inputs at Q = ``q`` (made once per module)."""
    if q not in scene["cases"]:
        proposals = _proposals(scene["gt"], q, np.random.default_rng(q))
        csr = ProposalMembership.from_masks(proposals.masks)
        keep, kept = nms_membership(proposals)
        sizes = np.diff(kept.offsets)
        graph_inputs = {
            "features": scene["features"], "point_index": kept.indices.astype(np.int64),
            "proposal_index": np.repeat(np.arange(keep.shape[0], dtype=np.int64), sizes),
            "proposal_size": sizes.astype(np.float32)}
        scene["cases"][q] = {**scene, "q": q, "proposals": proposals, "csr": csr,
                             "kept": int(keep.shape[0]), "graph_inputs": graph_inputs}
    return scene["cases"][q]


@pytest.fixture(scope="module", params=PROPOSALS, ids=[str(q) for q in PROPOSALS])
def case(request, scene):
    return _case(scene, request.param)


def _info(benchmark, case) -> None:
    benchmark.extra_info.update(
        points=int(case["features"].shape[0]), feature_dim=FEATURE_DIM, hidden=HIDDEN,
        text_dim=TEXT_DIM, classes=len(case["vocab"]), proposals=case["q"],
        kept=case["kept"], memberships=int(case["csr"].indices.shape[0]),
        kept_memberships=int(case["graph_inputs"]["point_index"].shape[0]),
        feature_bytes=int(case["features"].nbytes), torch_threads=torch.get_num_threads())


def test_runtime_torch_predict_scene(benchmark, case):
    _info(benchmark, case)
    pred = benchmark(predict_scene, PointFeatures(case["features"]), case["proposals"],
                     case["adapter"], case["text"], case["vocab"].label_ids,
                     PredictConfig(tau_l=0.01), scene="bench")
    benchmark.extra_info["instances"] = len(pred)


def test_runtime_onnx_session(benchmark, case):
    _info(benchmark, case)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(case["folder"] / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    out = benchmark(session.run, None, case["graph_inputs"])
    assert out[0].shape == (case["kept"], TEXT_DIM)
    benchmark.extra_info["providers"] = session.get_providers()


def test_runtime_end_to_end(benchmark, case):
    _info(benchmark, case)
    csr = case["csr"]
    labels = benchmark(case["runtime"].label, case["features"], csr.offsets, csr.indices,
                       case["proposals"].scores)
    expected = predict_scene(PointFeatures(case["features"]), case["proposals"],
                             case["adapter"], case["text"], case["vocab"].label_ids,
                             PredictConfig(tau_l=0.01))
    np.testing.assert_array_equal(np.sort(labels.kept), np.sort(expected.proposal_index))
    benchmark.extra_info["instances"] = len(labels)
    benchmark.extra_info["steps"] = {k: float(v) for k, v in labels.timings.items()}


def test_runtime_read_floor(benchmark, scene):
    """Bandwidth of a large copy (read + write), and the floor: reading the features once."""
    source = np.ones(COPY_BYTES // 4, np.float32)
    target = np.empty_like(source)
    benchmark(np.copyto, target, source)
    bandwidth = 2 * source.nbytes / benchmark.stats.stats.min  # bytes read + written per s
    benchmark.extra_info.update(copy_bytes=int(source.nbytes), bandwidth_gb_s=bandwidth / 1e9,
                                feature_bytes=int(scene["features"].nbytes),
                                floor_s=scene["features"].nbytes / bandwidth)


COLD_RUNTIME = """
import json, sys, time
start = time.perf_counter()
import numpy as np
from folk_runtime import Runtime
z = np.load(sys.argv[2])
labels = Runtime(sys.argv[1]).label(z["features"], z["offsets"], z["indices"], z["scores"])
print(json.dumps({"seconds": time.perf_counter() - start, "instances": len(labels),
                  "torch_imported": "torch" in sys.modules}))
"""

COLD_TORCH = """
import json, sys, time
start = time.perf_counter()
import numpy as np
from folk.data.scene import Proposals
from folk.predict import predict_scene
from folk.predict.vocabulary import resolve_vocabulary
from folk.student.model import load_adapter
z = np.load(sys.argv[2])
adapter, meta = load_adapter(sys.argv[1])
masks = np.zeros((z["features"].shape[0], z["offsets"].shape[0] - 1), bool)
masks[z["indices"], np.repeat(np.arange(masks.shape[1]), np.diff(z["offsets"]))] = True
pred = predict_scene(z["features"], Proposals(masks, z["scores"]), adapter, z["text"],
                     resolve_vocabulary("scannet200").label_ids, tau_l=meta["tau_l"])
print(json.dumps({"seconds": time.perf_counter() - start, "instances": len(pred),
                  "torch_imported": "torch" in sys.modules}))
"""


def _cold_start(benchmark, case, script: str, target) -> None:
    _info(benchmark, case)
    inputs = case["root"] / "scene.npz"
    if not inputs.is_file():
        csr = case["csr"]
        np.savez(inputs, features=case["features"], offsets=csr.offsets, indices=csr.indices,
                 scores=case["proposals"].scores, text=case["text"])
    runs = []

    def run():
        out = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(target),
                              str(inputs)], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info.update(inside_process_s=min(r["seconds"] for r in runs),
                                torch_imported=runs[-1]["torch_imported"],
                                instances=runs[-1]["instances"])


def test_runtime_cold_start(benchmark, scene):
    _cold_start(benchmark, _case(scene, PROPOSALS[0]), COLD_RUNTIME, scene["folder"])
    assert benchmark.extra_info["torch_imported"] is False


def test_runtime_cold_start_torch(benchmark, scene):
    _cold_start(benchmark, _case(scene, PROPOSALS[0]), COLD_TORCH, scene["root"] / "student.pt")
