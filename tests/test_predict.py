"""Prediction and queries: hand-checkable classification, the submission format, vocabularies,
text embeddings, bad inputs, and the commands end to end on the toy problem."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from distill_toy import CLASSES, make_toy

from folk.cli import main
from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkInputError
from folk.predict import (
    PredictConfig,
    TextEmbeddings,
    load_text_embeddings,
    predict_scene,
    rank_instances,
    resolve_vocabulary,
    save_text_embeddings,
    write_scannet_submission,
)
from folk.predict.submission import read_submission
from folk.student import VLAdapter, save_adapter
from folk.student.classify import class_probabilities
from folk.teacher.targets import load_targets


def _identity_adapter(dim: int = 2) -> VLAdapter:
    """f = normalise(relu(x)): the student embedding of a proposal is its mean feature."""
    model = VLAdapter(dim, dim, dim, activation="relu")
    with torch.no_grad():
        for layer in (model.mlp[0], model.mlp[2]):
            layer.weight.copy_(torch.eye(dim))
            layer.bias.zero_()
    return model.eval()


def _scene():
    # 6 points; proposal 0 = points 0-1 (feature (1,0)), 1 = points 2-3 ((0,1)),
    # 2 = points 2-3 again (a duplicate with a lower score), 3 = points 4-5 ((0.6, 0.8)).
    x = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [0.6, 0.8], [0.6, 0.8]], np.float32)
    masks = np.zeros((6, 4), bool)
    masks[0:2, 0] = masks[2:4, 1] = masks[2:4, 2] = masks[4:6, 3] = True
    return PointFeatures(x), Proposals(masks, np.array([0.5, 0.9, 0.8, 1.0]))


TEXT = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)  # class ids 11 and 22


def test_predictions_match_hand_computation():
    features, proposals = _scene()
    pred = predict_scene(features, proposals, _identity_adapter(), TEXT, [11, 22],
                         PredictConfig(tau_l=0.5), scene="s")
    assert len(pred) == 3  # the duplicate (proposal 2) fell to NMS
    p_hi = np.exp(2.0) / (np.exp(2.0) + 1.0)  # softmax((1, 0) / 0.5)
    p_34 = np.exp(1.6) / (np.exp(1.6) + np.exp(1.2))  # softmax((0.6, 0.8) / 0.5)
    expected = {0: (11, p_hi * 0.5), 1: (22, p_hi * 0.9), 3: (22, p_34 * 1.0)}
    got = {int(q): (int(l), float(c)) for q, l, c in
           zip(pred.proposal_index, pred.label_ids, pred.confidences)}
    assert got.keys() == expected.keys()
    for q, (label, conf) in expected.items():
        assert got[q][0] == label and got[q][1] == pytest.approx(conf, rel=1e-5)
    assert list(pred.confidences) == sorted(pred.confidences, reverse=True)
    np.testing.assert_array_equal(pred.masks[:, 0], proposals.masks[:, pred.proposal_index[0]])


def test_confidence_one_sets_every_confidence_to_one():
    features, proposals = _scene()
    pred = predict_scene(features, proposals, _identity_adapter(), TEXT, [11, 22],
                         PredictConfig(tau_l=0.5, confidence_one=True))
    assert (pred.confidences == 1.0).all()


def test_vocabulary_of_one_word_predicts_it_with_probability_one():
    features, proposals = _scene()
    pred = predict_scene(features, proposals, _identity_adapter(), TEXT[:1], [5])
    assert (pred.label_ids == 5).all()
    np.testing.assert_allclose(pred.class_probs, 1.0)
    np.testing.assert_allclose(sorted(pred.confidences), [0.5, 0.9, 1.0], rtol=1e-6)


def test_class_probabilities_are_a_softmax_of_cosines_over_tau():
    p = class_probabilities(np.array([[3.0, 4.0]]), TEXT, tau_l=0.1)
    expected = np.exp([6.0, 8.0]) / np.exp([6.0, 8.0]).sum()
    np.testing.assert_allclose(p[0], expected, rtol=1e-5)


def test_submission_files_round_trip_through_the_evaluator_reader(tmp_path):
    features, proposals = _scene()
    pred = predict_scene(features, proposals, _identity_adapter(), TEXT, [11, 22], scene="s0")
    path = write_scannet_submission(tmp_path, pred)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("pred_mask/s0_0.txt ") and len(lines) == 3
    assert (tmp_path / "pred_mask" / "s0_2.txt").read_text() == "".join(
        f"{int(v)}\n" for v in pred.masks[:, 2])
    back = read_submission(path, num_vertices=6)
    np.testing.assert_array_equal(back.masks, pred.masks)
    np.testing.assert_array_equal(back.label_ids, pred.label_ids)
    np.testing.assert_allclose(back.confidences, pred.confidences)


def test_scene_without_proposals_writes_an_empty_scene_file(tmp_path):
    pred = predict_scene(np.ones((4, 2), np.float32), Proposals(np.zeros((4, 0), bool),
                         np.zeros(0)), _identity_adapter(), TEXT, [11, 22], scene="empty")
    assert len(pred) == 0
    assert write_scannet_submission(tmp_path, pred).read_text() == ""


def test_bad_inputs_are_clear_errors():
    features, proposals = _scene()
    adapter = _identity_adapter()
    with pytest.raises(FolkInputError, match="point features \\(5, 2\\) but the proposals cover 6"):
        predict_scene(PointFeatures(features.features[:5]), proposals, adapter, TEXT, [1, 2])
    with pytest.raises(FolkInputError, match="text embeddings have 3 dims"):
        predict_scene(features, proposals, adapter, np.ones((2, 3)), [1, 2])
    with pytest.raises(FolkInputError, match="takes 2-dim point features"):
        predict_scene(PointFeatures(np.ones((6, 3))), proposals, adapter, TEXT, [1, 2])
    with pytest.raises(FolkInputError, match="do not describe one vocabulary"):
        predict_scene(features, proposals, adapter, TEXT, [1, 2, 3])
    masks = proposals.masks.copy()
    masks[:, 3] = False
    with pytest.raises(FolkInputError, match="no points"):
        predict_scene(features, Proposals(masks, proposals.scores), adapter, TEXT, [1, 2])


def test_query_ranks_by_cosine_similarity():
    features, proposals = _scene()
    result = rank_instances(features, proposals, _identity_adapter(), np.array([0.0, 2.0]))
    assert result.proposal_index.tolist() == [1, 3, 0]
    np.testing.assert_allclose(result.similarity, [1.0, 0.8, 0.0], atol=1e-6)


def test_vocabularies_resolve_to_names_and_label_ids(tmp_path):
    scannet = resolve_vocabulary("scannet200")
    assert len(scannet) == 200 and scannet.label_ids[scannet.names.index("chair")] == 2
    assert len(resolve_vocabulary("replica")) == 48
    custom = resolve_vocabulary("chair, table")
    assert custom.names == ("chair", "table") and custom.label_ids == (2, 4)
    assert resolve_vocabulary("mug holder,alien").label_ids == (1, 2)
    assert resolve_vocabulary("lamp").names == ("lamp",)
    f = tmp_path / "vocab.txt"
    f.write_text("# my classes\nchair\n\ncoffee maker\n")
    assert resolve_vocabulary(f).names == ("chair", "coffee maker")
    with pytest.raises(FolkInputError, match="more than once"):
        resolve_vocabulary("chair,chair")
    with pytest.raises(FolkInputError, match="empty name"):
        resolve_vocabulary(",")
    with pytest.raises(FolkInputError, match="vocabulary file not found"):
        resolve_vocabulary(tmp_path / "missing.txt")


def test_text_embeddings_from_npz_and_from_teacher_targets(tmp_path):
    info = make_toy(tmp_path, ["t0"])
    save_text_embeddings(tmp_path / "te.npz", TextEmbeddings(tuple(CLASSES), info["text"] * 2))
    te = load_text_embeddings(tmp_path / "te.npz")
    np.testing.assert_allclose(te.select(["lamp", "chair"]), info["text"][[2, 0]], atol=1e-6)
    from_targets = load_text_embeddings(tmp_path / "targets" / "t0.npz")
    np.testing.assert_allclose(from_targets.embeddings, info["text"], atol=1e-6)
    with pytest.raises(FolkInputError, match="no text embedding for 1 name"):
        te.select(["chair", "sofa"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The toy problem distilled through ``folk distill``."""
    root = tmp_path_factory.mktemp("cli")
    info = make_toy(root, ["a", "b", "c", "v"])
    (root / "classes_v.json").write_text(json.dumps(info["classes"]["v"].tolist()))
    rc = main(["distill", "--targets", str(root / "targets"), "--features",
               str(root / "features"), "--proposals", str(root / "proposals"),
               "--scenes-val", "v", "--out", str(root / "ckpt"), "--epochs", "10",
               "--batch-proposals", "8", "--hidden", "32", "--lr", "5e-3", "--quiet",
               "--device", "cpu"])
    assert rc == 0
    return root


def test_predict_command_writes_submission_and_summary(trained, tmp_path, capsys):
    out = tmp_path / "pred"
    rc = main(["predict", "--features", str(trained / "features"), "--proposals",
               str(trained / "proposals"), "--checkpoint", str(trained / "ckpt"),
               "--vocabulary", ",".join(CLASSES), "--out", str(out), "--scenes", "v",
               "--quiet"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenes"]["v"]["instances"] == 10
    assert summary["vocabulary"]["label_ids"] == list(resolve_vocabulary(",".join(CLASSES))
                                                      .label_ids)
    assert summary["config"]["tau_l"] == 0.01
    pred = read_submission(out / "v.txt", num_vertices=207)
    # The distilled student agrees with the teacher on the validation scene.
    targets = load_targets(trained / "targets" / "v.npz")
    ids = np.array(summary["vocabulary"]["label_ids"])
    for mask, label in zip(pred.masks.T, pred.label_ids, strict=True):
        q = int(np.flatnonzero(mask)[0]) // 20
        if targets.labels[q] >= 0:
            assert label == ids[targets.labels[q]]


def test_query_command_ranks_an_instance_of_the_class_first(trained, capsys):
    classes = json.loads((trained / "classes_v.json").read_text())  # true class per proposal
    query = CLASSES[classes[1]]
    rc = main(["query", query, "--scene", "v", "--features", str(trained / "features"),
               "--proposals", str(trained / "proposals"), "--checkpoint",
               str(trained / "ckpt" / "best.pt"), "--json", "--top", "3"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert CLASSES[classes[out["instances"][0]["proposal"]]] == query
    assert [r["rank"] for r in out["instances"]] == [1, 2, 3]


def _predict_with_fake_clip(trained, out, vocabulary_names: str,
                            monkeypatch) -> tuple[int, dict]:
    """``folk predict`` of the toy student with a stand-in CLIP text encoder: the exit code and
    what the encoder was asked."""
    from folk.predict import vocabulary

    calls = {}

    def fake_clip(names, model, **kw):
        calls.update(names=list(names), model=model, **kw)
        return TextEmbeddings(tuple(names), np.eye(len(names), 16, dtype=np.float32), "fake")

    monkeypatch.setattr(vocabulary, "clip_text_embeddings", fake_clip)
    rc = main(["predict", "--features", str(trained / "features"), "--proposals",
               str(trained / "proposals"), "--checkpoint", str(trained / "ckpt"),
               "--vocabulary", vocabulary_names, "--out", str(out), "--scenes", "v",
               "--clip-model", "ViT-B-16", "--quiet"])
    return rc, calls


def test_predict_asks_clip_for_names_missing_from_the_cached_embeddings(trained, tmp_path,
                                                                        monkeypatch):
    rc, calls = _predict_with_fake_clip(trained, tmp_path, "chair,sofa", monkeypatch)
    assert rc == 0 and calls["names"] == ["chair", "sofa"] and calls["model"] == "ViT-B-16"


def test_predict_says_custom_vocabulary_label_ids_are_list_positions(trained, tmp_path,
                                                                     monkeypatch, capsys):
    rc, _ = _predict_with_fake_clip(trained, tmp_path, "chair,mug holder", monkeypatch)
    assert rc == 0
    note = [line for line in capsys.readouterr().err.splitlines() if "label ids" in line]
    assert len(note) == 1 and "positions 1..2" in note[0] and "chair=1" in note[0]
    assert "not ScanNet200" in note[0]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["vocabulary"]["label_ids_are"] == note[0].split("note: ", 1)[1]


def test_benchmark_vocabularies_say_their_label_ids_are_benchmark_ids():
    assert resolve_vocabulary("chair,table").label_ids_note() == \
        "label ids are scannet200 class ids"
    assert resolve_vocabulary("synthetic").id_space == "scannet200"
    assert resolve_vocabulary("replica").label_ids_note() == "label ids are replica class ids"


def test_predict_command_reports_wrong_checkpoint_dimension(trained, tmp_path, capsys):
    save_adapter(tmp_path / "wide.pt", VLAdapter(96, 8, 16))
    rc = main(["predict", "--features", str(trained / "features"), "--proposals",
               str(trained / "proposals"), "--checkpoint", str(tmp_path / "wide.pt"),
               "--text-embeddings", str(trained / "ckpt" / "text_embeddings.npz"),
               "--vocabulary", "chair", "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 2
    assert "features have 8 dims but the checkpoint's adapter takes 96" in capsys.readouterr().err


def test_student_text_embeddings_prefer_file_then_checkpoint_cache_then_the_recorded_clip(
        tmp_path, monkeypatch):
    from folk.predict import vocabulary
    from folk.predict.vocabulary import ClipChoice, student_text_embeddings

    rng = np.random.default_rng(3)
    ckpt = tmp_path / "run"
    ckpt.mkdir()
    save_text_embeddings(ckpt / "text_embeddings.npz",
                         TextEmbeddings(("a", "b"), rng.normal(size=(2, 5)), "clip-x"))
    other = tmp_path / "other.npz"
    save_text_embeddings(other, TextEmbeddings(("c",), rng.normal(size=(1, 5)), "clip-x"))
    calls = []

    def fake_clip(names, model, **kw):
        calls.append({"model": model, **kw})
        return TextEmbeddings(tuple(names), np.ones((len(names), 5), np.float32), model)

    monkeypatch.setattr(vocabulary, "clip_text_embeddings", fake_clip)
    meta = {"clip": {"model": "ViT-X", "pretrained": "tag", "identity": "ViT-X/tag/sha"}}
    emb, source = student_text_embeddings(["c"], ckpt / "best.pt", meta, embeddings_file=other)
    assert source == str(other) and emb.shape == (1, 5)
    emb, source = student_text_embeddings(["b", "a"], ckpt / "best.pt", meta)
    assert source.endswith("text_embeddings.npz") and not calls
    np.testing.assert_array_equal(
        emb, load_text_embeddings(ckpt / "text_embeddings.npz").embeddings[[1, 0]])
    student_text_embeddings(["a", "z"], ckpt, meta)  # "z" is not cached: the recorded CLIP
    assert calls[-1]["model"] == "ViT-X" and calls[-1]["pretrained"] == "tag"
    assert calls[-1]["expected_identity"] == "ViT-X/tag/sha"
    student_text_embeddings(["a"], ckpt, meta, clip=ClipChoice(model="ViT-Y"))  # asked: no cache
    assert calls[-1]["model"] == "ViT-Y" and calls[-1]["expected_identity"] is None
    assert calls[-1]["pretrained"] is None
    with pytest.raises(FolkInputError, match="no text embeddings for this vocabulary"):
        student_text_embeddings(["z"], ckpt, {})
