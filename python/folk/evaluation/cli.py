"""``folk eval``: score a folder of predictions (ScanNet submission format) against GT."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from folk.cli_args import check_output_file
from folk.data.classes import DATASETS
from folk.errors import FolkInputError
from folk.evaluation.evaluator import Evaluator
from folk.evaluation.ground_truth import gt_scene_files, read_gt
from folk.files import write_json
from folk.predict.submission import prediction_scene_files, read_submission


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate instance predictions (ScanNet200 / Replica AP, AP50, AP25)",
        description=(
            "Evaluate 3D instance predictions in the ScanNet submission format with the "
            "ScanNet200 / Replica protocol of OpenMask3D and Open-YOLO 3D (IoU 0.50:0.05:0.90 "
            "and 0.25, 100-vertex minimum). GT scenes without predictions count as predicting "
            "nothing; predicted scenes without GT are an error."
        ),
    )
    parser.add_argument(
        "--gt",
        required=True,
        type=Path,
        metavar="GT_DIR",
        help="folder of <scene>.txt, one label_id*1000+instance per vertex",
    )
    parser.add_argument(
        "--pred",
        required=True,
        type=Path,
        metavar="PRED_DIR",
        help="folder of <scene>.txt listing 'pred_mask/<file> <label_id> <conf>'",
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS,
                        help="benchmark whose class ids and labels --gt and --pred use")
    parser.add_argument(
        "--confidence-one",
        action="store_true",
        help="set every confidence to 1 (as OpenMask3D / Open-YOLO 3D report)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="OUT.json",
        help="also write every number (fractions in [0, 1]) to this JSON file",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    gt_files = gt_scene_files(args.gt)
    pred_files = prediction_scene_files(args.pred)
    if args.json is not None:
        check_output_file(args.json, "--json", inputs=[*gt_files.values(),
                                                       *pred_files.values()])
    extra = sorted(set(pred_files) - set(gt_files))
    if extra:
        raise FolkInputError(
            f"{len(extra)} predicted scene(s) have no ground truth in {args.gt}: "
            f"{', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}",
            args.pred,
        )
    evaluator = Evaluator(args.dataset, confidence_one=args.confidence_one)
    progress = sys.stderr.isatty()
    for i, (scene, gt_path) in enumerate(gt_files.items(), start=1):
        gt_ids = read_gt(gt_path)
        pred_path = pred_files.get(scene)
        prediction = None
        if pred_path is not None:
            prediction = read_submission(pred_path, gt_ids.shape[0], root=args.pred)
        evaluator.add_scene(scene, gt_ids, prediction, path=pred_path)
        if progress:
            print(f"\rfolk eval: {i}/{len(gt_files)} scenes", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    result = evaluator.result()
    if result.missing_scenes:
        print(
            f"folk eval: warning: {len(result.missing_scenes)} scene(s) have no prediction file "
            f"and count as predicting nothing: {', '.join(result.missing_scenes[:5])}"
            f"{' ...' if len(result.missing_scenes) > 5 else ''}",
            file=sys.stderr,
        )
    print(result.table())
    if args.json is not None:
        write_json(args.json, result.to_dict())
    return 0
