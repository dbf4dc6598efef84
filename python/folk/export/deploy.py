"""A deployment folder: the student and one vocabulary, ready for the torch-free runtime
``folk_runtime`` (docs/formats.md, "Deployment folder")::

    <out>/manifest.json   vocabulary, label ids, CLIP, τ_l, feature width and source, precision,
                          NMS IoU, opset, files (folk_runtime.manifest)
    <out>/model.onnx      the graph of folk.export.graph, the manifest also in metadata_props
    <out>/model.plan      with TensorRT: the engine of folk.export.tensorrt

:func:`student_export` gathers and checks what goes in (the adapter, the vocabulary, its text
embeddings and the CLIP they came from); :func:`export_deployment` writes the folder:

1. the output is checked before any work: an existing file, or a folder holding anything but
   a deployment's files, is refused; with TensorRT, its absence is reported first;
2. everything is written to a temporary folder beside ``<out>``: ``model.onnx``, then
   ``model.plan``, then ``manifest.json`` (through ``folk_runtime.write_manifest``);
3. the folder is loaded by ``folk_runtime.Runtime`` (which checks the manifest against the
   model) and its graph run on a small random scene: the embeddings and class probabilities
   must match the PyTorch student's (:func:`folk.student.classify.embed_segments` and
   :func:`~folk.student.classify.class_probabilities`) — a mismatch is an error, not a folder;
4. the temporary folder is renamed to ``<out>`` (a previous deployment there is replaced).

An interrupted or failed export leaves no ``<out>`` behind (or the previous one, untouched).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from folk.errors import FolkError, FolkExtensionError, FolkInputError
from folk.export.graph import OPSET, PRECISIONS, AdapterWeights, student_graph
from folk.export.tensorrt import EngineProfile, build_engine, tensorrt_problem
from folk.proposals.nms import DEFAULT_IOU

if TYPE_CHECKING:
    from folk.predict.vocabulary import StudentText, Vocabulary
    from folk.student.model import VLAdapter
    from folk_runtime import ClipSource, Deployment

ONNX_NAME, PLAN_NAME, MANIFEST_NAME = "model.onnx", "model.plan", "manifest.json"
#: The files a deployment folder may hold; anything else in ``<out>`` stops the export.
DEPLOYMENT_FILES = (MANIFEST_NAME, ONNX_NAME, PLAN_NAME)
#: Largest difference to the PyTorch student the export accepts (embedding entries, class
#: probabilities) per precision. fp32 agrees to ~1e-7; fp16 rounds the adapter's weights and
#: activations to 11 significant bits, and τ_l = 0.01 multiplies cosine errors by 100 in the
#: probabilities, so those are not compared for fp16.
TOLERANCES = {"fp32": (1e-4, 1e-3), "fp16": (2e-2, None)}


@dataclass(frozen=True)
class StudentExport:
    """What a deployment packages, checked (:func:`student_export`)."""

    adapter: VLAdapter
    text_embeddings: np.ndarray  # (K, D) float32
    vocabulary: tuple[str, ...]
    label_ids: tuple[int, ...] | None
    tau_l: float
    clip: ClipSource  # where the text embeddings came from
    feature_source: str  # the checkpoint's feature name ("geometric", a folder name, ...)
    #: Things the user should know (e.g. a CLIP that could not be checked), one line each.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportOptions:
    """How to export: ``precision`` "fp32" | "fp16" (see :mod:`folk.export.graph`),
    ``tensorrt`` (also build ``model.plan``, over the sizes of ``profile``) and the ``nms_iou``
    the runtime applies before the graph."""

    precision: str = "fp32"
    tensorrt: bool = False
    nms_iou: float = DEFAULT_IOU
    profile: EngineProfile = field(default_factory=EngineProfile)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise FolkInputError(f"precision must be one of {PRECISIONS}, got "
                                 f"{self.precision!r}")
        if not self.nms_iou >= 0:
            raise FolkInputError(f"nms_iou must be >= 0, got {self.nms_iou}")


@dataclass(frozen=True)
class ExportResult:
    """A written deployment folder and how its check went."""

    folder: Path
    deployment: Deployment
    #: Largest |difference| to the PyTorch student on the check scene, per backend:
    #: ``{"onnxruntime": {"embeddings": e, "probabilities": p}, "tensorrt": {...}}``.
    check: dict[str, dict[str, float]]
    seconds: dict[str, float] = field(default_factory=dict)


# ---- what goes in -------------------------------------------------------------------------

def parse_clip_identity(identity: str) -> ClipSource:
    """A CLIP identity as folk writes it (``name|pretrained tag|sha256:<hex>``,
    :class:`folk.clip.ClipModel`) as a manifest's ``clip``; a bare name is a model name."""
    from folk_runtime import ClipSource

    model, pretrained, digest = ([p.strip() for p in str(identity).split("|")] + ["", ""])[:3]
    sha = digest.removeprefix("sha256:").lower() if digest.startswith("sha256:") else ""
    return ClipSource(model, pretrained or None, sha or None)


def _same_clip(a: ClipSource, b: ClipSource) -> bool:
    """Same model name, and the same weights where both hashes are known."""
    return a.model == b.model and (a.weights_sha256 is None or b.weights_sha256 is None
                                   or a.weights_sha256 == b.weights_sha256)


def text_clip(text_model: str, recorded: dict[str, Any] | None,
              ) -> tuple[ClipSource, tuple[str, ...]]:
    """``(the CLIP of the text embeddings, notes)``: ``text_model`` is the identity recorded
    with the embeddings, ``recorded`` the checkpoint's ``meta["clip"]`` (the CLIP the student
    was distilled against). Embeddings from another CLIP are an error (the student's
    embeddings live in its CLIP's joint space only); where one side is unrecorded the other is
    used, with a note."""
    from folk_runtime import ClipSource

    recorded = dict(recorded or {})
    student = None
    if recorded.get("identity"):
        student = parse_clip_identity(recorded["identity"])
    elif recorded.get("model"):
        student = ClipSource(str(recorded["model"]), recorded.get("pretrained") or None)
    text = parse_clip_identity(text_model) if str(text_model or "").strip() else None
    if text is not None and student is not None:
        if not _same_clip(text, student):
            raise FolkInputError(
                f"the text embeddings come from CLIP {text_model!r} but the student was "
                f"distilled against CLIP {recorded.get('identity') or recorded.get('model')!r}:"
                " its embeddings live in that CLIP's joint space only; embed the vocabulary "
                "with the same CLIP")
        return text, ()
    if text is not None:
        note = (f"the checkpoint does not record its CLIP: the text embeddings' CLIP "
                f"({text.model}) is assumed to be the student's")
        return text, (note,)
    if student is not None:
        note = (f"the text embeddings do not record their CLIP: they are assumed to come from "
                f"the student's ({student.model})")
        return student, (note,)
    note = "neither the checkpoint nor the text embeddings record a CLIP: the manifest says " \
           "'unknown'"
    return ClipSource("unknown"), (note,)


def student_export(adapter: VLAdapter, meta: dict[str, Any], text: StudentText,
                   vocabulary: Vocabulary, tau_l: float | None = None) -> StudentExport:
    """Check and gather what a deployment packages: ``adapter`` and its checkpoint ``meta``,
    the ``text`` embeddings of ``vocabulary`` (:func:`folk.predict.vocabulary.student_text`),
    ``tau_l`` (default: the checkpoint's). Raises :class:`FolkInputError` naming the cause:
    an empty vocabulary, duplicate names, text embeddings of another width or another CLIP
    than the student's."""
    from folk.student.classify import DEFAULT_TAU_L, check_vocabulary

    names = tuple(vocabulary.names)
    if not names:
        raise FolkInputError("the vocabulary is empty")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FolkInputError(f"the vocabulary names {duplicates} more than once")
    embeddings, label_ids = check_vocabulary(text.embeddings, vocabulary.label_ids, adapter)
    clip, notes = text_clip(text.model, meta.get("clip"))
    tau = float(meta.get("tau_l", DEFAULT_TAU_L)) if tau_l is None else float(tau_l)
    if not (np.isfinite(tau) and tau > 0):
        raise FolkInputError(f"tau_l must be > 0, got {tau}")
    return StudentExport(adapter=adapter, text_embeddings=embeddings, vocabulary=names,
                         label_ids=tuple(int(i) for i in label_ids), tau_l=tau, clip=clip,
                         feature_source=str(meta.get("features") or "unknown"), notes=notes)


# ---- the folder ---------------------------------------------------------------------------

def check_output_folder(out: str | Path) -> Path:
    """``out`` as a Path, if a deployment may be written there: it does not exist, or is a
    folder holding only deployment files (:data:`DEPLOYMENT_FILES`; it will be replaced)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FolkInputError("is an existing file; the deployment is a folder (give a new "
                             "folder, or a previous deployment folder to replace)", out)
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in DEPLOYMENT_FILES)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise FolkInputError(f"holds files that are not a deployment's ({shown}); "
                                 "refusing to replace it: give a new or empty folder, or a "
                                 "previous deployment folder", out)
    return out


def deployment_manifest(student: StudentExport, options: ExportOptions) -> Deployment:
    """The manifest of ``student`` exported with ``options`` (before any file is written)."""
    from folk import __version__
    from folk_runtime import Deployment, DeploymentFiles, FolkRuntimeError

    try:
        return Deployment(
            folk_version=__version__, vocabulary=student.vocabulary,
            label_ids=student.label_ids, clip=student.clip, tau_l=student.tau_l,
            feature_dim=student.adapter.in_dim, feature_source=student.feature_source,
            embedding_dim=student.adapter.out_dim, precision=options.precision,
            nms_iou=float(options.nms_iou), opset=OPSET,
            files=DeploymentFiles(ONNX_NAME, PLAN_NAME if options.tensorrt else None),
        ).validated()
    except FolkRuntimeError as exc:
        raise FolkInputError(f"cannot be a deployment manifest: {exc}") from None


def export_deployment(out: str | Path, student: StudentExport,
                      options: ExportOptions = ExportOptions()) -> ExportResult:
    """Write the deployment folder ``out`` (the module docstring's steps)."""
    from folk import __version__
    from folk_runtime import write_manifest

    out = check_output_folder(out)
    if options.tensorrt:
        problem = tensorrt_problem()
        if problem is not None:
            raise FolkExtensionError(problem)
    deployment = deployment_manifest(student, options)
    weights = AdapterWeights.from_adapter(student.adapter)

    def graph(scatter: str):
        return student_graph(weights, student.text_embeddings, student.tau_l,
                             precision=options.precision, scatter=scatter,
                             metadata=deployment.to_metadata(), producer_version=__version__)

    seconds: dict[str, float] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        t0 = time.perf_counter()
        _write_bytes(tmp / ONNX_NAME, graph("blocked").SerializeToString())
        t1 = time.perf_counter()
        seconds["onnx"] = t1 - t0
        if options.tensorrt:
            _write_bytes(tmp / PLAN_NAME, build_engine(
                graph("elements").SerializeToString(), student.adapter.in_dim,
                fp16=options.precision == "fp16", profile=options.profile))
            seconds["tensorrt"] = time.perf_counter() - t1
        write_manifest(tmp, deployment)
        t2 = time.perf_counter()
        check = check_deployment(tmp, student, options)
        seconds["check"] = time.perf_counter() - t2
        _install(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    from folk_runtime import Deployment

    return ExportResult(out, Deployment.load(out), check, seconds)


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _install(tmp: Path, out: Path) -> None:
    """Rename the finished folder ``tmp`` to ``out``, replacing a previous deployment (moved
    aside first, restored if the rename fails, deleted after)."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.replace(out, old / "previous")
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old / "previous", out)
        raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)


# ---- the check ----------------------------------------------------------------------------

def check_scene(feature_dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features (N, C) float32, offsets, indices)``: a small random scene whose proposals
    cover the awkward cases (one point; a point in several proposals; proposals of several
    blocks of the blocked segment sum, one of them all points)."""
    from folk.data.membership import ProposalMembership
    from folk.export.segment_sum import BLOCK

    rng = np.random.default_rng(seed)
    n = 2 * BLOCK + 3
    features = rng.normal(size=(n, feature_dim)).astype(np.float32)
    lists = [np.array([7]), np.arange(0, n, 3), np.arange(0, BLOCK + 1), np.arange(n),
             rng.choice(n, size=17, replace=False)]
    membership = ProposalMembership.from_lists(lists, n)
    return features, membership.offsets, membership.indices


def check_deployment(folder: Path, student: StudentExport, options: ExportOptions,
                     ) -> dict[str, dict[str, float]]:
    """Run ``folder``'s graph through ``folk_runtime.Runtime`` (each backend it has) on
    :func:`check_scene` and compare with the PyTorch student; raises :class:`FolkError` when
    a difference exceeds :data:`TOLERANCES`. Returns the largest differences per backend."""
    from folk.data.membership import ProposalMembership
    from folk.export.graph import membership_inputs
    from folk.student.classify import class_probabilities, embed_segments
    from folk_runtime import FolkRuntimeError, Runtime

    features, offsets, indices = check_scene(student.adapter.in_dim)
    membership = ProposalMembership(offsets, indices, features.shape[0])
    if options.precision == "fp16":  # the reference sees what the graph sees
        features = features.astype(np.float16).astype(np.float32)
    expected_emb = embed_segments(student.adapter, features, membership)
    expected_p = class_probabilities(expected_emb, student.text_embeddings, student.tau_l)
    inputs = membership_inputs(offsets, indices, features)
    emb_tol, p_tol = TOLERANCES[options.precision]
    backends = ("onnxruntime", "tensorrt") if options.tensorrt else ("onnxruntime",)
    found: dict[str, dict[str, float]] = {}
    for backend in backends:
        providers = ["CPUExecutionProvider"] if backend == "onnxruntime" else None
        try:
            out = Runtime(folder, backend=backend, providers=providers).run_graph(**inputs)
        except FolkRuntimeError as exc:
            raise FolkError(f"the exported folder does not run in folk_runtime ({backend}): "
                            f"{exc}; this is a bug in folk-export") from None
        errors = {"embeddings": float(np.abs(out.embeddings - expected_emb).max()),
                  "probabilities": float(np.abs(out.probabilities - expected_p).max())}
        found[backend] = errors
        if errors["embeddings"] > emb_tol or (p_tol is not None
                                              and errors["probabilities"] > p_tol):
            raise FolkError(f"the exported graph ({backend}, {options.precision}) disagrees "
                            f"with the PyTorch student on a check scene (max |difference|: "
                            f"embeddings {errors['embeddings']:.2e}, probabilities "
                            f"{errors['probabilities']:.2e}); this is a bug in folk-export")
    return found


__all__ = ["DEPLOYMENT_FILES", "TOLERANCES", "ExportOptions", "ExportResult", "StudentExport",
           "check_deployment", "check_output_folder", "deployment_manifest",
           "export_deployment", "parse_clip_identity", "student_export", "text_clip"]
