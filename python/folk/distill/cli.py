"""``folk distill``: a thin wrapper over :func:`folk.distill.distill`."""

from __future__ import annotations

import argparse
from pathlib import Path

from folk.distill.config import DistillConfig
from folk.errors import FolkInputError

_DEFAULTS = DistillConfig()
# (flag, config field, type, help)
_CONFIG_FLAGS = (
    ("--epochs", "epochs", int, "training epochs"),
    ("--lr", "lr", float, "peak learning rate (AdamW)"),
    ("--weight-decay", "weight_decay", float, "AdamW weight decay"),
    ("--lr-schedule", "lr_schedule", str, "cosine or constant"),
    ("--batch-proposals", "batch_proposals", int, "proposals per batch and process"),
    ("--seed", "seed", int, "seed of the initialisation and the data order"),
    ("--hidden", "hidden", int, "hidden width of the adapter"),
    ("--activation", "activation", str, "adapter activation: gelu, relu, silu, tanh"),
    ("--lambda-con", "lambda_con", float, "weight of the contrastive loss (paper: 0.2)"),
    ("--lambda-ce", "lambda_ce", float, "weight of the label loss (paper: 0.8)"),
    ("--tau-c", "tau_c", float, "InfoNCE temperature"),
    ("--tau-l", "tau_l", float, "classification temperature (kept in the checkpoint)"),
)


def _scene_names(spec, targets_dir: Path, exclude: list[str]) -> list[str]:
    from folk.predict.inputs import parse_scene_list

    names = parse_scene_list(spec)
    if names is not None:
        return names
    if not targets_dir.is_dir():
        raise FolkInputError("teacher targets directory not found", targets_dir)
    return sorted(p.stem for p in targets_dir.glob("*.npz") if p.stem not in set(exclude))


def run(args) -> int:
    from folk.distill.data import load_distill_data
    from folk.distill.trainer import APValidator, distill
    from folk.predict.inputs import SceneInputs, parse_scene_list

    config = DistillConfig().replace(**{field: getattr(args, field)
                                        for _, field, _, _ in _CONFIG_FLAGS
                                        if getattr(args, field) is not None})
    targets = Path(args.targets)
    val = parse_scene_list(args.scenes_val) or []
    train = _scene_names(args.scenes_train, targets, val)
    inputs = SceneInputs(args.features, args.proposals, args.scans, args.trust_pickle)
    data = load_distill_data(targets, inputs, train, val, progress=not args.quiet)
    ap_validator = None
    if args.gt is not None:
        if not val:
            raise FolkInputError("--gt needs validation scenes (--scenes-val)")
        from folk.data.classes import load_class_list

        classes = load_class_list(args.dataset)
        missing = [n for n in data.vocabulary if n not in classes.names]
        if missing:
            raise FolkInputError(f"the teacher's vocabulary has names that are not "
                                 f"{args.dataset} classes, e.g. {missing[:5]}")
        ap_validator = APValidator(inputs, val, args.gt, args.dataset, data.text_embeddings,
                                   [classes.id_of(n) for n in data.vocabulary], config.tau_l,
                                   progress=not args.quiet)
    print(f"folk distill: {data.train.num_rows} training proposals from {len(train)} scene(s), "
          f"{data.val.num_valid} validation proposals from {len(val)}; features "
          f"{data.feature_dim}-d -> {data.target_dim}-d")
    result = distill(data, config, args.out, resume=args.resume, progress=not args.quiet,
                     device=args.device, ap_validator=ap_validator,
                     stop_after_epochs=args.stop_after)
    if result.best_epoch is not None:
        print(f"folk distill: best {result.best_metric} {result.best_value:.4f} at epoch "
              f"{result.best_epoch}; checkpoints in {args.out}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "distill", help="train the student (VL-adapter) on teacher targets",
        description="Label-guided distillation of the teacher's targets into the VL-adapter. "
                    "Writes last.pt (every epoch), best.pt, history.json, config.json and "
                    "text_embeddings.npz into --out. Multi-process: torchrun "
                    "--nproc_per_node=K -m folk.cli distill ...",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--targets", required=True, help="directory of teacher targets <scene>.npz")
    p.add_argument("--features", required=True,
                   help="directory of per-scene point features, or 'geometric' (needs --scans)")
    p.add_argument("--proposals", required=True,
                   help="directory of per-scene proposals (the teacher's), or 'geometric'")
    p.add_argument("--scans", default=None, help="directory of scans (for 'geometric')")
    p.add_argument("--scenes-train", default=None,
                   help="training scenes: comma-separated or a file (default: every targets "
                        "file not in --scenes-val)")
    p.add_argument("--scenes-val", default=None,
                   help="validation scenes: comma-separated or a file")
    p.add_argument("--out", required=True, help="output directory for checkpoints")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="train at most N epochs in this call (time-limited job slots), then "
                        "continue with --resume")
    p.add_argument("--gt", default=None,
                   help="GT directory (<scene>.txt) of the validation scenes: report AP each "
                        "epoch and choose best.pt by AP")
    p.add_argument("--dataset", default="scannet200", help="benchmark of --gt")
    p.add_argument("--device", default="auto", help="auto (GPU when available), cpu, cuda")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow .pt inputs that need full unpickling (only files you trust)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    for flag, field, typ, text in _CONFIG_FLAGS:
        p.add_argument(flag, dest=field, type=typ, default=None,
                       help=f"{text} (default {getattr(_DEFAULTS, field)})")
    p.set_defaults(func=run)
