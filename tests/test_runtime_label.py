"""Runtime.label end to end on the hand-built reference deployment: NMS → CSR → graph → labels
equals a NumPy computation and folk's own predict_scene; bad inputs are clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from folk.data.membership import ProposalMembership
from folk_runtime import Labels, Runtime, RuntimeInputError, nms_csr
from folk_runtime.csr import check_membership, graph_inputs

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_runtime_graphs import (
    build_deployment,
    random_membership,
    random_weights,
    reference_outputs,
)

C, H, D, K = 7, 13, 5, 4


@pytest.fixture(scope="module")
def weights():
    return random_weights(C, H, D, K, seed=11)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory, weights):
    return Runtime(build_deployment(tmp_path_factory.mktemp("fp32") / "d", weights))


def _expected(weights, features, offsets, indices, scores, nms=True):
    """What Runtime.label must return, from NumPy and nms_csr: (kept, labels, confidence,
    embeddings), kept ordered by descending confidence (stable over NMS order)."""
    n = features.shape[0]
    keep = nms_csr(offsets, indices, scores, n, 0.9 if nms else 1.0)
    keep = keep[np.diff(offsets)[keep] > 0]
    emb, probs, labels = reference_outputs(weights, features, offsets, indices, keep)
    conf = probs[np.arange(keep.size), labels].astype(np.float32).astype(np.float64) * \
        scores[keep]
    order = np.argsort(-conf, kind="stable")
    return keep[order], labels[order], conf[order], emb[order]


@pytest.mark.parametrize(("n", "q"), [(1, 1), (2, 3), (41, 1), (97, 17), (1009, 61)])
def test_label_equals_numpy_nms_segment_mean_mlp_softmax(runtime, weights, n, q):
    rng = np.random.default_rng(n + q)
    features = rng.normal(size=(n, C)).astype(np.float32)
    offsets, indices = random_membership(rng, n, q)
    scores = rng.random(q)
    got = runtime.label(features, offsets, indices, scores)
    kept, labels, conf, emb = _expected(weights, features, offsets, indices, scores)
    assert isinstance(got, Labels) and len(got) == kept.size
    np.testing.assert_array_equal(got.kept, kept)
    np.testing.assert_array_equal(got.labels, labels)
    np.testing.assert_allclose(got.confidence, conf, rtol=1e-5)
    np.testing.assert_allclose(got.embeddings, emb, atol=1e-5)
    np.testing.assert_array_equal(got.label_ids, np.arange(3, 3 + 2 * K, 2)[labels])
    assert got.names == [f"class {i}" for i in labels]
    assert np.all(np.diff(got.confidence) <= 0)
    assert got.probabilities.shape == (kept.size, K) and got.empty.size == 0
    assert set(got.timings) == {"checks", "nms", "graph_inputs", "graph", "classify"}


def test_label_matches_folk_predict_scene(runtime, weights):
    """The same kept proposals, order, classes, confidences and embeddings as folk's own
    prediction with an adapter holding the reference weights."""
    torch = pytest.importorskip("torch")
    from folk.data.scene import Proposals
    from folk.predict.predictor import PredictConfig, predict_scene
    from folk.student.model import VLAdapter

    adapter = VLAdapter(C, H, D, "relu").eval()
    with torch.no_grad():
        adapter.mlp[0].weight.copy_(torch.from_numpy(weights.w1.T))
        adapter.mlp[0].bias.copy_(torch.from_numpy(weights.b1))
        adapter.mlp[2].weight.copy_(torch.from_numpy(weights.w2.T))
        adapter.mlp[2].bias.copy_(torch.from_numpy(weights.b2))
    rng = np.random.default_rng(5)
    n, q = 503, 37
    features = rng.normal(size=(n, C)).astype(np.float32)
    offsets, indices = random_membership(rng, n, q)
    masks = ProposalMembership(offsets, indices, n).to_masks()
    masks[:, 5] = masks[:, 3]  # an exact duplicate: NMS drops the lower-scored one
    offsets = np.concatenate([[0], np.cumsum(masks.sum(axis=0))])
    indices = np.nonzero(masks.T)[1]
    scores = rng.random(q)
    label_ids = np.arange(3, 3 + 2 * K, 2)
    for confidence_one in (False, True):
        config = PredictConfig(tau_l=weights.tau, confidence_one=confidence_one)
        pred = predict_scene(features, Proposals(masks, scores), adapter, weights.text,
                             label_ids, config)
        got = runtime.label(features, offsets, indices, scores, confidence_one=confidence_one)
        np.testing.assert_array_equal(got.kept, pred.proposal_index)
        np.testing.assert_array_equal(got.labels, pred.class_index)
        np.testing.assert_array_equal(got.label_ids, pred.label_ids)
        np.testing.assert_allclose(got.confidence, pred.confidences, rtol=1e-5)
        np.testing.assert_allclose(got.class_probs, pred.class_probs, rtol=1e-5)
        np.testing.assert_allclose(got.embeddings, pred.embeddings, atol=1e-5)


def test_label_without_nms_or_scores_keeps_every_proposal(runtime, weights):
    rng = np.random.default_rng(2)
    n, q = 59, 9
    features = rng.normal(size=(n, C)).astype(np.float32)
    offsets, indices = random_membership(rng, n, q)
    offsets = np.concatenate([offsets, offsets[-1:] + np.diff(offsets)[-1:]])
    indices = np.concatenate([indices, indices[offsets[-3]:offsets[-2]]])  # a duplicate
    got = runtime.label(features, offsets, indices, nms=False)
    assert sorted(got.kept.tolist()) == list(range(q + 1))
    kept = _expected(weights, features, offsets, indices, np.ones(q + 1), nms=False)[0]
    np.testing.assert_array_equal(got.kept, kept)
    assert len(runtime.label(features, offsets, indices)) == q  # with NMS: duplicate dropped
    assert len(runtime.label(features, offsets, indices, iou_threshold=1.0)) == q + 1


def test_empty_proposals_are_dropped_before_the_graph_and_reported(runtime, weights):
    rng = np.random.default_rng(4)
    n, q = 83, 11
    features = rng.normal(size=(n, C)).astype(np.float32)
    offsets, indices = random_membership(rng, n, q, empty=3)
    sizes = np.diff(offsets)
    scores = rng.random(q + 3)
    got = runtime.label(features, offsets, indices, scores)
    assert sorted(got.empty.tolist()) == np.flatnonzero(sizes == 0).tolist()
    assert not set(got.kept.tolist()) & set(got.empty.tolist())
    kept = _expected(weights, features, offsets, indices, scores)[0]
    np.testing.assert_array_equal(got.kept, kept)
    only_empty = runtime.label(features, [0, 0, 0], [], [0.5, 0.7])
    assert len(only_empty) == 0 and only_empty.empty.tolist() == [1, 0]
    assert only_empty.embeddings.shape == (0, D) and only_empty.probabilities.shape == (0, K)
    none = runtime.label(features, [0], [])
    assert len(none) == 0 and none.empty.size == 0


def test_a_point_in_several_proposals_and_integer_or_float64_features(runtime, weights):
    features = np.arange(3 * C, dtype=np.float64).reshape(3, C) / 10
    offsets, indices = np.array([0, 2, 4, 5]), np.array([0, 1, 1, 2, 1])  # point 1 in all
    got = runtime.label(features, offsets, indices, [0.9, 0.8, 0.7], nms=False)
    kept, _, _, emb = _expected(weights, features.astype(np.float32), offsets, indices,
                                     np.array([0.9, 0.8, 0.7]), nms=False)
    np.testing.assert_array_equal(got.kept, kept)
    np.testing.assert_allclose(got.embeddings, emb, atol=1e-5)
    ints = runtime.label(np.ones((3, C), np.int32), offsets, indices, nms=False)
    assert len(ints) == 3


def test_fp16_deployment_labels_like_fp32(tmp_path, runtime, weights):
    fp16 = Runtime(build_deployment(tmp_path / "h", weights, precision="fp16"))
    rng = np.random.default_rng(9)
    n, q = 211, 29
    features = rng.normal(size=(n, C)).astype(np.float32)
    offsets, indices = random_membership(rng, n, q)
    a = runtime.label(features, offsets, indices, nms=False)
    b = fp16.label(features, offsets, indices, nms=False)
    np.testing.assert_allclose(b.embeddings[np.argsort(b.kept)],
                               a.embeddings[np.argsort(a.kept)], atol=5e-3)
    with pytest.raises(RuntimeInputError, match="exceed float16's range"):
        fp16.label(np.full((n, C), 1e6, np.float32), offsets, indices)


# ---- bad inputs -------------------------------------------------------------------------------

BAD_INPUTS = [
    (np.zeros(5), [0, 1], [0], None, "features must be 2-D"),
    (np.zeros((5, C, 1)), [0, 1], [0], None, "features must be 2-D"),
    (np.zeros((5, C + 1)), [0, 1], [0], None,
     f"features have {C + 1} dims per point but this deployment takes C = {C} \\(mask3d"),
    (np.full((5, C), "a"), [0, 1], [0], None, "features must be real numbers"),
    (np.zeros((5, C)), [0, 2, 1, 3], [0, 1, 2], None, "offsets must never decrease"),
    (np.zeros((5, C)), [0, 2], [0, 5], None, r"indices must lie in \[0, 5\)"),
    (np.zeros((5, C)), [0, 2], [3, 1], None, "strictly increasing within each proposal"),
    (np.zeros((5, C)), [0, 1], [0], [0.5, 0.5], r"scores must have shape \(1,\)"),
    (np.zeros((5, C)), [0, 1], [0], [np.inf], "scores contain NaN or inf"),
]


@pytest.mark.parametrize(("features", "offsets", "indices", "scores", "message"), BAD_INPUTS)
def test_label_rejects_bad_input_with_a_clear_message(runtime, features, offsets, indices,
                                                      scores, message):
    with pytest.raises(RuntimeInputError, match=message):
        runtime.label(features, np.asarray(offsets), np.asarray(indices), scores)


def test_nan_features_inside_a_proposal_are_an_error_outside_are_ignored(runtime):
    features = np.random.default_rng(0).normal(size=(10, C)).astype(np.float32)
    features[7, 2] = np.nan
    offsets, indices = np.array([0, 3, 5]), np.array([0, 1, 2, 3, 4])
    assert len(runtime.label(features, offsets, indices, nms=False)) == 2  # point 7 unused
    with pytest.raises(RuntimeInputError, match=r"NaN or inf \(e.g. point 7, in proposal 1\)"):
        runtime.label(features, np.array([0, 3, 6]), np.array([0, 1, 2, 3, 4, 7]))


def test_unknown_backend_or_providers_are_clear_errors(tmp_path, weights):
    from folk_runtime import BackendUnavailable

    folder = build_deployment(tmp_path / "d", weights)
    with pytest.raises(RuntimeInputError, match="unknown backend 'torch'"):
        Runtime(folder, backend="torch")
    with pytest.raises(BackendUnavailable, match="'NoSuchExecutionProvider'.*not available"):
        Runtime(folder, providers=["NoSuchExecutionProvider"])
    assert Runtime(folder, providers=["CPUExecutionProvider"], threads=1).providers == \
        ["CPUExecutionProvider"]


def test_graph_inputs_of_every_proposal_reuse_the_entries_and_of_a_selection_copy_them():
    """Every proposal in input order (NMS kept all): ``point_index`` is the CSR indices
    themselves, no copy; a selection in another order: its proposals' entries, in that order."""
    rng = np.random.default_rng(4)
    offsets, indices = random_membership(rng, 50, 6)
    membership = check_membership(offsets, indices, 50)
    sizes = np.diff(offsets)
    every = graph_inputs(membership, np.arange(6))
    assert np.shares_memory(every.point_index, membership.indices)
    np.testing.assert_array_equal(every.point_index, indices)
    np.testing.assert_array_equal(every.proposal_index, np.repeat(np.arange(6), sizes))
    np.testing.assert_array_equal(every.proposal_size, sizes.astype(np.float32))
    some = graph_inputs(membership, np.array([4, 1]))
    assert not np.shares_memory(some.point_index, membership.indices)
    np.testing.assert_array_equal(some.point_index, np.concatenate(
        [indices[offsets[4]:offsets[5]], indices[offsets[1]:offsets[2]]]))
    np.testing.assert_array_equal(some.proposal_index, np.repeat([0, 1], sizes[[4, 1]]))
    np.testing.assert_array_equal(some.proposal_size, sizes[[4, 1]].astype(np.float32))
