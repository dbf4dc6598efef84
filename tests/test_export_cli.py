"""``folk-export`` / ``folk export``: the deployment folder it writes (manifest, model, the same
keys in metadata_props, loadable by folk_runtime), what it refuses before doing any work, the
bad inputs it names, and TensorRT's absence (one message, exit 2, nothing written)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from folk.cli import main as folk_main
from folk.data.vocabulary import TextEmbeddings, resolve_vocabulary, save_text_embeddings
from folk.export.cli import main
from folk.export.tensorrt import tensorrt_problem
from folk.student import VLAdapter, save_adapter
from folk_runtime import Deployment

C, D = 6, 10
SHA = "ab" * 32
IDENTITY = f"ViT-T|folk-small|sha256:{SHA}"
NAMES = ["chair", "table", "lamp", "plant", "sofa"]  # ScanNet200 classes


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A student checkpoint folder with the text_embeddings.npz folk distill writes."""
    root = tmp_path_factory.mktemp("ckpt")
    save_adapter(root / "best.pt", VLAdapter(C, 12, D),
                 {"tau_l": 0.03, "features": "geometric",
                  "clip": {"model": "ViT-T", "pretrained": "folk-small", "identity": IDENTITY}})
    rng = np.random.default_rng(0)
    save_text_embeddings(root / "text_embeddings.npz", TextEmbeddings(
        tuple(NAMES), rng.normal(size=(len(NAMES), D)).astype(np.float32), IDENTITY))
    return root


def _export(checkpoint, out, *extra: str) -> int:
    return main(["--checkpoint", str(checkpoint), "--vocabulary", "chair,lamp,sofa",
                 "--out", str(out), *extra])


def test_export_writes_a_deployment_folder_runtime_can_load(checkpoint, tmp_path, capsys):
    out = tmp_path / "deploy"
    assert _export(checkpoint, out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.onnx"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["vocabulary"] == ["chair", "lamp", "sofa"]
    assert manifest["label_ids"] == list(resolve_vocabulary("chair,lamp,sofa").label_ids)
    assert manifest["clip"] == {"model": "ViT-T", "pretrained": "folk-small",
                                "weights_sha256": SHA}
    assert (manifest["tau_l"], manifest["feature_dim"], manifest["embedding_dim"]) == (0.03, C, D)
    assert manifest["feature_source"] == "geometric" and manifest["precision"] == "fp32"
    assert manifest["files"] == {"onnx": "model.onnx", "tensorrt": None}
    onnx.checker.check_model(str(out / "model.onnx"), full_check=True)
    props = {p.key: json.loads(p.value)
             for p in onnx.load(str(out / "model.onnx")).metadata_props}
    assert props == manifest
    assert Deployment.load(out).vocabulary == ("chair", "lamp", "sofa")
    assert "checked against the PyTorch student" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name != "deploy"]  # no temporary left


def test_fp16_export_and_folk_export_alias(checkpoint, tmp_path):
    out = tmp_path / "half"
    assert folk_main(["export", "--checkpoint", str(checkpoint), "--vocabulary", "lamp,chair",
                      "--out", str(out), "--fp16", "--nms-iou", "0.8"]) == 0
    manifest = Deployment.load(out)
    assert manifest.precision == "fp16" and manifest.nms_iou == 0.8
    model = onnx.load(str(out / "model.onnx"))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16


def test_a_second_export_replaces_a_previous_deployment(checkpoint, tmp_path):
    out = tmp_path / "deploy"
    assert _export(checkpoint, out) == 0
    assert main(["--checkpoint", str(checkpoint), "--vocabulary", "plant", "--out",
                 str(out)]) == 0
    assert Deployment.load(out).vocabulary == ("plant",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy"]


def test_output_that_is_a_file_or_holds_other_files_is_refused(checkpoint, tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("keep me")
    assert _export(checkpoint, a_file) == 2
    assert "is an existing file" in capsys.readouterr().err
    assert a_file.read_text() == "keep me"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert _export(checkpoint, busy) == 2
    assert "not a deployment's (notes.txt)" in capsys.readouterr().err
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("vocabulary, message", [
    ("chair,chair", "names ['chair'] more than once"),
    (",", "has an empty name"),
])
def test_bad_vocabularies_are_named(checkpoint, tmp_path, capsys, vocabulary, message):
    rc = main(["--checkpoint", str(checkpoint), "--vocabulary", vocabulary, "--out",
               str(tmp_path / "o")])
    assert rc == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_empty_vocabulary_file_is_named(checkpoint, tmp_path, capsys):
    empty = tmp_path / "classes.txt"
    empty.write_text("# nothing\n")
    rc = main(["--checkpoint", str(checkpoint), "--vocabulary", str(empty), "--out",
               str(tmp_path / "o")])
    assert rc == 2 and "the vocabulary is empty" in capsys.readouterr().err


def test_text_embeddings_of_another_width_are_named(checkpoint, tmp_path, capsys):
    other = tmp_path / "wide.npz"
    save_text_embeddings(other, TextEmbeddings(("chair",), np.ones((1, D + 3), np.float32),
                                               IDENTITY))
    rc = main(["--checkpoint", str(checkpoint), "--vocabulary", "chair", "--out",
               str(tmp_path / "o"), "--text-embeddings", str(other)])
    err = capsys.readouterr().err
    assert rc == 2 and f"outputs {D}-dim embeddings but the text embeddings have {D + 3}" in err
    assert not (tmp_path / "o").exists()


def test_text_embeddings_of_another_clip_are_named(checkpoint, tmp_path, capsys):
    other = tmp_path / "other.npz"
    save_text_embeddings(other, TextEmbeddings(("chair",), np.ones((1, D), np.float32),
                                               f"ViT-T|folk-small|sha256:{'cd' * 32}"))
    rc = main(["--checkpoint", str(checkpoint), "--vocabulary", "chair", "--out",
               str(tmp_path / "o"), "--text-embeddings", str(other)])
    err = capsys.readouterr().err
    assert rc == 2 and "distilled against CLIP" in err and "come from CLIP" in err
    assert not (tmp_path / "o").exists()


def test_unrecorded_clip_is_a_note_and_the_checkpoints_is_used(checkpoint, tmp_path, capsys):
    plain = tmp_path / "plain.npz"
    save_text_embeddings(plain, TextEmbeddings(("chair",), np.ones((1, D), np.float32), ""))
    rc = main(["--checkpoint", str(checkpoint), "--vocabulary", "chair", "--out",
               str(tmp_path / "o"), "--text-embeddings", str(plain)])
    assert rc == 0
    assert "do not record their CLIP" in capsys.readouterr().err
    assert Deployment.load(tmp_path / "o").clip.weights_sha256 == SHA


def test_checkpoint_of_another_feature_width_fails_at_prediction_time_named(checkpoint,
                                                                          tmp_path):
    """The manifest records the feature width; the runtime names a mismatch."""
    from folk_runtime import Runtime, RuntimeInputError

    assert _export(checkpoint, tmp_path / "d") == 0
    with pytest.raises(RuntimeInputError, match=f"this deployment takes C = {C}"):
        Runtime(tmp_path / "d").label(np.zeros((4, C + 1), np.float32), [0, 2], [0, 1])


@pytest.mark.skipif(tensorrt_problem() is None, reason="TensorRT is available here: the "
                    "engine is built and compared in test_export_parity")
def test_trt_without_tensorrt_is_one_clear_error_and_writes_nothing(checkpoint, tmp_path,
                                                                   capsys):
    rc = _export(checkpoint, tmp_path / "d", "--trt")
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "TensorRT needs an NVIDIA GPU" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
