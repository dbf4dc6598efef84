"""Benchmarks of the student's per-scene prediction on a ScanNet-sized input (pytest-benchmark).

Input: the synthetic ``scannet`` preset of :mod:`folk.synthetic` built in memory (no rendering,
≈2 s): ≈150k points and its ≈150 object instances as proposals; 96-dim point features (random,
as Mask3D's backbone exports them: only their shape matters for timing); a 96 → 512 → 768
VL-adapter; 200 classes (ScanNet200) with 768-dim text embeddings.

Compared:

* segment mean of every proposal: folk C++ (``folk._C``, CSR, OpenMP over proposals), the
  differentiable torch path (``index_select`` + ``index_add``, CSR), and the dense reference
  ``masks.T @ X / |q|`` that builds the N × Q float matrix (what folk avoids);
* the steps of :func:`folk.predict.predict_scene` (NMS at IoU 0.9, CSR, pooling, adapter,
  softmax over 200 classes) and the whole call; writing the submission files;
* geometric proposals and features for a scan without Mask3D output (one round each).

    .venv/bin/python -m pytest benchmarks/bench_student.py --benchmark-columns=min,mean,rounds
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from folk.data.membership import ProposalMembership
from folk.data.scene import PointFeatures, Proposals, Scene
from folk.ops.segment_mean import segment_mean, segment_mean_torch
from folk.predict import PredictConfig, predict_scene, write_scannet_submission
from folk.proposals import geometric_proposals, mask_nms
from folk.student import VLAdapter

FEATURE_DIM, HIDDEN, TEXT_DIM, NUM_CLASSES = 96, 512, 768, 200


@pytest.fixture(scope="module")
def case():
    from folk.synthetic import STRUCTURE_IDS, build_scene

    built = build_scene(0, "scannet")
    pts = built.points
    codes = np.unique(pts.gt[pts.gt >= 1000])
    objects = codes[~np.isin(codes // 1000, list(STRUCTURE_IDS.values()))]
    masks = pts.gt[:, None] == objects[None, :]
    rng = np.random.default_rng(0)
    features = rng.normal(size=(masks.shape[0], FEATURE_DIM)).astype(np.float32)
    text = rng.normal(size=(NUM_CLASSES, TEXT_DIM)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    torch.manual_seed(0)
    adapter = VLAdapter(FEATURE_DIM, HIDDEN, TEXT_DIM).eval()
    scene = Scene("bench", pts.points, pts.colors, frames=[], normals=pts.normals)
    return {"scene": scene, "features": features, "masks": masks,
            "proposals": Proposals(masks, rng.uniform(0.5, 1.0, masks.shape[1])),
            "csr": ProposalMembership.from_masks(masks), "text": text,
            "labels": np.arange(1, NUM_CLASSES + 1), "adapter": adapter}


def _info(benchmark, case) -> None:
    benchmark.extra_info.update(points=int(case["masks"].shape[0]),
                                proposals=int(case["masks"].shape[1]),
                                nnz=int(case["csr"].indices.shape[0]),
                                torch_threads=torch.get_num_threads(),
                                feature_dim=FEATURE_DIM, hidden=HIDDEN, text_dim=TEXT_DIM,
                                classes=NUM_CLASSES)


def _dense(features, masks):
    m = masks.astype(np.float32)  # the N x Q float matrix
    return (m.T @ features) / m.sum(axis=0)[:, None]


def test_segment_mean_cpp(benchmark, case):
    _info(benchmark, case)
    out = benchmark(segment_mean, case["features"], case["csr"])
    np.testing.assert_allclose(out, _dense(case["features"], case["masks"]), atol=1e-4)


def test_segment_mean_torch(benchmark, case):
    _info(benchmark, case)
    x = torch.from_numpy(case["features"])

    def run():
        with torch.no_grad():
            return segment_mean_torch(x, case["csr"])

    out = benchmark(run)
    np.testing.assert_allclose(out.numpy(), _dense(case["features"], case["masks"]), atol=1e-4)


def test_segment_mean_dense_reference(benchmark, case):
    _info(benchmark, case)
    benchmark(_dense, case["features"], case["masks"])


def test_membership_from_masks(benchmark, case):
    _info(benchmark, case)
    benchmark(ProposalMembership.from_masks, case["masks"])


def test_nms(benchmark, case):
    _info(benchmark, case)
    benchmark(mask_nms, case["masks"], case["proposals"].scores, 0.9)


def test_adapter_and_classification(benchmark, case):
    _info(benchmark, case)
    pooled = torch.from_numpy(segment_mean(case["features"], case["csr"]))
    text = torch.from_numpy(case["text"])

    def run():
        with torch.inference_mode():
            return torch.softmax(case["adapter"](pooled) @ text.T / 0.01, dim=-1)

    benchmark(run)


def test_predict_scene(benchmark, case):
    """The whole image-free student prediction of one scene (files not included)."""
    _info(benchmark, case)
    pred = benchmark(predict_scene, PointFeatures(case["features"]), case["proposals"],
                     case["adapter"], case["text"], case["labels"], PredictConfig(),
                     scene="bench")
    benchmark.extra_info["instances"] = len(pred)


def test_write_submission(benchmark, case, tmp_path):
    _info(benchmark, case)
    pred = predict_scene(PointFeatures(case["features"]), case["proposals"], case["adapter"],
                         case["text"], case["labels"], scene="bench")
    benchmark.pedantic(write_scannet_submission, args=(tmp_path, pred), rounds=3)
    benchmark.extra_info["instances"] = len(pred)


def test_geometric_proposals(benchmark, case):
    _info(benchmark, case)
    props = benchmark.pedantic(geometric_proposals, args=(case["scene"],), rounds=1)
    benchmark.extra_info["geometric_proposals"] = props.num_proposals


@pytest.mark.parametrize("oriented", [False, True], ids=["points", "oriented"])
def test_superpoint_proposals(benchmark, case, oriented):
    from folk.proposals.cli import merged_proposals

    _info(benchmark, case)
    scene = case["scene"]
    points = np.asarray(scene.points, dtype=np.float32)
    props = benchmark.pedantic(merged_proposals, rounds=1,
                               args=(points, scene.colors, np.zeros((0, 3), np.int64)),
                               kwargs={"orient_normals": oriented})
    key = "superpoint_proposals_oriented" if oriented else "superpoint_proposals"
    benchmark.extra_info[key] = props.num_proposals


def test_geometric_features(benchmark, case):
    from folk.features import GeometricFeatures

    _info(benchmark, case)
    out = benchmark.pedantic(GeometricFeatures(), args=(case["scene"],), rounds=1)
    benchmark.extra_info["geometric_feature_dim"] = int(out.dim)
