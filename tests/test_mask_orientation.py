"""folk's one mask orientation: every dataclass that holds instance masks takes them as
(N points, K instances), one column per instance, and rejects the transpose with a hint."""

from __future__ import annotations

import numpy as np
import pytest

from folk.data.membership import ProposalMembership
from folk.data.scene import Proposals
from folk.errors import FolkInputError
from folk.predict.instances import InstancePrediction
from folk.predict.predictor import ScenePrediction

N, K = 37, 5  # awkward sizes, N != K so that a transpose is recognisable


def masks(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((N, K)) < 0.4


def scene_prediction(m: np.ndarray) -> ScenePrediction:
    k = m.shape[1] if m.shape[0] == N else m.shape[0]
    return ScenePrediction("s", m, np.arange(k), np.zeros(k, np.int64), np.ones(k, np.int64),
                           np.ones(k, np.float32), np.ones(k), np.zeros((k, 3), np.float32))


def test_all_three_take_n_by_k_and_agree_column_for_column():
    m = masks(1)
    proposals = Proposals(m, np.linspace(0.1, 1.0, K))
    pred = scene_prediction(m)
    instances = pred.to_instance_prediction()
    np.testing.assert_array_equal(instances.masks, proposals.masks)
    np.testing.assert_array_equal(instances.instance_masks(), m.T)
    np.testing.assert_array_equal(ProposalMembership.from_masks(m).to_masks(), pred.masks)
    assert instances.num_vertices == N and len(instances) == K


@pytest.mark.parametrize("make", [
    lambda m: Proposals(m, np.ones(K)),
    scene_prediction,
    lambda m: InstancePrediction(m, np.ones(K, np.int64), np.ones(K)),
], ids=["Proposals", "ScenePrediction", "InstancePrediction"])
def test_the_transpose_is_rejected_with_a_hint(make):
    with pytest.raises(FolkInputError, match=r"pass masks\.T"):
        make(masks(2).T)


def test_an_empty_prediction_keeps_its_vertex_count():
    empty = InstancePrediction.empty(N)
    assert empty.masks.shape == (N, 0) and empty.num_vertices == N
    assert InstancePrediction(np.zeros((N, 0), bool), [], []).num_vertices == N
