"""``folk distill``: a thin wrapper over :func:`folk.distill.distill`."""

from __future__ import annotations

from pathlib import Path

from folk.cli_args import (
    add_command,
    add_config_flags,
    add_quiet,
    add_scene_inputs,
    add_scene_list,
    check_output_folder,
    config_from_args,
    non_negative_float,
    positive_float,
    positive_int,
    scene_inputs_from_args,
)
from folk.distill.config import DistillConfig
from folk.errors import FolkInputError


def _scene_names(spec, targets_dir: Path, exclude: list[str]) -> list[str]:
    from folk.student.inputs import parse_scene_list

    names = parse_scene_list(spec)
    if names is not None:
        return names
    if not targets_dir.is_dir():
        raise FolkInputError("teacher targets directory not found", targets_dir)
    return sorted(p.stem for p in targets_dir.glob("*.npz") if p.stem not in set(exclude))


def register(subparsers) -> None:
    from folk.data.classes import DATASETS

    p = add_command(
        subparsers, "distill", run, help="train the student (VL-adapter) on teacher targets",
        description="Label-guided distillation of the teacher's targets into the VL-adapter. "
                    "Writes last.pt (every epoch), best.pt, history.jsonl (a line per epoch), "
                    "config.json and "
                    "text_embeddings.npz into --out. Multi-process: torchrun "
                    "--nproc_per_node=K -m folk.cli distill ...")
    p.add_argument("--targets", required=True, help="directory of teacher targets <scene>.npz")
    add_scene_inputs(p)
    add_scene_list(p, "--scenes-train", "training scenes (default: every targets file not in "
                                        "--scenes-val)")
    add_scene_list(p, "--scenes-val", "validation scenes")
    p.add_argument("--out", required=True, help="output directory for checkpoints")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--stop-after", type=positive_int, default=None, metavar="N",
                   help="train at most N epochs in this call (time-limited job slots), then "
                        "continue with --resume")
    p.add_argument("--gt", default=None,
                   help="GT directory (<scene>.txt) of the validation scenes: report AP each "
                        "epoch and choose best.pt by AP")
    p.add_argument("--dataset", default="scannet200", choices=DATASETS,
                   help="benchmark of --gt (default scannet200)")
    p.add_argument("--device", default="auto",
                   help="auto (GPU when available), cpu, cuda (default auto)")
    add_quiet(p)
    p.add_argument("--verbose", action="store_true",
                   help="print a line per epoch: losses, validation metrics, seconds")
    add_config_flags(p.add_argument_group("training"), DistillConfig, types=_CONFIG_TYPES)


#: The bounds of DistillConfig's options, checked while parsing (others: integers >= 0, finite
#: numbers).
_CONFIG_TYPES = {"hidden": positive_int, "epochs": positive_int, "batch_proposals": positive_int,
                 "lr": positive_float, "tau_c": positive_float, "tau_l": positive_float,
                 "weight_decay": non_negative_float, "lambda_con": non_negative_float,
                 "lambda_ce": non_negative_float}


def run(args) -> int:
    from folk.files import exclusive_lock

    config = config_from_args(DistillConfig, args)
    out = check_output_folder(args.out, inputs=[args.targets, args.features, args.proposals,
                                                args.scans, args.gt])
    with exclusive_lock(out / LOCK_FILE):
        return _distill(args, config)


#: Held in ``--out`` while a run trains there: a second run on the same folder refuses.
LOCK_FILE = ".folk-distill.lock"


def _distill(args, config) -> int:
    from folk.distill.data import load_distill_data
    from folk.distill.trainer import distill
    from folk.evaluation.validation import APValidator
    from folk.student.inputs import parse_scene_list

    targets = Path(args.targets)
    val = parse_scene_list(args.scenes_val) or []
    train = _scene_names(args.scenes_train, targets, val)
    inputs = scene_inputs_from_args(args)
    data = load_distill_data(targets, inputs, train, val, progress=not args.quiet)
    ap_validator = None
    if args.gt is not None:
        if not val:
            raise FolkInputError("--gt needs validation scenes (--scenes-val)")
        ap_validator = APValidator.for_dataset(inputs, val, args.gt, args.dataset,
                                               data.vocabulary, data.text_embeddings,
                                               config.tau_l, progress=not args.quiet)
    print(f"folk distill: {data.train.num_rows} training proposals from {len(train)} scene(s), "
          f"{data.val.num_valid} validation proposals from {len(val)}; features "
          f"{data.feature_dim}-d -> {data.target_dim}-d")
    result = distill(data, config, args.out, resume=args.resume, progress=not args.quiet,
                     device=args.device, ap_validator=ap_validator,
                     stop_after_epochs=args.stop_after, verbose=args.verbose)
    if result.history:
        print(f"folk distill: {result.epochs_run} epoch(s) trained, {len(result.history)}/"
              f"{config.epochs} done, last loss {result.history[-1]['loss']:.4f}")
    if result.best_epoch is not None:
        print(f"folk distill: best {result.best_metric} {result.best_value:.4f} at epoch "
              f"{result.best_epoch}; checkpoints in {args.out}")
    return 0
