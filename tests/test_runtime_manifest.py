"""The deployment manifest: round trips, and a clear DeploymentError for every bad manifest or
model (naming the file and the key)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pytest

from folk_runtime import (
    ClipSource,
    Deployment,
    DeploymentError,
    DeploymentFiles,
    Runtime,
    write_manifest,
)
from folk_runtime.manifest import KEYS, MANIFEST_NAME

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_runtime_graphs import build_deployment, build_model, make_deployment, random_weights


def _deployment(**changes) -> Deployment:
    base = Deployment(folk_version="0.1.0", vocabulary=("chair", "table", "lamp"),
                      label_ids=(2, 7, 40), clip=ClipSource("ViT-L-14", "openai", "0f" * 32),
                      tau_l=0.01, feature_dim=96, feature_source="mask3d", embedding_dim=768,
                      precision="fp32", nms_iou=0.9, opset=17,
                      files=DeploymentFiles("model.onnx", None))
    return replace(base, **changes)


def _folder(tmp_path, deployment: Deployment | None = None, plan: bool = False):
    deployment = deployment or _deployment()
    folder = tmp_path / "deploy"
    folder.mkdir(exist_ok=True)
    (folder / "model.onnx").write_bytes(b"not read by Deployment.load")
    if plan:
        (folder / "model.plan").write_bytes(b"engine")
    write_manifest(folder, deployment)
    return folder


def test_manifest_round_trips_through_write_and_load(tmp_path):
    for deployment in (_deployment(), _deployment(label_ids=None, precision="fp16",
                                                  clip=ClipSource("RN50", None, None),
                                                  nms_iou=1.0, opset=20)):
        folder = _folder(tmp_path, deployment)
        loaded = Deployment.load(folder)
        assert loaded == deployment
        assert loaded.folder == folder and loaded.onnx_path == folder / "model.onnx"
        assert loaded.tensorrt_path is None
        assert list(json.loads((folder / MANIFEST_NAME).read_text())) == list(KEYS)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_written_manifest_is_readable_like_any_new_file(tmp_path):
    folder = _folder(tmp_path)
    (tmp_path / "plain").write_text("x")
    mode = (folder / MANIFEST_NAME).stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777  # not mkstemp's 0600


def test_manifest_round_trips_through_onnx_metadata_props():
    deployment = _deployment()
    props = deployment.to_metadata()
    assert set(props) == set(KEYS) and all(isinstance(v, str) for v in props.values())
    assert json.loads(props["vocabulary"]) == ["chair", "table", "lamp"]
    assert Deployment.from_metadata(props) == deployment
    with pytest.raises(DeploymentError, match="'tau_l' is not JSON"):
        Deployment.from_metadata({**props, "tau_l": "{"}, source="model.onnx")


def test_tensorrt_file_is_found_when_named(tmp_path):
    folder = _folder(tmp_path, _deployment(files=DeploymentFiles("model.onnx", "model.plan")),
                     plan=True)
    assert Deployment.load(folder).tensorrt_path == folder / "model.plan"


def _mutate(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()

BAD_MANIFESTS = [
    ("format", "other-format", "'format' must be 'folk-deployment'"),
    ("version", 2, "'version' is 2; this folk_runtime reads version 1"),
    ("folk_version", "", "'folk_version' must be a non-empty string"),
    ("vocabulary", [], "'vocabulary' must be a non-empty list"),
    ("vocabulary", ["chair", 3, "lamp"], "'vocabulary' must be a non-empty list"),
    ("vocabulary", ["chair", "chair", "lamp"], "duplicate class names"),
    ("label_ids", [1, 2], "has 2 ids for 3 classes"),
    ("label_ids", [1, 1, 2], "'label_ids' has duplicate ids"),
    ("label_ids", [1, "2", 3], "'label_ids' must be a list of integers or null"),
    ("label_ids", [True, 2, 3], "'label_ids' must be a list of integers or null"),
    ("clip", "ViT-L-14", "'clip' must be an object"),
    ("clip.model", None, "'clip.model' must be a non-empty string"),
    ("clip.weights_sha256", "sha256:abc", "'clip.weights_sha256' must be 64 lowercase hex"),
    ("clip.extra", 1, "'clip' must have exactly the keys"),
    ("tau_l", 0, "'tau_l' must be a finite number > 0"),
    ("tau_l", "0.01", "'tau_l' must be a finite number > 0"),
    ("feature_dim", 0, "'feature_dim' must be an integer >= 1"),
    ("feature_dim", 96.0, "'feature_dim' must be an integer >= 1"),
    ("feature_source", None, "'feature_source' must be a non-empty string"),
    ("embedding_dim", -1, "'embedding_dim' must be an integer >= 1"),
    ("precision", "int8", "'precision' must be one of"),
    ("nms_iou", -0.1, "'nms_iou' must be a finite number >= 0"),
    ("opset", 13, "'opset' must be an integer >= 17"),
    ("files", {"onnx": "model.onnx"}, "'files' must have exactly the keys"),
    ("files.onnx", "../model.onnx", "'files.onnx' must be a file name inside the folder"),
    ("files.onnx", None, "'files.onnx' must be a non-empty string"),
    ("tau_l", _DELETE, r"missing key\(s\) \['tau_l'\]"),
    ("created", "today", r"unknown key\(s\) \['created'\]"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_MANIFESTS,
                         ids=[f"{k}={v!r}"[:40] for k, v, _ in BAD_MANIFESTS])
def test_every_bad_manifest_is_a_deployment_error_naming_file_and_key(tmp_path, key, value,
                                                                     message):
    folder = _folder(tmp_path)
    path = folder / MANIFEST_NAME
    data = _mutate(json.loads(path.read_text()), key, value)
    path.write_text(json.dumps(data))
    with pytest.raises(DeploymentError, match=message) as info:
        Deployment.load(folder)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "", "\"folk\""])
def test_unreadable_manifest_is_a_deployment_error(tmp_path, text):
    folder = _folder(tmp_path)
    (folder / MANIFEST_NAME).write_text(text)
    with pytest.raises(DeploymentError, match="manifest.json: (not readable JSON|the manifest "
                                              "must be a JSON object)"):
        Deployment.load(folder)


def test_missing_folder_manifest_or_model_is_a_deployment_error(tmp_path):
    with pytest.raises(DeploymentError, match="no such directory"):
        Deployment.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DeploymentError, match="no manifest.json"):
        Deployment.load(tmp_path / "empty")
    folder = _folder(tmp_path)
    (folder / "model.onnx").unlink()
    with pytest.raises(DeploymentError, match="files.onnx names 'model.onnx', which is not"):
        Deployment.load(folder)
    write_manifest(folder, _deployment(files=DeploymentFiles("model.onnx", "model.plan")))
    (folder / "model.onnx").write_bytes(b"x")
    with pytest.raises(DeploymentError, match="files.tensorrt names 'model.plan'"):
        Deployment.load(folder)


def test_write_manifest_refuses_an_invalid_deployment_and_keeps_the_old_file(tmp_path):
    folder = _folder(tmp_path)
    before = (folder / MANIFEST_NAME).read_text()
    with pytest.raises(DeploymentError, match="'vocabulary' has duplicate class names"):
        write_manifest(folder, _deployment(vocabulary=("a", "a", "b")))
    with pytest.raises(DeploymentError, match="'label_ids' has 2 ids for 3 classes"):
        write_manifest(folder, _deployment(label_ids=(1, 2)))
    assert (folder / MANIFEST_NAME).read_text() == before
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "model.onnx"]


# ---- the model against its manifest ---------------------------------------------------------

def test_runtime_rejects_a_model_onnxruntime_cannot_load(tmp_path):
    folder = _folder(tmp_path)
    with pytest.raises(DeploymentError, match="model.onnx: onnxruntime cannot load this model"):
        Runtime(folder)


def _with_model(tmp_path, weights, deployment, **kwargs):
    folder = tmp_path / "deploy"
    folder.mkdir(exist_ok=True)
    onnx.save(build_model(weights, deployment, **kwargs), str(folder / "model.onnx"))
    return folder


def test_runtime_rejects_a_manifest_from_another_export(tmp_path):
    weights = random_weights(6, 5, 4, 3)
    folder = build_deployment(tmp_path / "deploy", weights)
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    manifest["vocabulary"] = ["x", "y", "z"]
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(DeploymentError, match="metadata_props key 'vocabulary'.*two exports"):
        Runtime(folder)


def test_runtime_rejects_a_model_whose_widths_differ_from_the_manifest(tmp_path):
    weights = random_weights(6, 5, 4, 3)
    good = make_deployment(weights)
    for wrong, tensor in ((replace(good, feature_dim=7), "features"),
                          (replace(good, embedding_dim=5), "embeddings")):
        folder = _with_model(tmp_path, weights, wrong)
        write_manifest(folder, wrong)
        with pytest.raises(DeploymentError, match=f"graph tensor '{tensor}' has shape"):
            Runtime(folder)


def test_runtime_rejects_a_model_with_other_tensor_names_or_types(tmp_path):
    weights = random_weights(6, 5, 4, 3)
    deployment = make_deployment(weights)
    folder = _with_model(tmp_path, weights, deployment, rename={"point_index": "points"})
    write_manifest(folder, deployment)
    with pytest.raises(DeploymentError, match="a folk deployment has inputs"):
        Runtime(folder)
    fp16 = replace(deployment, precision="fp16")
    folder = _with_model(tmp_path, weights, deployment)  # an fp32 graph ...
    write_manifest(folder, fp16)  # ... under an fp16 manifest
    with pytest.raises(DeploymentError, match="'features' is tensor\\(float\\), expected "
                                              "tensor\\(float16\\)"):
        Runtime(folder)


def test_runtime_rejects_a_model_without_metadata(tmp_path):
    weights = random_weights(6, 5, 4, 3)
    deployment = make_deployment(weights)
    folder = tmp_path / "deploy"
    folder.mkdir()
    model = build_model(weights, deployment)
    del model.metadata_props[:]
    onnx.save(model, str(folder / "model.onnx"))
    write_manifest(folder, deployment)
    with pytest.raises(DeploymentError, match="metadata_props lack key 'format'"):
        Runtime(folder)


def test_deployment_is_usable_after_load(tmp_path):
    weights = random_weights(6, 5, 4, 3)
    folder = build_deployment(tmp_path / "deploy", weights, label_ids=False)
    runtime = Runtime(folder)
    assert runtime.deployment.label_ids is None and runtime.deployment.num_classes == 3
    assert "CPUExecutionProvider" in runtime.providers
    x = np.zeros((2, 6), np.float32)
    assert runtime.label(x, [0, 1, 2], [0, 1]).label_ids is None
