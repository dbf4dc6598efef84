"""Prediction through a deployment folder: :func:`folk.predict.predict_scene`'s result, computed
by the torch-free runtime (``folk_runtime.Runtime``) instead of PyTorch, so that
``folk predict --runtime onnx|trt`` writes the same submission files as ``--runtime torch``.

The runtime does the same steps on the CSR membership (mask NMS at the same IoU, segment mean,
adapter, softmax over the vocabulary, confidence = class probability × proposal score, sorted
by descending confidence, stable); this module only turns the scene's dense proposal masks
into CSR for it and its :class:`folk_runtime.Labels` back into a
:class:`~folk.predict.predictor.ScenePrediction`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from folk.data.membership import ProposalMembership
from folk.data.scene import PointFeatures, Proposals
from folk.errors import FolkExtensionError, FolkInputError
from folk.predict.predictor import PredictConfig, ScenePrediction

if TYPE_CHECKING:
    from folk_runtime import Runtime

#: ``folk predict --runtime`` → ``folk_runtime.Runtime`` backend.
BACKENDS = {"onnx": "onnxruntime", "trt": "tensorrt"}


def open_runtime(folder: str | Path, runtime: str, threads: int | None = None) -> Runtime:
    """``folk_runtime.Runtime`` of ``folder`` for ``runtime`` ("onnx" | "trt"); its errors
    become folk's (a missing TensorRT or GPU: :class:`FolkExtensionError`)."""
    from folk_runtime import BackendUnavailable, FolkRuntimeError, Runtime

    if runtime not in BACKENDS:
        raise FolkInputError(f"runtime must be one of {sorted(BACKENDS)}, got {runtime!r}")
    try:
        return Runtime(folder, backend=BACKENDS[runtime], threads=threads)
    except BackendUnavailable as exc:
        raise FolkExtensionError(str(exc)) from None
    except FolkRuntimeError as exc:
        raise FolkInputError(str(exc)) from None


def predict_scene_runtime(runtime: Runtime, features: PointFeatures | np.ndarray,
                          proposals: Proposals, config: PredictConfig | None = None, *,
                          scene: str = "") -> ScenePrediction:
    """Classify the proposals of one scene with a deployment (``config.tau_l`` must be None
    or the deployment's: τ_l is baked into its graph). Label ids come from the manifest."""
    from folk_runtime import FolkRuntimeError

    config = config or PredictConfig()
    deployment = runtime.deployment
    if config.tau_l is not None and not np.isclose(config.tau_l, deployment.tau_l, rtol=1e-6):
        raise FolkInputError(f"tau_l {config.tau_l} differs from the deployment's "
                             f"{deployment.tau_l} (it is part of the exported graph; re-export "
                             "to change it)")
    if deployment.label_ids is None:
        raise FolkInputError("the deployment has no label ids; the submission format needs them",
                             deployment.folder)
    x = features.features if isinstance(features, PointFeatures) else np.asarray(features)
    if x.ndim != 2 or x.shape[0] != proposals.num_points:
        raise FolkInputError(f"scene {scene!r}: point features {x.shape} but the proposals "
                             f"cover {proposals.num_points} points")
    t0 = time.perf_counter()
    membership = ProposalMembership.from_masks(proposals.masks)
    t1 = time.perf_counter()
    try:
        labels = runtime.label(x, membership.offsets, membership.indices, proposals.scores,
                               iou_threshold=config.nms_iou,
                               confidence_one=config.confidence_one)
    except FolkRuntimeError as exc:
        raise FolkInputError(f"scene {scene!r}: {exc}") from None
    if len(labels.empty):
        raise FolkInputError(f"scene {scene!r}: proposal {int(labels.empty[0])} has no points")
    ids = np.asarray(deployment.label_ids, dtype=np.int64)
    return ScenePrediction(
        scene=scene, masks=proposals.masks[:, labels.kept], proposal_index=labels.kept,
        class_index=labels.labels, label_ids=ids[labels.labels], class_probs=labels.class_probs,
        confidences=labels.confidence, embeddings=labels.embeddings,
        timings={"csr": t1 - t0, **labels.timings})


__all__ = ["BACKENDS", "open_runtime", "predict_scene_runtime"]
