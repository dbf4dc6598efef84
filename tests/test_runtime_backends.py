"""folk_runtime stays torch-free, and its TensorRT backend fails with one clear message where
TensorRT or a GPU is missing (the tests that need them skip, saying why)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from folk_runtime import (
    BackendUnavailable,
    DeploymentError,
    Runtime,
    RuntimeInputError,
    write_manifest,
)
from folk_runtime.manifest import Deployment, DeploymentFiles
from folk_runtime.session import TENSORRT_MISSING

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_runtime_graphs import build_deployment, random_membership, random_weights

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def test_folk_runtime_imports_neither_torch_nor_folk():
    code = ("import sys, folk_runtime, folk_runtime.runtime, folk_runtime.cli, "
            "folk_runtime.session, folk_runtime.nms, folk_runtime.manifest\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'folk'))\n"
            "print(bad)\n"
            "assert 'torch' not in sys.modules and 'folk' not in sys.modules, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_labelling_a_scene_imports_neither_torch_nor_folk(tmp_path):
    folder = build_deployment(tmp_path / "d", random_weights(4, 6, 3, 2))
    code = ("import sys, numpy as np\n"
            "from folk_runtime import Runtime\n"
            f"r = Runtime({str(folder)!r})\n"
            "labels = r.label(np.ones((5, 4), np.float32), [0, 2, 5], [0, 1, 0, 3, 4])\n"
            "assert len(labels) == 2\n"
            "assert 'torch' not in sys.modules and 'folk' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _with_plan(tmp_path) -> tuple[Deployment, object]:
    weights = random_weights(4, 6, 3, 2)
    folder = build_deployment(tmp_path / "d", weights)
    deployment = replace(Deployment.load(folder),
                         files=DeploymentFiles("model.onnx", "model.plan"))
    (folder / "model.plan").write_bytes(b"not an engine")
    write_manifest(folder, deployment)
    return Deployment.load(folder), weights


def test_tensorrt_backend_without_a_plan_says_to_export_with_trt(tmp_path):
    folder = build_deployment(tmp_path / "d", random_weights(4, 6, 3, 2))
    with pytest.raises(DeploymentError, match="files.tensorrt is null.*folk-export --trt"):
        Runtime(folder, backend="tensorrt")
    with pytest.raises(RuntimeInputError, match="providers are onnxruntime's"):
        Runtime(folder, backend="tensorrt", providers=["CPUExecutionProvider"])


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here: the missing-TensorRT "
                                         "message cannot be provoked")
def test_tensorrt_backend_without_tensorrt_raises_one_clear_message(tmp_path):
    deployment, _ = _with_plan(tmp_path)
    with pytest.raises(BackendUnavailable) as info:
        Runtime(deployment.folder, backend="tensorrt")
    message = str(info.value)
    assert message.startswith("TensorRT needs an NVIDIA GPU and the `tensorrt` package "
                              "(pip install tensorrt-cu13")
    assert "not installed here" in message and "\n" not in message
    assert TENSORRT_MISSING.split("{")[0] in message


def _gpu_reason() -> str | None:
    if not HAS_TENSORRT:
        return "needs the `tensorrt` package (pip install tensorrt-cu13) and an NVIDIA GPU"
    try:
        from folk_runtime.session import _CudaRuntime

        _CudaRuntime()
    except BackendUnavailable as exc:
        return str(exc)
    return None


@pytest.mark.skipif(_gpu_reason() is not None, reason=str(_gpu_reason()))
def test_tensorrt_engine_of_the_reference_graph_agrees_with_onnxruntime(tmp_path):
    """Builds model.plan from the reference ONNX with TensorRT's builder (one profile over N, M,
    Q) and compares the engine's outputs with onnxruntime's."""
    import tensorrt as trt

    deployment, _ = _with_plan(tmp_path)
    folder = deployment.folder
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse((folder / "model.onnx").read_bytes()), \
        [parser.get_error(i).desc() for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    for name, (low, opt, high) in {"features": ((1, 4), (500, 4), (5000, 4)),
                                   "point_index": ((1,), (1000,), (20000,)),
                                   "proposal_index": ((1,), (1000,), (20000,)),
                                   "proposal_size": ((1,), (30,), (1000,))}.items():
        profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(profile)
    (folder / "model.plan").write_bytes(bytes(builder.build_serialized_network(network, config)))
    rng = np.random.default_rng(0)
    features = rng.normal(size=(301, 4)).astype(np.float32)
    offsets, indices = random_membership(rng, 301, 23)
    a = Runtime(folder).label(features, offsets, indices, nms=False)
    b = Runtime(folder, backend="tensorrt").label(features, offsets, indices, nms=False)
    np.testing.assert_array_equal(b.kept, a.kept)
    np.testing.assert_array_equal(b.labels, a.labels)
    np.testing.assert_allclose(b.embeddings, a.embeddings, atol=1e-5)
    assert json.loads(json.dumps(b.timings))
