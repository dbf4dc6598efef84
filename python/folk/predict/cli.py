"""``folk predict``: a thin wrapper over :func:`folk.predict.predict_scene`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from folk.cli_args import (
    add_command,
    add_quiet,
    add_scene_inputs,
    add_scene_list,
    add_student,
    add_vocabulary,
    check_output_folder,
    positive_float,
    scene_inputs_from_args,
    student_text_from_args,
)
from folk.errors import FolkInputError


def load_student(args, in_dim=None, *, without_torch: bool = False):
    """``(inputs, adapter, meta)`` of the options of :func:`folk.cli_args.add_scene_inputs` and
    :func:`folk.cli_args.add_student` (``folk predict``, ``folk query``, ``folk view``); warns
    when the checkpoint was trained on another kind of features. ``without_torch``: the
    adapter is a :class:`~folk.student.checkpoint.NumpyAdapter` (no torch import)."""
    if without_torch:
        from folk.student.checkpoint import load_numpy_adapter as load_adapter
    else:
        from folk.student.model import load_adapter

    inputs = scene_inputs_from_args(args)
    adapter, meta = load_adapter(args.checkpoint, in_dim=in_dim)
    if meta.get("features") and meta["features"] != inputs.feature_name:
        print(f"folk: warning: the checkpoint was trained on '{meta['features']}' features, "
              f"these are '{inputs.feature_name}'", file=sys.stderr)
    return inputs, adapter, meta


def check_feature_width(args, scene: str, features, adapter) -> None:
    """Stop when ``scene``'s point features are not as wide as the adapter's input, naming
    the features file (``folk predict``, ``folk query``)."""
    if adapter.in_dim == features.dim:
        return
    from folk.features import feature_file

    where = None if args.features == "geometric" else feature_file(args.features, scene)
    raise FolkInputError(f"scene {scene!r}: features have {features.dim} dims but the "
                         f"checkpoint's adapter takes {adapter.in_dim} (wrong --features or "
                         "--checkpoint?)", where)


def text_embeddings_from_args(args, names, meta):
    """``(embeddings, source)`` of :func:`folk.cli_args.student_text_from_args`."""
    text = student_text_from_args(args, names, meta)
    return text.embeddings, text.source


def register(subparsers) -> None:
    p = add_command(
        subparsers, "predict", run,
        help="open-vocabulary instance predictions from point features (no images)",
        description="Classify each scene's proposals with a distilled student and write the "
                    "ScanNet submission format (<out>/<scene>.txt + pred_mask/) and "
                    "<out>/summary.json. No image is read.")
    add_scene_inputs(p)
    add_student(p)
    add_vocabulary(p)
    p.add_argument("--out", required=True, help="output directory")
    add_scene_list(p, "--scenes", "scenes to predict (default: every scene with proposals)")
    p.add_argument("--tau-l", type=positive_float, default=None,
                   help="classification temperature (default: the checkpoint's)")
    p.add_argument("--confidence-one", action="store_true",
                   help="every confidence = 1 (as OpenMask3D / Open-YOLO 3D evaluate)")
    p.add_argument("--skip-existing", action="store_true",
                   help="skip scenes whose <out>/<scene>.txt exists")
    p.add_argument("--runtime", choices=RUNTIMES, default="torch",
                   help="what computes the labels: PyTorch (default), or the torch-free "
                        "deployment runtime with ONNX Runtime (onnx) or TensorRT (trt), on the "
                        "student exported to a temporary deployment folder; same files")
    p.add_argument("--deployment", default=None,
                   help="with --runtime onnx|trt: run this folk-export folder instead of "
                        "exporting --checkpoint (its vocabulary must be --vocabulary's)")
    add_quiet(p)


RUNTIMES = ("torch", "onnx", "trt")


class SceneLabeller(NamedTuple):
    """How ``folk predict`` labels a scene: ``label(features, proposals, scene)`` →
    :class:`~folk.predict.predictor.ScenePrediction`; where the text embeddings came from;
    the τ_l in use; the temporary folder of an exported deployment (None without one)."""

    label: Callable
    text_source: str
    tau_l: float
    workdir: object | None


def scene_labeller(args, vocab, adapter, meta, config) -> SceneLabeller:
    """The :class:`SceneLabeller` of ``args.runtime``: :func:`folk.predict.predict_scene`, or
    :func:`folk.export.predictor.predict_scene_runtime` on ``--deployment`` or on the student
    exported to a temporary folder."""
    import tempfile
    from dataclasses import replace

    from folk.predict.predictor import predict_scene

    if args.runtime == "torch":
        if args.deployment is not None:
            raise FolkInputError("--deployment runs with --runtime onnx or trt, not torch")
        text = student_text_from_args(args, vocab.names, meta)
        return SceneLabeller(lambda features, proposals, scene: predict_scene(
            features, proposals, adapter, text.embeddings, vocab.label_ids, config,
            scene=scene), text.source, config.tau_l, None)
    from folk.export.deploy import ExportOptions, export_deployment, student_export
    from folk.export.predictor import open_runtime, predict_scene_runtime

    workdir = None
    if args.deployment is None:
        text = student_text_from_args(args, vocab.names, meta)
        workdir = tempfile.TemporaryDirectory(prefix="folk-predict-")
        folder = export_deployment(
            Path(workdir.name) / "deployment", student_export(adapter, meta, text, vocab,
                                                              config.tau_l),
            ExportOptions(tensorrt=args.runtime == "trt", nms_iou=config.nms_iou)).folder
        source = text.source
    else:
        folder, source = Path(args.deployment), f"deployment {args.deployment}"
        config = replace(config, tau_l=args.tau_l)  # None: the deployment's
    runtime = open_runtime(folder, args.runtime)
    deployed = runtime.deployment
    if tuple(deployed.vocabulary) != tuple(vocab.names):
        raise FolkInputError(f"its vocabulary ({len(deployed.vocabulary)} names: "
                             f"{', '.join(deployed.vocabulary[:5])}, ...) is not --vocabulary's "
                             f"({vocab.source}); pass the same vocabulary", folder)
    if deployed.feature_dim != adapter.in_dim:
        raise FolkInputError(f"it takes {deployed.feature_dim}-dim features but the checkpoint's "
                             f"adapter {adapter.in_dim}", folder)
    return SceneLabeller(lambda features, proposals, scene: predict_scene_runtime(
        runtime, features, proposals, config, scene=scene), source, deployed.tau_l, workdir)


def run(args) -> int:
    import numpy as np

    from folk import __version__
    from folk.data.vocabulary import LIST_POSITIONS
    from folk.files import write_json
    from folk.predict.predictor import PredictConfig, write_scannet_submission
    from folk.predict.submission import check_replaceable
    from folk.predict.vocabulary import resolve_vocabulary
    from folk.progress import Progress
    from folk.student.classify import DEFAULT_TAU_L
    from folk.student.inputs import parse_scene_list

    out = check_output_folder(args.out, inputs=[args.features, args.proposals, args.scans,
                                                args.checkpoint, args.deployment])
    scenes = parse_scene_list(args.scenes) or scene_inputs_from_args(args).available_scenes()
    if not scenes:
        raise FolkInputError("no scenes to predict")
    check_replaceable(out, scenes)
    vocab = resolve_vocabulary(args.vocabulary)
    if vocab.id_space == LIST_POSITIONS:
        print(f"folk predict: note: {vocab.label_ids_note()}", file=sys.stderr)
    inputs, adapter, meta = load_student(args)
    tau = args.tau_l if args.tau_l is not None else float(meta.get("tau_l", DEFAULT_TAU_L))
    config = PredictConfig(tau_l=tau, nms_iou=args.nms_iou, confidence_one=args.confidence_one)
    labeller = scene_labeller(args, vocab, adapter, meta, config)
    summary = {"folk_version": __version__, "checkpoint": str(args.checkpoint),
               "features": inputs.feature_name, "proposals": str(args.proposals),
               "text_embeddings": labeller.text_source,
               "vocabulary": {"source": vocab.source, "names": list(vocab.names),
                              "label_ids": list(vocab.label_ids),
                              "label_ids_are": vocab.label_ids_note()},
               "config": {"tau_l": labeller.tau_l, "nms_iou": config.nms_iou,
                          "confidence_one": config.confidence_one},
               "runtime": args.runtime,
               "scenes": {}}
    start = time.perf_counter()
    bar = Progress(scenes, desc="predict", unit="scene", enabled=not args.quiet)
    for scene in bar:
        bar.set_postfix_str(scene)
        if args.skip_existing and (out / f"{scene}.txt").is_file():
            continue
        t0 = time.perf_counter()
        features, proposals = inputs.load(scene)
        t1 = time.perf_counter()
        check_feature_width(args, scene, features, adapter)
        pred = labeller.label(features, proposals, scene)
        t2 = time.perf_counter()
        write_scannet_submission(out, pred)
        t3 = time.perf_counter()
        summary["scenes"][scene] = {
            "proposals": proposals.num_proposals, "instances": len(pred),
            "seconds": {"load": t1 - t0, "predict": t2 - t1, "write": t3 - t2,
                        **{k: v for k, v in pred.timings.items()}}}
    total = time.perf_counter() - start
    if labeller.workdir is not None:
        labeller.workdir.cleanup()
    done = len(summary["scenes"])
    summary["seconds_total"] = total
    summary["seconds_predict_per_scene"] = (
        float(np.mean([s["seconds"]["predict"] for s in summary["scenes"].values()]))
        if done else None)
    write_json(out / "summary.json", summary)
    if not args.quiet:
        print(f"folk predict: {done} scene(s) -> {out} ({total:.1f} s); summary in "
              f"{out / 'summary.json'}")
    return 0
