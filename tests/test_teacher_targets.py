"""The teacher targets file: round trip, version check, and half-written files refused."""

from __future__ import annotations

import numpy as np
import pytest

from folk.errors import FolkInputError
from folk.teacher.targets import TeacherTargets, load_targets, save_targets


def _targets(q: int = 3, k: int = 2, d: int = 4) -> TeacherTargets:
    rng = np.random.default_rng(5)
    return TeacherTargets("s", ["chair", "table"], rng.normal(size=(2, d)),
                          np.array([[4, 9], [-1, -1], [2, -1]]), rng.normal(size=(q, k, d)),
                          np.array([[0, 0], [-1, -1], [1, -1]]), np.array([0, -1, 1]),
                          rng.normal(size=(q, d)), {"model": "x"})


def test_round_trip_keeps_every_field(tmp_path):
    t = _targets()
    save_targets(tmp_path / "s.npz", t)
    u = load_targets(tmp_path / "s.npz")
    assert u.vocabulary == t.vocabulary and u.meta == t.meta
    np.testing.assert_array_equal(u.view_ids, t.view_ids)
    np.testing.assert_allclose(u.targets, t.targets.astype(np.float32))
    assert u.valid.tolist() == [True, False, True]


def test_truncated_file_is_an_input_error(tmp_path):
    save_targets(tmp_path / "s.npz", _targets())
    data = (tmp_path / "s.npz").read_bytes()
    (tmp_path / "s.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(FolkInputError, match="not a folk teacher targets file"):
        load_targets(tmp_path / "s.npz")


def test_mismatched_shapes_are_refused():
    t = _targets()
    with pytest.raises(FolkInputError, match="view_labels"):
        TeacherTargets(t.scene, t.vocabulary, t.text_embeddings, t.view_ids, t.view_embeddings,
                       t.view_labels[:, :1], t.labels, t.targets)
