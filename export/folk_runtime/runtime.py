"""Label a scene's proposals with a deployment folder, without torch: NMS → CSR → graph → labels.

:meth:`Runtime.label` does what ``folk.predict.predict_scene`` does, on CSR membership:

1. check the inputs (features ``(N, C)`` with the manifest's C; CSR offsets / indices; scores);
2. greedy mask NMS at the manifest's IoU (:func:`folk_runtime.nms.nms_csr`, same result as
   folk's ``mask_nms``); ``nms=False`` keeps every proposal, by descending score;
3. drop kept proposals without points (their mean is undefined; :attr:`Labels.empty`);
4. the graph's inputs ``point_index`` / ``proposal_index`` / ``proposal_size`` of the kept
   proposals, in input order (the CSR entries as they are when NMS keeps every proposal);
   features cast to the manifest's precision;
5. the graph (ONNX Runtime or TensorRT): embeddings, class probabilities, labels;
6. folk's classification rule (``folk.student.classify.classify_embeddings``): class =
   argmax, ``confidence = p(class) × score`` (float64; 1 with ``confidence_one``), instances
   sorted by descending confidence (stable).

NaN / inf features are not scanned up front (that would read all ``N × C`` values): a
non-finite feature of a point inside a kept proposal makes that proposal's outputs non-finite,
which is checked (``Q × D``, cheap) and reported naming the cause. Features of points in no
kept proposal do not matter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from folk_runtime.csr import Membership, check_membership, graph_inputs
from folk_runtime.errors import RuntimeInputError
from folk_runtime.manifest import Deployment
from folk_runtime.nms import check_scores, greedy_nms
from folk_runtime.session import OrtSession, TensorRTEngine

BACKENDS = ("onnxruntime", "tensorrt")
_FEATURE_DTYPES = {"fp32": np.float32, "fp16": np.float16}
_FP16_MAX = float(np.finfo(np.float16).max)


class GraphOutputs(NamedTuple):
    """What the graph returns for Q proposals."""

    embeddings: np.ndarray  # (Q, D) float32, unit rows
    probabilities: np.ndarray  # (Q, K) float32, softmax over the vocabulary
    labels: np.ndarray  # (Q,) int64, argmax: index into the vocabulary


@dataclass
class Labels:
    """The labelled instances of one scene, ``K'`` of them, highest confidence first (the order
    of ``folk.predict.ScenePrediction``: descending confidence, stable over the NMS order).

    Arrays are per instance; ``kept`` indexes the input proposals.
    """

    kept: np.ndarray  # (K',) int64, proposal index in the input
    embeddings: np.ndarray  # (K', D) float32, student embeddings f_q
    probabilities: np.ndarray  # (K', K) float32, p(class | q) over the vocabulary
    labels: np.ndarray  # (K',) int64, index into `vocabulary`
    label_ids: np.ndarray | None  # (K',) int64 benchmark ids, None without ids in the manifest
    class_probs: np.ndarray  # (K',) float32, p(predicted class | q)
    confidence: np.ndarray  # (K',) float64, class_probs × score (or 1)
    vocabulary: tuple[str, ...]
    #: Input proposals that NMS kept but that have no points: not labelled (a mean needs a
    #: point). Empty in folk's own data (proposal files with an empty column are rejected).
    empty: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: Seconds spent per step: checks, nms, graph_inputs, graph, classify.
    timings: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.kept.shape[0])

    @property
    def names(self) -> list[str]:
        """The predicted class name of each instance."""
        return [self.vocabulary[i] for i in self.labels.tolist()]


class Runtime:
    """A deployment folder ready to label scenes (see the module docstring).

    ``backend``: ``"onnxruntime"`` (``providers``: onnxruntime execution providers, default
    CUDA then CPU when available, else CPU; ``threads``: its intra-op threads, default
    onnxruntime's, and always 1 for a graph with a ScatterND with a reduction, which
    onnxruntime's CPU kernel gets wrong with more) or ``"tensorrt"`` (the folder's
    ``model.plan``; needs TensorRT and an NVIDIA GPU).
    """

    def __init__(self, folder: str | Path, backend: str = "onnxruntime",
                 providers: list | tuple | None = None, threads: int | None = None):
        if backend not in BACKENDS:
            raise RuntimeInputError(f"unknown backend {backend!r}; choose from {list(BACKENDS)}")
        self.deployment = Deployment.load(folder)
        self.backend = backend
        if backend == "tensorrt":
            if providers is not None:
                raise RuntimeInputError("providers are onnxruntime's; the tensorrt backend "
                                        "takes none")
            self._graph = TensorRTEngine(self.deployment)
        else:
            self._graph = OrtSession(self.deployment, providers, threads)
        self._dtype = _FEATURE_DTYPES[self.deployment.precision]
        ids = self.deployment.label_ids
        self._label_ids = None if ids is None else np.asarray(ids, dtype=np.int64)

    @property
    def threads(self) -> int | None:
        """onnxruntime's intra-op threads (None: its default; None for TensorRT)."""
        return self._graph.threads if isinstance(self._graph, OrtSession) else None

    @property
    def providers(self) -> list[str]:
        """The execution providers in use (``["TensorRT engine"]`` for the tensorrt backend)."""
        if isinstance(self._graph, OrtSession):
            return self._graph.providers
        return ["TensorRT engine"]

    # ---- the graph --------------------------------------------------------------------------

    def run_graph(self, features: np.ndarray, point_index: np.ndarray,
                  proposal_index: np.ndarray, proposal_size: np.ndarray) -> GraphOutputs:
        """Run only the graph on its four inputs (cast to the graph's dtypes; shapes are checked
        against each other, the membership itself is not: see :meth:`label`)."""
        features = self._features(features)
        point_index = np.ascontiguousarray(point_index, dtype=np.int64)
        proposal_index = np.ascontiguousarray(proposal_index, dtype=np.int64)
        proposal_size = np.ascontiguousarray(proposal_size, dtype=np.float32)
        if point_index.ndim != 1 or point_index.shape != proposal_index.shape:
            raise RuntimeInputError(f"point_index {point_index.shape} and proposal_index "
                                    f"{proposal_index.shape} must be 1-D of one length")
        if proposal_size.ndim != 1:
            raise RuntimeInputError(f"proposal_size must be 1-D, got {proposal_size.shape}")
        return self._run(features, point_index, proposal_index, proposal_size)

    def _run(self, features, point_index, proposal_index, proposal_size) -> GraphOutputs:
        q = proposal_size.shape[0]
        if q == 0:  # TensorRT profiles start at one proposal; nothing to compute anyway
            d = self.deployment
            return GraphOutputs(np.zeros((0, d.embedding_dim), np.float32),
                                np.zeros((0, d.num_classes), np.float32), np.zeros(0, np.int64))
        out = self._graph.run({"features": features, "point_index": point_index,
                               "proposal_index": proposal_index,
                               "proposal_size": proposal_size})
        return GraphOutputs(np.asarray(out["embeddings"], dtype=np.float32),
                            np.asarray(out["probabilities"], dtype=np.float32),
                            np.asarray(out["labels"], dtype=np.int64))

    def _features(self, features: object) -> np.ndarray:
        features = np.asarray(features)
        c = self.deployment.feature_dim
        if features.ndim != 2:
            raise RuntimeInputError(f"features must be 2-D (N points, C = {c}), got shape "
                                    f"{features.shape}")
        if features.shape[1] != c:
            raise RuntimeInputError(
                f"features have {features.shape[1]} dims per point but this deployment takes "
                f"C = {c} ({self.deployment.feature_source} features)")
        if not (np.issubdtype(features.dtype, np.floating)
                or np.issubdtype(features.dtype, np.integer)):
            raise RuntimeInputError(f"features must be real numbers, got {features.dtype}")
        with np.errstate(over="ignore"):  # fp16 overflow: reported after the graph
            return np.ascontiguousarray(features, dtype=self._dtype)

    # ---- a scene ----------------------------------------------------------------------------

    def label(self, features: np.ndarray, offsets: np.ndarray, indices: np.ndarray,
              scores: np.ndarray | None = None, nms: bool = True, *,
              iou_threshold: float | None = None, confidence_one: bool = False) -> Labels:
        """Label the proposals of one scene (the module docstring's steps).

        ``features`` ``(N, C)``; ``offsets`` ``(Q + 1,)`` / ``indices`` ``(M,)``: the CSR
        membership of ``Q`` proposals (:mod:`folk_runtime.csr`); ``scores`` ``(Q,)``, default
        1 each; ``iou_threshold``: NMS threshold, default the manifest's ``nms_iou``;
        ``confidence_one``: every confidence 1 (as OpenMask3D / Open-YOLO 3D evaluate).
        """
        t0 = time.perf_counter()
        raw = np.asarray(features)
        x = self._features(raw)
        membership = check_membership(offsets, indices, x.shape[0])
        q = membership.num_proposals
        s = np.ones(q) if scores is None else check_scores(scores, q)
        t1 = time.perf_counter()
        thr = self.deployment.nms_iou if iou_threshold is None else float(iou_threshold)
        keep = greedy_nms(membership, s, thr if nms else 1.0)
        t2 = time.perf_counter()
        nonempty = membership.sizes[keep] > 0
        empty, keep = keep[~nonempty], keep[nonempty]
        rows = np.sort(keep)  # the graph's rows in input order: no copy when all are kept
        inputs = graph_inputs(membership, rows)
        t3 = time.perf_counter()
        out = self._run(x, inputs.point_index, inputs.proposal_index, inputs.proposal_size)
        back = np.searchsorted(rows, keep)  # the graph row of each kept proposal, NMS order
        out = GraphOutputs(out.embeddings[back], out.probabilities[back], out.labels[back])
        t4 = time.perf_counter()
        self._check_finite(out, raw, membership, keep)
        k = keep.shape[0]
        cls = out.labels
        p = out.probabilities[np.arange(k), cls].astype(np.float32)
        conf = np.ones(k) if confidence_one else p.astype(np.float64) * s[keep]
        order = np.argsort(-conf, kind="stable")
        cls = cls[order]
        t5 = time.perf_counter()
        return Labels(
            kept=keep[order].astype(np.int64), embeddings=out.embeddings[order],
            probabilities=out.probabilities[order], labels=cls,
            label_ids=None if self._label_ids is None else self._label_ids[cls],
            class_probs=p[order], confidence=conf[order], vocabulary=self.deployment.vocabulary,
            empty=empty.astype(np.int64),
            timings={"checks": t1 - t0, "nms": t2 - t1, "graph_inputs": t3 - t2,
                     "graph": t4 - t3, "classify": t5 - t4})

    def _check_finite(self, out: GraphOutputs, raw: np.ndarray, membership: Membership,
                      keep: np.ndarray) -> None:
        """Non-finite outputs → an error naming the cause (found only on this slow path)."""
        bad_rows = ~(np.isfinite(out.embeddings).all(axis=1)
                     & np.isfinite(out.probabilities).all(axis=1))
        if not bad_rows.any():
            return
        q = int(keep[np.flatnonzero(bad_rows)[0]])
        points = membership.indices[membership.offsets[q]:membership.offsets[q + 1]]
        values = raw[points]
        if not np.isfinite(values).all():
            point = int(points[np.flatnonzero(~np.isfinite(values).all(axis=1))[0]])
            raise RuntimeInputError(f"features contain NaN or inf (e.g. point {point}, in "
                                    f"proposal {q})")
        if self._dtype == np.float16 and np.abs(values).max() > _FP16_MAX:
            raise RuntimeInputError(f"features of proposal {q} exceed float16's range "
                                    f"(±{_FP16_MAX:g}) and this deployment is fp16")
        raise RuntimeInputError(f"the graph produced non-finite outputs for proposal {q} from "
                                "finite features (overflow inside the graph?)")
