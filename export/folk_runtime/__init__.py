"""folk's torch-free deployment runtime: label a scene's proposals with a deployment folder
written by ``folk-export`` (``manifest.json`` + ``model.onnx`` [+ ``model.plan``]), with NumPy
and ONNX Runtime (CPU, or CUDA / TensorRT execution providers where present) or a TensorRT
engine.

    from folk_runtime import Runtime
    labels = Runtime("deploy/").label(features, offsets, indices, scores)

Its own small distribution (``pip install ./export``: numpy + onnxruntime, tens of MB) and also
shipped in folk's wheel. Nothing here imports torch or folk.
"""

from __future__ import annotations

__version__ = "0.1.0"

from folk_runtime.errors import (
    BackendUnavailable,
    DeploymentError,
    FolkRuntimeError,
    RuntimeInputError,
)
from folk_runtime.manifest import ClipSource, Deployment, DeploymentFiles, write_manifest
from folk_runtime.nms import nms_csr
from folk_runtime.runtime import GraphOutputs, Labels, Runtime

__all__ = [
    "BackendUnavailable",
    "ClipSource",
    "Deployment",
    "DeploymentError",
    "DeploymentFiles",
    "FolkRuntimeError",
    "GraphOutputs",
    "Labels",
    "Runtime",
    "RuntimeInputError",
    "__version__",
    "nms_csr",
    "write_manifest",
]
