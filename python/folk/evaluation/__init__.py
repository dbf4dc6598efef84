"""Evaluation: ScanNet200 / Replica 3D instance segmentation AP, as OpenMask3D, Open-YOLO 3D and
the FOLK paper compute it (ScanNet's ``evaluate_semantic_instance.py`` logic, vectorised).

In memory::

    from folk.evaluation import InstancePrediction, evaluate
    result = evaluate({"scene0011_00": gt_ids}, {"scene0011_00": InstancePrediction(
        masks,          # (N, K) bool, one column per instance
        label_ids,      # (Q,) benchmark label ids
        confidences,    # (Q,)
    )}, dataset="scannet200")
    print(result.table()); result.ap, result.ap50, result.head_ap; result.to_json()

From files: ``folk eval --gt GT_DIR --pred PRED_DIR --dataset scannet200`` (see docs/evaluation.md),
or :func:`read_gt`, :func:`read_submission` and :class:`Evaluator` one scene at a time.
"""

from folk.data.classes import DATASETS
from folk.evaluation.ap import IOU_THRESHOLDS, scannet_average_precision
from folk.evaluation.classes import DatasetClasses, load_classes
from folk.evaluation.evaluator import Evaluator, evaluate
from folk.evaluation.ground_truth import gt_scene_files, read_gt
from folk.evaluation.matching import MIN_REGION_SIZE
from folk.evaluation.result import EvalResult
from folk.predict.instances import InstancePrediction
from folk.predict.submission import prediction_scene_files, read_submission, write_submission

__all__ = [
    "DATASETS",
    "IOU_THRESHOLDS",
    "MIN_REGION_SIZE",
    "DatasetClasses",
    "EvalResult",
    "Evaluator",
    "InstancePrediction",
    "evaluate",
    "gt_scene_files",
    "load_classes",
    "prediction_scene_files",
    "read_gt",
    "read_submission",
    "scannet_average_precision",
    "write_submission",
]
