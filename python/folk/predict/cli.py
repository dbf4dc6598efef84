"""``folk predict`` (and the helpers ``folk query`` shares): thin wrappers over
:mod:`folk.predict`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from folk.errors import FolkInputError
from folk.files import write_json


def add_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", required=True,
                   help="directory of per-scene point features (<scene>.npy/.npz/.pt), or "
                        "'geometric' (computed from the scan; needs --scans)")
    p.add_argument("--proposals", required=True,
                   help="directory of per-scene proposals (<scene>_masks.pt/.npy/.npz, optional "
                        "<scene>_scores.*), or 'geometric' (needs --scans)")
    p.add_argument("--scans", default=None,
                   help="directory of scans (<scene>/ folders or <scene>.ply); needed by "
                        "'geometric', else only used to check point counts")
    p.add_argument("--checkpoint", required=True,
                   help="a folk distill checkpoint (.pt) or its output directory (best.pt)")
    p.add_argument("--text-embeddings", default=None,
                   help=".npz with names + embeddings, or a teacher targets file (default: "
                        "text_embeddings.npz beside the checkpoint, which folk distill writes, "
                        "when it holds every name; else CLIP's text encoder)")
    g = p.add_argument_group("CLIP text encoder (when --text-embeddings is not given and the "
                             "checkpoint's text_embeddings.npz lacks a name)")
    g.add_argument("--clip-model", default=None,
                   help="open_clip architecture (default: the one recorded in the checkpoint)")
    g.add_argument("--clip-pretrained", default=None, help="pretrained tag (local cache only)")
    g.add_argument("--clip-checkpoint", default=None, help="local CLIP checkpoint file")
    g.add_argument("--clip-cache-dir", default=None, help="where cached tags are looked up")
    g.add_argument("--text-cache-dir", default=None, help="text-embedding cache folder")
    g.add_argument("--clip-device", default="cpu", help="device of the text encoder")
    p.add_argument("--nms-iou", type=float, default=None, help="mask NMS IoU (default 0.9)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow .pt inputs that need full unpickling (only files you trust)")


def text_embeddings_for(args, names, meta=None):
    """``(C, D)`` embeddings of ``names`` and where they came from: ``--text-embeddings``;
    else ``text_embeddings.npz`` beside the checkpoint when it holds every name; else CLIP's
    text encoder (``--clip-*``, default: the CLIP recorded in the checkpoint)."""
    from folk.predict.vocabulary import clip_text_embeddings, load_text_embeddings

    if args.text_embeddings is not None:
        return load_text_embeddings(args.text_embeddings).select(names), args.text_embeddings
    ckpt = Path(args.checkpoint)
    beside = (ckpt if ckpt.is_dir() else ckpt.parent) / "text_embeddings.npz"
    if beside.is_file() and args.clip_model is None:
        cached = load_text_embeddings(beside)
        if set(names) <= set(cached.names):
            return cached.select(names), str(beside)
    clip = dict((meta or {}).get("clip") or {})
    model = args.clip_model or clip.get("model")
    if model is None:
        raise FolkInputError(
            "no text embeddings for this vocabulary: pass --text-embeddings FILE.npz (names + "
            "embeddings) or name the CLIP the student was distilled against (--clip-model, "
            "--clip-pretrained / --clip-checkpoint)")
    same = args.clip_model is None or args.clip_model == clip.get("model")
    pretrained = args.clip_pretrained or (clip.get("pretrained") if same else None)
    text = clip_text_embeddings(
        names, model, pretrained=pretrained, checkpoint=args.clip_checkpoint,
        cache_dir=args.clip_cache_dir, text_cache_dir=args.text_cache_dir,
        template=(meta or {}).get("template") or None,
        expected_identity=clip.get("identity") if same else None, device=args.clip_device)
    return text.embeddings, f"CLIP {text.model}"


def load_inputs(args, in_dim=None):
    from folk.predict.inputs import SceneInputs
    from folk.student.model import load_adapter

    inputs = SceneInputs(args.features, args.proposals, args.scans, args.trust_pickle)
    adapter, meta = load_adapter(args.checkpoint, in_dim=in_dim)
    if meta.get("features") and meta["features"] != inputs.feature_name:
        print(f"folk: warning: the checkpoint was trained on '{meta['features']}' features, "
              f"these are '{inputs.feature_name}'", file=sys.stderr)
    return inputs, adapter, meta


def run_predict(args) -> int:
    from folk import __version__
    from folk.predict.inputs import parse_scene_list
    from folk.predict.predictor import (
        DEFAULT_TAU_L,
        PredictConfig,
        predict_scene,
        write_scannet_submission,
    )
    from folk.predict.vocabulary import resolve_vocabulary

    vocab = resolve_vocabulary(args.vocabulary)
    inputs, adapter, meta = load_inputs(args)
    text, text_source = text_embeddings_for(args, vocab.names, meta)
    tau = args.tau_l if args.tau_l is not None else float(meta.get("tau_l", DEFAULT_TAU_L))
    config = PredictConfig(tau_l=tau, nms_iou=args.nms_iou if args.nms_iou is not None else 0.9,
                           confidence_one=args.confidence_one)
    scenes = parse_scene_list(args.scenes) or inputs.available_scenes()
    if not scenes:
        raise FolkInputError("no scenes to predict")
    out = Path(args.out)
    summary = {"folk_version": __version__, "checkpoint": str(args.checkpoint),
               "features": inputs.feature_name, "proposals": str(args.proposals),
               "text_embeddings": text_source,
               "vocabulary": {"source": vocab.source, "names": list(vocab.names),
                              "label_ids": list(vocab.label_ids)},
               "config": {"tau_l": tau, "nms_iou": config.nms_iou,
                          "confidence_one": config.confidence_one},
               "scenes": {}}
    from tqdm import tqdm

    start = time.perf_counter()
    for scene in tqdm(scenes, desc="predict", unit="scene", disable=args.quiet):
        if args.skip_existing and (out / f"{scene}.txt").is_file():
            continue
        t0 = time.perf_counter()
        features, proposals = inputs.load(scene)
        t1 = time.perf_counter()
        if adapter.in_dim != features.dim:
            raise FolkInputError(f"scene {scene!r}: features have {features.dim} dims but the "
                                 f"checkpoint's adapter takes {adapter.in_dim}")
        pred = predict_scene(features, proposals, adapter, text, vocab.label_ids, config,
                             scene=scene)
        t2 = time.perf_counter()
        write_scannet_submission(out, pred)
        t3 = time.perf_counter()
        summary["scenes"][scene] = {
            "proposals": proposals.num_proposals, "instances": len(pred),
            "seconds": {"load": t1 - t0, "predict": t2 - t1, "write": t3 - t2,
                        **{k: v for k, v in pred.timings.items()}}}
    total = time.perf_counter() - start
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


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="open-vocabulary instance predictions from point features (no images)",
        description="Classify each scene's proposals with a distilled student and write the "
                    "ScanNet submission format (<out>/<scene>.txt + pred_mask/) and "
                    "<out>/summary.json. No image is read.")
    add_inputs(p)
    p.add_argument("--vocabulary", default="scannet200",
                   help="scannet200, replica, a comma-separated list of names, or a file with "
                        "one name per line (default scannet200)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--scenes", default=None,
                   help="scene names (comma-separated) or a file with one per line (default: "
                        "every scene with proposals)")
    p.add_argument("--tau-l", type=float, default=None,
                   help="classification temperature (default: the checkpoint's)")
    p.add_argument("--confidence-one", action="store_true",
                   help="every confidence = 1 (as OpenMask3D / Open-YOLO 3D evaluate)")
    p.add_argument("--skip-existing", action="store_true",
                   help="skip scenes whose <out>/<scene>.txt exists")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run_predict)

