"""A hand-built reference deployment for the runtime's tests, and the tests that it is right.

:func:`build_deployment` writes a deployment folder whose ``model.onnx`` follows the interface
``folk-export`` writes (inputs ``features`` / ``point_index`` / ``proposal_index`` /
``proposal_size``, outputs ``embeddings`` / ``probabilities`` / ``labels``; segment mean by
Gather + ScatterND(add) into zeros (Q, C); Linear → ReLU → Linear; L2-normalise; softmax of
cosine / τ_l), built with ``onnx.helper`` from random weights, so that the runtime is tested
without the exporter. :func:`reference_outputs` computes the same thing in float64 NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

from folk_runtime import ClipSource, Deployment, DeploymentFiles, Runtime, write_manifest


@dataclass(frozen=True)
class Weights:
    """Parameters of the reference student: pooled (Q, C) → ReLU MLP → unit (Q, D)."""

    w1: np.ndarray  # (C, H)
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H, D)
    b2: np.ndarray  # (D,)
    text: np.ndarray  # (K, D) unit rows
    tau: float


def random_weights(c: int, h: int, d: int, k: int, seed: int = 0, tau: float = 0.05) -> Weights:
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(k, d))
    return Weights(w1=(rng.normal(size=(c, h)) / np.sqrt(c)).astype(np.float32),
                   b1=rng.normal(scale=0.1, size=h).astype(np.float32),
                   w2=(rng.normal(size=(h, d)) / np.sqrt(h)).astype(np.float32),
                   b2=rng.normal(scale=0.1, size=d).astype(np.float32),
                   text=(text / np.linalg.norm(text, axis=1, keepdims=True)).astype(np.float32),
                   tau=tau)


def reference_outputs(weights: Weights, features: np.ndarray, offsets: np.ndarray,
                      indices: np.ndarray, selected: np.ndarray,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(embeddings, probabilities, labels)`` of proposals ``selected`` in float64 NumPy."""
    x = np.asarray(features, dtype=np.float64)
    pooled = np.stack([x[indices[offsets[q]:offsets[q + 1]]].mean(axis=0) for q in selected]) \
        if len(selected) else np.zeros((0, x.shape[1]))
    hidden = np.maximum(pooled @ weights.w1 + weights.b1, 0.0)
    y = hidden @ weights.w2 + weights.b2
    emb = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    logits = emb @ weights.text.astype(np.float64).T / weights.tau
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return emb, probs, probs.argmax(axis=1)


def build_model(weights: Weights, deployment: Deployment, *, opset: int = 17,
                rename: dict[str, str] | None = None, scatter: str = "nd") -> onnx.ModelProto:
    """The reference graph with ``deployment``'s metadata (``rename``: tensor names to change,
    for tests of a graph that breaks the interface; ``scatter``: the segment sum by ScatterND
    (``"nd"``) or by ScatterElements on indices expanded to (M, C) (``"elements"``))."""
    rename = rename or {}

    def n(name: str) -> str:
        return rename.get(name, name)

    c, d, k = weights.w1.shape[0], weights.w2.shape[1], weights.text.shape[0]
    fp16 = deployment.precision == "fp16"
    consts = {
        "w1": weights.w1, "b1": weights.b1, "w2": weights.w2, "b2": weights.b2,
        "text_over_tau": (weights.text.T / np.float32(weights.tau)).astype(np.float32),
        "axis1": np.array([1], np.int64), "c_dim": np.array([c], np.int64),
        "eps": np.array(1e-12, np.float32),
    }
    init = [numpy_helper.from_array(v, name) for name, v in consts.items()]
    gathered = "gathered16" if fp16 else "gathered"
    nodes = [helper.make_node("Gather", [n("features"), n("point_index")], [gathered], axis=0)]
    if fp16:
        nodes.append(helper.make_node("Cast", ["gathered16"], ["gathered"],
                                      to=TensorProto.FLOAT))
    nodes += [
        helper.make_node("Unsqueeze", [n("proposal_index"), "axis1"], ["scatter_index"]),
        helper.make_node("Shape", [n("proposal_size")], ["q_dim"]),
        helper.make_node("Concat", ["q_dim", "c_dim"], ["zeros_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["zeros_shape"], ["zeros"],
                         value=numpy_helper.from_array(np.zeros(1, np.float32))),
        *([helper.make_node("ScatterND", ["zeros", "scatter_index", "gathered"], ["sums"],
                            reduction="add")] if scatter == "nd" else
          [helper.make_node("Shape", ["gathered"], ["gathered_shape"]),
           helper.make_node("Expand", ["scatter_index", "gathered_shape"], ["element_index"]),
           helper.make_node("ScatterElements", ["zeros", "element_index", "gathered"], ["sums"],
                            axis=0, reduction="add")]),
        helper.make_node("Unsqueeze", [n("proposal_size"), "axis1"], ["size_column"]),
        helper.make_node("Div", ["sums", "size_column"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "w1"], ["h_lin"]),
        helper.make_node("Add", ["h_lin", "b1"], ["h_pre"]),
        helper.make_node("Relu", ["h_pre"], ["h"]),
        helper.make_node("MatMul", ["h", "w2"], ["y_lin"]),
        helper.make_node("Add", ["y_lin", "b2"], ["y"]),
        helper.make_node("ReduceL2", ["y"], ["y_norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["y_norm", "eps"], ["y_norm_safe"]),
        helper.make_node("Div", ["y", "y_norm_safe"], [n("embeddings")]),
        helper.make_node("MatMul", [n("embeddings"), "text_over_tau"], ["logits"]),
        helper.make_node("Softmax", ["logits"], [n("probabilities")], axis=1),
        helper.make_node("ArgMax", [n("probabilities")], [n("labels")], axis=1, keepdims=0),
    ]
    feature_type = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, "folk_reference_student",
        inputs=[helper.make_tensor_value_info(n("features"), feature_type, ["N", c]),
                helper.make_tensor_value_info(n("point_index"), TensorProto.INT64, ["M"]),
                helper.make_tensor_value_info(n("proposal_index"), TensorProto.INT64, ["M"]),
                helper.make_tensor_value_info(n("proposal_size"), TensorProto.FLOAT, ["Q"])],
        outputs=[helper.make_tensor_value_info(n("embeddings"), TensorProto.FLOAT, ["Q", d]),
                 helper.make_tensor_value_info(n("probabilities"), TensorProto.FLOAT, ["Q", k]),
                 helper.make_tensor_value_info(n("labels"), TensorProto.INT64, ["Q"])],
        initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="folk-runtime-tests")
    model.ir_version = 8  # what onnxruntime >= 1.18 reads for opset 17
    helper.set_model_props(model, deployment.to_metadata())
    return model


def make_deployment(weights: Weights, *, precision: str = "fp32", label_ids: bool = True,
                    feature_source: str = "mask3d", vocabulary: tuple[str, ...] | None = None,
                    ) -> Deployment:
    k = weights.text.shape[0]
    names = vocabulary or tuple(f"class {i}" for i in range(k))
    return Deployment(
        folk_version="0.1.0", vocabulary=names,
        label_ids=tuple(range(3, 3 + 2 * k, 2)) if label_ids else None,
        clip=ClipSource("ViT-test", "random", "ab" * 32), tau_l=weights.tau,
        feature_dim=weights.w1.shape[0], feature_source=feature_source,
        embedding_dim=weights.w2.shape[1], precision=precision, nms_iou=0.9, opset=17,
        files=DeploymentFiles("model.onnx", None))


def build_deployment(folder: Path, weights: Weights, *, scatter: str = "nd", **kwargs) -> Path:
    """Write a deployment folder (``manifest.json`` + ``model.onnx``) of the reference graph
    (``scatter``: see :func:`build_model`; ``kwargs``: :func:`make_deployment`'s)."""
    deployment = make_deployment(weights, **kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(build_model(weights, deployment, scatter=scatter), str(folder / "model.onnx"))
    write_manifest(folder, deployment)
    return folder


def random_membership(rng: np.random.Generator, n: int, q: int, *, empty: int = 0,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(offsets, indices)`` of ``q`` random proposals over ``n`` points: sizes from 1 to
    n, overlapping (a point in several proposals), the first one a single point, plus
    ``empty`` empty proposals at random positions."""
    lists = []
    for j in range(q):
        size = 1 if j == 0 else int(rng.integers(1, n + 1))
        lists.append(np.sort(rng.choice(n, size=size, replace=False)))
    for _ in range(empty):
        lists.insert(int(rng.integers(0, len(lists) + 1)), np.zeros(0, np.int64))
    offsets = np.zeros(len(lists) + 1, np.int64)
    np.cumsum([len(a) for a in lists], out=offsets[1:])
    indices = np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, np.int64)
    return offsets, indices


# ---- tests of the reference itself -------------------------------------------------------------

def test_reference_graph_passes_the_full_onnx_check(tmp_path):
    folder = build_deployment(tmp_path / "d", random_weights(5, 7, 4, 3))
    onnx.checker.check_model(str(folder / "model.onnx"), full_check=True)
    fp16 = build_deployment(tmp_path / "h", random_weights(5, 7, 4, 3), precision="fp16")
    onnx.checker.check_model(str(fp16 / "model.onnx"), full_check=True)


@pytest.mark.parametrize(("n", "c", "h", "d", "k", "q"),
                         [(1, 1, 1, 1, 1, 1), (37, 5, 11, 6, 3, 1), (101, 13, 17, 9, 7, 23)])
@pytest.mark.parametrize("scatter", ["nd", "elements"])
def test_run_graph_equals_numpy_segment_mean_mlp_normalise_softmax(tmp_path, n, c, h, d, k, q,
                                                                   scatter):
    rng = np.random.default_rng(n * 1000 + q)
    weights = random_weights(c, h, d, k, seed=n)
    runtime = Runtime(build_deployment(tmp_path / "d", weights, scatter=scatter))
    features = rng.normal(size=(n, c)).astype(np.float32)
    offsets, indices = random_membership(rng, n, q)
    sizes = np.diff(offsets)
    out = runtime.run_graph(features, indices, np.repeat(np.arange(q), sizes), sizes)
    emb, probs, labels = reference_outputs(weights, features, offsets, indices, np.arange(q))
    np.testing.assert_allclose(out.embeddings, emb, atol=1e-5)
    np.testing.assert_allclose(out.probabilities, probs, atol=1e-5)
    np.testing.assert_array_equal(out.labels, labels)
    assert out.embeddings.dtype == np.float32 and out.labels.dtype == np.int64
    np.testing.assert_allclose(np.linalg.norm(out.embeddings, axis=1), 1.0, atol=1e-5)


def test_scatter_nd_graph_runs_on_one_thread_and_sums_every_entry(tmp_path):
    """onnxruntime's CPU ScatterND races on repeated indices with several threads (segment sums
    off by > 10 with 1.32): a ScatterND graph runs single-threaded, its results are exact and
    repeatable on a membership with tens of thousands of entries; more threads are refused."""
    from folk_runtime import RuntimeInputError

    weights = random_weights(7, 13, 5, 4, seed=11)
    folder = build_deployment(tmp_path / "nd", weights)
    runtime = Runtime(folder)
    assert runtime.threads == 1
    rng = np.random.default_rng(1070)
    n, q = 1009, 61
    features = rng.normal(size=(n, 7)).astype(np.float32)
    offsets, indices = random_membership(rng, n, q)
    sizes = np.diff(offsets)
    feeds = (features, indices, np.repeat(np.arange(q), sizes), sizes)
    first = runtime.run_graph(*feeds).embeddings
    for _ in range(5):
        np.testing.assert_array_equal(runtime.run_graph(*feeds).embeddings, first)
    expected = reference_outputs(weights, features, offsets, indices, np.arange(q))[0]
    np.testing.assert_allclose(first, expected, atol=1e-5)
    with pytest.raises(RuntimeInputError, match="threads=2: this graph's segment mean uses "
                                                "ScatterND with a reduction.*#18048"):
        Runtime(folder, threads=2)
    elements = Runtime(build_deployment(tmp_path / "el", weights, scatter="elements"),
                       threads=2)
    assert elements.threads == 2


def test_onnx_scan_finds_reducing_scatter_nd_nodes_without_the_onnx_package(tmp_path):
    from folk_runtime.onnx_scan import MalformedModel, has_reducing_scatter_nd, nodes

    weights = random_weights(3, 4, 2, 2)
    deployment = make_deployment(weights)
    for scatter, racy in (("nd", True), ("elements", False)):
        model = build_model(weights, deployment, scatter=scatter)
        data = model.SerializeToString()
        assert [op for op, _ in nodes(data)] == [node.op_type for node in model.graph.node]
        assert has_reducing_scatter_nd(data) is racy
    model = build_model(weights, deployment)
    for node in model.graph.node:  # a ScatterND without reduction (unique indices) is safe
        if node.op_type == "ScatterND":
            del node.attribute[:]
    assert not has_reducing_scatter_nd(model.SerializeToString())
    with pytest.raises(MalformedModel):
        has_reducing_scatter_nd(b"\x3a\xff\xff\xff")
