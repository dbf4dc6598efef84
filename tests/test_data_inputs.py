"""Readers of proposals, scores, point features and GT: formats and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from folk.data import load_array, read_features, read_ground_truth, read_proposals
from folk.errors import FolkInputError


@pytest.fixture
def masks(request) -> np.ndarray:
    rng = np.random.default_rng(7)
    m = rng.random((41, 5)) < 0.3
    m[0] = True  # every proposal non-empty
    return m


def test_mask3d_pt_float16_numpy_is_read_without_full_unpickling(tmp_path, masks):
    torch.save(masks.astype(np.float16), tmp_path / "s_masks.pt")  # as OpenMask3D saves it
    proposals = read_proposals(tmp_path / "s_masks.pt", num_points=41)
    np.testing.assert_array_equal(proposals.masks, masks)
    assert proposals.masks.dtype == bool
    np.testing.assert_array_equal(proposals.scores, np.ones(5, np.float32))


@pytest.mark.parametrize("fmt", ["npy", "npz", "pt-tensor"])
def test_proposals_and_scores_in_other_formats(tmp_path, masks, fmt):
    scores = np.linspace(0.1, 0.9, 5).astype(np.float32)
    if fmt == "npy":
        np.save(tmp_path / "m.npy", masks.astype(np.uint8))
        np.save(tmp_path / "s.npy", scores)
        paths = tmp_path / "m.npy", tmp_path / "s.npy"
    elif fmt == "npz":
        np.savez(tmp_path / "m.npz", masks=masks, scores=scores)
        paths = tmp_path / "m.npz", tmp_path / "m.npz"
    else:
        torch.save(torch.from_numpy(masks.astype(np.float32)), tmp_path / "m.pt")
        torch.save({"scores": torch.from_numpy(scores)}, tmp_path / "s.pt")
        paths = tmp_path / "m.pt", tmp_path / "s.pt"
    proposals = read_proposals(paths[0], num_points=41, scores_path=paths[1])
    np.testing.assert_array_equal(proposals.masks, masks)
    np.testing.assert_allclose(proposals.scores, scores)


def test_proposals_of_the_wrong_length_name_the_file(tmp_path, masks):
    np.save(tmp_path / "m.npy", masks)
    with pytest.raises(FolkInputError, match=r"m\.npy: masks cover 41 points but the scene has 40"):
        read_proposals(tmp_path / "m.npy", num_points=40)


def test_transposed_proposals_get_a_hint(tmp_path, masks):
    np.save(tmp_path / "m.npy", masks.T)
    with pytest.raises(FolkInputError, match="transposed"):
        read_proposals(tmp_path / "m.npy", num_points=41)


def test_empty_proposal_is_an_error_naming_its_column(tmp_path, masks):
    masks[:, 3] = False
    np.save(tmp_path / "m.npy", masks)
    with pytest.raises(FolkInputError, match=r"1 proposal\(s\) have no points.*\[3\]"):
        read_proposals(tmp_path / "m.npy", num_points=41)


def test_non_binary_masks_and_bad_scores_are_errors(tmp_path, masks):
    np.save(tmp_path / "m.npy", masks * 0.5)
    with pytest.raises(FolkInputError, match="only 0 and 1"):
        read_proposals(tmp_path / "m.npy")
    np.save(tmp_path / "m.npy", masks)
    np.save(tmp_path / "s.npy", np.ones(4))
    with pytest.raises(FolkInputError, match=r"s\.npy: 4 scores for 5 proposals"):
        read_proposals(tmp_path / "m.npy", scores_path=tmp_path / "s.npy")
    np.save(tmp_path / "s.npy", np.array([1, 1, np.nan, 1, 1]))
    with pytest.raises(FolkInputError, match="NaN or inf"):
        read_proposals(tmp_path / "m.npy", scores_path=tmp_path / "s.npy")


class _NotAnArray:
    pass


def test_arbitrary_pickles_need_explicit_trust(tmp_path):
    torch.save({"masks": _NotAnArray()}, tmp_path / "evil.pt")
    with pytest.raises(FolkInputError, match="allow_pickle=True"):
        load_array(tmp_path / "evil.pt", key="masks")
    with pytest.raises(FolkInputError, match="holds a _NotAnArray, not an array"):
        load_array(tmp_path / "evil.pt", key="masks", allow_pickle=True)


def test_unreadable_and_missing_array_files(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"\x00garbage")
    with pytest.raises(FolkInputError, match=r"x\.pt"):
        load_array(tmp_path / "x.pt")
    with pytest.raises(FolkInputError, match="file not found"):
        load_array(tmp_path / "none.npy")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(FolkInputError, match="unsupported array file type"):
        load_array(tmp_path / "x.csv")
    np.savez(tmp_path / "two.npz", a=np.ones(2), b=np.ones(3))
    with pytest.raises(FolkInputError, match="say which one"):
        load_array(tmp_path / "two.npz")


def test_features_are_float32_and_checked_against_the_point_count(tmp_path):
    feats = np.random.default_rng(3).normal(size=(41, 96))
    np.save(tmp_path / "f.npy", feats)
    out = read_features(tmp_path / "f.npy", num_points=41)
    assert out.features.dtype == np.float32 and out.dim == 96
    np.testing.assert_allclose(out.features, feats, rtol=1e-6)
    with pytest.raises(FolkInputError, match=r"features for 41 points but the scene has 42"):
        read_features(tmp_path / "f.npy", num_points=42)
    feats[5, 7] = np.inf
    np.save(tmp_path / "f.npy", feats)
    with pytest.raises(FolkInputError, match="finite"):
        read_features(tmp_path / "f.npy")


def test_ground_truth_decodes_labels_and_instances(tmp_path):
    ids = np.array([2001, 2001, 0, 4002, 3, 2003, 4002])
    np.savetxt(tmp_path / "gt.txt", ids, fmt="%d")
    gt = read_ground_truth(tmp_path / "gt.txt", num_points=7)
    assert gt.label_ids.tolist() == [2, 2, 0, 4, 0, 2, 4]
    assert gt.instance_ids.tolist() == [1, 1, 0, 2, 0, 3, 2]
    masks, labels = gt.instance_masks()
    assert labels.tolist() == [2, 2, 4]
    assert masks.sum(axis=0).tolist() == [2, 1, 2]


def test_ground_truth_bad_inputs_name_the_file(tmp_path):
    (tmp_path / "gt.txt").write_text("2001\n2001\nchair\n")
    with pytest.raises(FolkInputError, match=r"gt\.txt: malformed ground-truth file.*line 3 is .chair."):
        read_ground_truth(tmp_path / "gt.txt")
    (tmp_path / "gt.txt").write_text("2001\n2001\n")
    with pytest.raises(FolkInputError, match="2 values but the scene has 3"):
        read_ground_truth(tmp_path / "gt.txt", num_points=3)
    (tmp_path / "gt.txt").write_text("")
    with pytest.raises(FolkInputError, match="empty"):
        read_ground_truth(tmp_path / "gt.txt")
