"""folk.export.graph: the hand-written ONNX graph is valid (full checker, opset 17), has the
deployment interface's inputs and outputs, never holds an N × Q tensor, is the same bytes on
every build, and computes what the PyTorch student computes (ONNX Runtime directly, both
scatters, every activation, fp32 and fp16)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from folk.data.membership import ProposalMembership
from folk.errors import FolkInputError
from folk.export.graph import (
    ACTIVATIONS,
    INPUT_NAMES,
    OPSET,
    OUTPUT_NAMES,
    SCATTERS,
    AdapterWeights,
    membership_inputs,
    student_graph,
)
from folk.export.segment_sum import BLOCK, CHUNK
from folk.student.classify import class_probabilities, embed_segments
from folk.student.model import VLAdapter


def _student(c: int, h: int, d: int, k: int, activation: str = "gelu", seed: int = 0):
    torch.manual_seed(seed)
    adapter = VLAdapter(c, h, d, activation).eval()
    text = np.random.default_rng(seed).normal(size=(k, d)).astype(np.float32)
    return adapter, text


def _scene(n: int, c: int, q: int, seed: int):
    """Random features and q proposals of random sizes (one of them a single point)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, c)).astype(np.float32)
    lists = [rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False) for _ in range(q)]
    lists[0] = np.array([int(rng.integers(n))])
    return features, ProposalMembership.from_lists(lists, n)


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_graph_passes_the_full_checker_with_the_interface_inputs_and_outputs():
    adapter, text = _student(5, 7, 6, 3)
    model = student_graph(AdapterWeights.from_adapter(adapter), text, 0.01)
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    assert OPSET >= 17
    assert [i.name for i in model.graph.input] == list(INPUT_NAMES)
    assert [o.name for o in model.graph.output] == list(OUTPUT_NAMES)
    types = {v.name: v.type.tensor_type.elem_type for v in (*model.graph.input,
                                                            *model.graph.output)}
    assert types == {"features": onnx.TensorProto.FLOAT, "point_index": onnx.TensorProto.INT64,
                     "proposal_index": onnx.TensorProto.INT64,
                     "proposal_size": onnx.TensorProto.FLOAT,
                     "embeddings": onnx.TensorProto.FLOAT,
                     "probabilities": onnx.TensorProto.FLOAT, "labels": onnx.TensorProto.INT64}


@pytest.mark.parametrize("scatter", SCATTERS)
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_no_tensor_of_the_graph_spans_points_and_proposals(scatter, precision):
    """Symbolic shape inference: every intermediate is (N, ·), (M, ·), (Q, ·) or constant —
    never a dense N × Q (or M × Q) matrix."""
    adapter, text = _student(5, 7, 6, 3)
    model = student_graph(AdapterWeights.from_adapter(adapter), text, 0.01,
                          precision=precision, scatter=scatter)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    values = [*inferred.graph.value_info, *inferred.graph.output]
    assert len(values) >= len(model.graph.node)  # every intermediate got a shape
    for value in values:
        dims = value.type.tensor_type.shape.dim
        assert all(d.dim_param or d.dim_value for d in dims), value.name  # no unknown size
        names = {d.dim_param for d in dims if d.dim_param}
        assert len(names & {"N", "M", "Q"}) <= 1, (value.name, names)


@pytest.mark.parametrize("scatter", SCATTERS)
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_every_initializer_is_used(scatter, precision):
    adapter, text = _student(5, 7, 6, 3, activation="gelu")
    model = student_graph(AdapterWeights.from_adapter(adapter), text, 0.01,
                          precision=precision, scatter=scatter)
    def inputs(graph) -> set[str]:  # of its nodes and of the nodes of their subgraphs
        return {name for node in graph.node for name in node.input} | {
            name for node in graph.node for attribute in node.attribute
            if attribute.type == onnx.AttributeProto.GRAPH for name in inputs(attribute.g)}

    used = inputs(model.graph)
    assert [i.name for i in model.graph.initializer if i.name not in used] == []


def test_the_same_student_gives_the_same_bytes():
    adapter, text = _student(4, 9, 5, 2, activation="silu")
    weights = AdapterWeights.from_adapter(adapter)
    first = student_graph(weights, text, 0.02, metadata={"a": "1"}).SerializeToString()
    again = student_graph(AdapterWeights.from_adapter(adapter), text.copy(), 0.02,
                          metadata={"a": "1"}).SerializeToString()
    assert first == again


@pytest.mark.parametrize("scatter", SCATTERS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_graph_equals_the_pytorch_student(activation, scatter):
    adapter, text = _student(11, 13, 10, 7, activation, seed=len(activation))
    session = _session(student_graph(AdapterWeights.from_adapter(adapter), text, 0.03,
                                     scatter=scatter))
    for n, q, seed in ((1, 1, 1), (2, 1, 2), (97, 5, 3), (131, 23, 4)):
        features, membership = _scene(n, 11, q, seed)
        emb, probs, labels = session.run(None, membership_inputs(
            membership.offsets, membership.indices, features))
        expected = embed_segments(adapter, features, membership)
        expected_p = class_probabilities(expected, text, 0.03)
        np.testing.assert_allclose(emb, expected, atol=1e-5, rtol=0)
        np.testing.assert_allclose(probs, expected_p, atol=1e-5, rtol=0)
        np.testing.assert_array_equal(labels, expected_p.argmax(axis=1))
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)


def test_fp16_graph_takes_half_features_and_returns_float32_close_to_the_student():
    adapter, text = _student(16, 32, 24, 9)
    model = student_graph(AdapterWeights.from_adapter(adapter), text, 0.01, precision="fp16")
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert {o.type.tensor_type.elem_type for o in model.graph.output[:2]} == {
        onnx.TensorProto.FLOAT}
    features, membership = _scene(301, 16, 12, 5)
    emb, probs, _ = _session(model).run(None, membership_inputs(
        membership.offsets, membership.indices, features.astype(np.float16)))
    assert emb.dtype == np.float32 and probs.dtype == np.float32
    expected = embed_segments(adapter, features.astype(np.float16).astype(np.float32),
                              membership)
    np.testing.assert_allclose(emb, expected, atol=1e-2)


@pytest.mark.parametrize("scatter", SCATTERS)
def test_a_point_in_every_proposal_counts_in_each(scatter):
    adapter, text = _student(3, 4, 5, 2)
    session = _session(student_graph(AdapterWeights.from_adapter(adapter), text, 0.1,
                                     scatter=scatter))
    features = np.random.default_rng(7).normal(size=(10, 3)).astype(np.float32)
    lists = [np.array([4]), np.array([4, 5]), np.array([0, 4, 9])]  # point 4 in all three
    membership = ProposalMembership.from_lists(lists, 10)
    emb = session.run(["embeddings"], membership_inputs(membership.offsets, membership.indices,
                                                        features))[0]
    np.testing.assert_allclose(emb, embed_segments(adapter, features, membership), atol=1e-6)


@pytest.mark.parametrize("sizes", [
    [BLOCK], [BLOCK + 1, 1], [1, 2 * BLOCK - 1, BLOCK, 3],
    [1] * CHUNK, [1] * (CHUNK + 1), [BLOCK * CHUNK], [BLOCK * CHUNK + 1, 2],
    [3] + [BLOCK] * (2 * CHUNK - 1)],
    ids=["one-block", "block-over", "block-under", "one-chunk", "one-block-over", "full-chunk",
         "entry-over", "two-chunks-last-full"])
def test_blocked_sum_at_block_and_chunk_boundaries(sizes):
    """Proposals of exactly one block, one slot more, one less; blocks filling a chunk exactly,
    or one more (a chunk of padding blocks): each proposal's sum is its own, no entry lost,
    doubled or spilled into the last proposal."""
    adapter, text = _student(5, 7, 5, 3)
    session = _session(student_graph(AdapterWeights.from_adapter(adapter), text, 0.05))
    rng = np.random.default_rng(len(sizes))
    n = max(sizes) + 7
    features = rng.normal(size=(n, 5)).astype(np.float32)
    membership = ProposalMembership.from_lists(
        [rng.choice(n, size=s, replace=False) for s in sizes], n)
    emb = session.run(["embeddings"], membership_inputs(membership.offsets, membership.indices,
                                                        features))[0]
    np.testing.assert_allclose(emb, embed_segments(adapter, features, membership), atol=1e-5)


@pytest.mark.parametrize("scatter", SCATTERS)
def test_no_proposals_give_empty_outputs(scatter):
    """Q = 0 (M = 0): empty outputs of the right widths, not an error."""
    adapter, text = _student(4, 6, 5, 3)
    session = _session(student_graph(AdapterWeights.from_adapter(adapter), text, 0.05,
                                     scatter=scatter))
    emb, probs, labels = session.run(None, {
        "features": np.ones((9, 4), np.float32), "point_index": np.zeros(0, np.int64),
        "proposal_index": np.zeros(0, np.int64), "proposal_size": np.zeros(0, np.float32)})
    assert emb.shape == (0, 5) and probs.shape == (0, 3) and labels.shape == (0,)


@pytest.mark.parametrize("scatter", SCATTERS)
def test_sums_are_exact_and_repeatable_on_several_threads(scatter):
    """ONNX Runtime's ScatterND(reduction="add") races on repeated indices with more than one
    thread; neither formulation of the segment sum may (a large proposal, two threads)."""
    adapter, text = _student(32, 16, 8, 4)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(student_graph(
        AdapterWeights.from_adapter(adapter), text, 0.05, scatter=scatter).SerializeToString(),
        options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(9)
    features = rng.normal(size=(20011, 32)).astype(np.float32)
    membership = ProposalMembership.from_lists(
        [rng.choice(20011, size=s, replace=False) for s in (17000, 5, 3001)], 20011)
    expected = embed_segments(adapter, features, membership)
    feeds = membership_inputs(membership.offsets, membership.indices, features)
    for _ in range(5):
        emb = session.run(["embeddings"], feeds)[0]
        np.testing.assert_allclose(emb, expected, atol=1e-5, rtol=0)


def test_bad_inputs_name_the_cause():
    adapter, text = _student(4, 5, 6, 3)
    weights = AdapterWeights.from_adapter(adapter)
    with pytest.raises(FolkInputError, match="6-dim embeddings but the text embeddings have 7"):
        student_graph(weights, np.ones((3, 7), np.float32), 0.01)
    with pytest.raises(FolkInputError, match="K >= 1"):
        student_graph(weights, np.ones((0, 6), np.float32), 0.01)
    with pytest.raises(FolkInputError, match="tau_l must be > 0"):
        student_graph(weights, text, 0.0)
    with pytest.raises(FolkInputError, match="precision"):
        student_graph(weights, text, 0.01, precision="int8")
    with pytest.raises(FolkInputError, match="NaN"):
        student_graph(weights, np.full((3, 6), np.nan, np.float32), 0.01)
    with pytest.raises(FolkInputError, match="cannot be exported"):
        AdapterWeights(weights.w1, weights.b1, weights.w2, weights.b2, "mish")
    with pytest.raises(FolkInputError, match="do not chain"):
        AdapterWeights(weights.w1, weights.b1, weights.w2.T, weights.b2, "gelu")
