"""The label vote (docs/method.md §5)."""

from __future__ import annotations

import numpy as np

from folk.teacher.vote import vote


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


TEXT = np.eye(3, dtype=np.float32)  # class c's text embedding is the c-th axis


def test_majority_label_and_target_is_the_mean_of_the_agreeing_views():
    views = _unit([[[1, 0.1, 0], [0.9, 0.3, 0], [0, 1, 0.2], [1, 0, 0.5]]])
    r = vote(views, np.ones((1, 4), bool), TEXT)
    assert r.labels.tolist() == [0]
    assert r.view_labels.tolist() == [[0, 0, 1, 0]]
    expected = _unit(views[0, [0, 1, 3]].mean(0))
    np.testing.assert_allclose(r.targets[0], expected, atol=1e-6)


def test_a_tie_goes_to_the_class_with_the_highest_mean_similarity():
    # two views say class 0 weakly, two say class 2 strongly
    views = _unit([[[0.6, 0.5, 0.0], [0.6, 0.0, 0.5], [0, 0.1, 1], [0.1, 0, 1]]])
    r = vote(views, np.ones((1, 4), bool), TEXT)
    assert sorted(r.view_labels[0].tolist()) == [0, 0, 2, 2]
    assert r.labels.tolist() == [2]
    np.testing.assert_allclose(r.targets[0], _unit(views[0, 2:].mean(0)), atol=1e-6)
    # the same views in another order give the same answer
    r2 = vote(views[:, ::-1].copy(), np.ones((1, 4), bool), TEXT)
    assert r2.labels.tolist() == [2]


def test_a_tie_is_not_decided_by_view_order_or_class_index():
    views = _unit([[[0, 0.2, 1], [1, 0.3, 0]]])  # class 2 sim .98, class 0 sim .96
    assert vote(views, np.ones((1, 2), bool), TEXT).labels.tolist() == [2]


def test_invalid_views_do_not_vote_and_viewless_proposals_get_minus_one():
    views = _unit(np.random.default_rng().normal(size=(2, 3, 3)))
    views[0, 1] = _unit([0, 0, 1])
    valid = np.array([[False, True, False], [False, False, False]])
    r = vote(views, valid, TEXT)
    assert r.labels.tolist() == [2, -1]
    assert r.view_labels.tolist() == [[-1, 2, -1], [-1, -1, -1]]
    np.testing.assert_allclose(r.targets[0], views[0, 1], atol=1e-6)
    assert not r.targets[1].any()
