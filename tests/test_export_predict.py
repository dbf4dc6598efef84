"""``folk predict --runtime onnx|trt``: the deployment runtime writes the same submission files as
PyTorch (same instances and masks, same label ids, confidences within 1e-5), from a temporary
export of the checkpoint or from ``--deployment``; mismatches are named."""

from __future__ import annotations

import json

import numpy as np
import pytest
from distill_toy import C_DIM, CLASSES, D_DIM, make_toy

from folk.cli import main
from folk.data.vocabulary import TextEmbeddings, save_text_embeddings
from folk.export.tensorrt import tensorrt_problem
from folk.predict.submission import read_submission
from folk.student import VLAdapter, save_adapter

SCENES = ["a", "b"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Toy scenes with overlapping proposals (NMS removes some) and a student checkpoint."""
    root = tmp_path_factory.mktemp("toy")
    info = make_toy(root, SCENES, num_proposals=12, points_each=17, seed=4)
    rng = np.random.default_rng(4)
    for scene in SCENES:  # add near-copies of proposals so that NMS has work to do
        masks = np.load(root / "proposals" / f"{scene}_masks.npy")
        copies = masks[:, :4].copy()
        copies[rng.integers(masks.shape[0], size=4), np.arange(4)] = True
        np.save(root / "proposals" / f"{scene}_masks.npy", np.concatenate([masks, copies], 1))
        np.save(root / "proposals" / f"{scene}_scores.npy", rng.uniform(0.2, 1.0, 16))
    ckpt = root / "ckpt"
    ckpt.mkdir()
    save_adapter(ckpt / "best.pt", VLAdapter(C_DIM, 24, D_DIM),
                 {"tau_l": 0.05, "features": "features"})
    save_text_embeddings(ckpt / "text_embeddings.npz",
                         TextEmbeddings(tuple(CLASSES), info["text"], "toy"))
    return root


def _predict(toy, out, *extra: str) -> int:
    return main(["predict", "--features", str(toy / "features"), "--proposals",
                 str(toy / "proposals"), "--checkpoint", str(toy / "ckpt"), "--vocabulary",
                 ",".join(CLASSES), "--out", str(out), "--quiet", *extra])


def _instances(toy, out, scene: str) -> dict:
    """``{mask bytes: (label id, confidence)}`` of a written scene."""
    points = int(np.load(toy / "features" / f"{scene}.npy").shape[0])
    pred = read_submission(out / f"{scene}.txt", num_vertices=points)
    return {pred.masks[:, k].tobytes(): (int(pred.label_ids[k]), float(pred.confidences[k]))
            for k in range(pred.label_ids.shape[0])}


def _same_submission(toy, a, b) -> None:
    for scene in SCENES:
        x, y = _instances(toy, a, scene), _instances(toy, b, scene)
        assert x.keys() == y.keys() and len(x) >= 1
        for mask, (label, confidence) in x.items():
            assert y[mask][0] == label
            assert abs(y[mask][1] - confidence) <= 1e-5


def test_onnx_runtime_writes_the_same_submission_as_torch(toy, tmp_path):
    assert _predict(toy, tmp_path / "torch") == 0
    assert _predict(toy, tmp_path / "onnx", "--runtime", "onnx") == 0
    _same_submission(toy, tmp_path / "torch", tmp_path / "onnx")
    summary = json.loads((tmp_path / "onnx" / "summary.json").read_text())
    assert summary["runtime"] == "onnx" and summary["config"]["tau_l"] == 0.05
    assert sorted(summary["scenes"]) == SCENES


def test_a_deployment_folder_runs_without_exporting_again(toy, tmp_path):
    deployment = tmp_path / "deploy"
    assert main(["export", "--checkpoint", str(toy / "ckpt"), "--vocabulary",
                 ",".join(CLASSES), "--out", str(deployment)]) == 0
    assert _predict(toy, tmp_path / "torch") == 0
    assert _predict(toy, tmp_path / "dep", "--runtime", "onnx", "--deployment",
                    str(deployment)) == 0
    _same_submission(toy, tmp_path / "torch", tmp_path / "dep")


def test_deployment_of_another_vocabulary_or_with_torch_is_named(toy, tmp_path, capsys):
    deployment = tmp_path / "deploy"
    assert main(["export", "--checkpoint", str(toy / "ckpt"), "--vocabulary", "chair,lamp",
                 "--out", str(deployment)]) == 0
    capsys.readouterr()
    assert _predict(toy, tmp_path / "o", "--runtime", "onnx", "--deployment",
                    str(deployment)) == 2
    assert "is not --vocabulary's" in capsys.readouterr().err
    assert _predict(toy, tmp_path / "o", "--deployment", str(deployment)) == 2
    assert "--deployment runs with --runtime onnx or trt" in capsys.readouterr().err
    assert _predict(toy, tmp_path / "o", "--runtime", "onnx", "--deployment",
                    str(tmp_path / "nowhere")) == 2
    assert "not a deployment folder" in capsys.readouterr().err


@pytest.mark.skipif(tensorrt_problem() is None, reason="TensorRT is available here")
def test_trt_runtime_without_tensorrt_is_one_clear_error(toy, tmp_path, capsys):
    assert _predict(toy, tmp_path / "o", "--runtime", "trt") == 2
    err = capsys.readouterr().err
    assert "TensorRT needs an NVIDIA GPU" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(tensorrt_problem() is not None, reason=f"{tensorrt_problem()}")
def test_trt_runtime_writes_the_same_submission_as_torch(toy, tmp_path):
    assert _predict(toy, tmp_path / "torch") == 0
    assert _predict(toy, tmp_path / "trt", "--runtime", "trt") == 0
    _same_submission(toy, tmp_path / "torch", tmp_path / "trt")
