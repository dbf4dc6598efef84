"""The AP of a student during distillation: its predictions on validation scenes with GT,
made as ``folk predict`` makes them and scored with the benchmark protocol.

The trainer (:func:`folk.distill.trainer.distill`) does not import this module: it takes any
``Callable[[VLAdapter], dict]`` as ``ap_validator``, and the command line (``folk distill
--gt``) hands it an :class:`APValidator` (see :mod:`folk.layers`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from folk.data.classes import load_class_list
from folk.data.inputs import read_ground_truth
from folk.errors import FolkInputError
from folk.evaluation.evaluator import Evaluator
from folk.predict.instances import InstancePrediction
from folk.proposals.nms import DEFAULT_IOU, nms_membership
from folk.student.classify import classify_embeddings

if TYPE_CHECKING:
    from folk.student.inputs import SceneInputs
    from folk.student.model import VLAdapter


class APValidator:
    """AP of the student's predictions on validation scenes with GT (ScanNet200 protocol via
    :mod:`folk.evaluation`), as ``folk predict`` would make them. ``label_ids``: benchmark
    label id of each vocabulary entry; ``tau_l``: the classification temperature the student
    is trained with.

    Everything that does not depend on the adapter — the proposals after NMS, their pooled
    features, the GT — is computed once here, so an epoch's validation costs one adapter
    forward per scene and the evaluation. Calling it returns ``{"ap", "ap50", "ap25"}``.
    """

    def __init__(self, inputs: SceneInputs, scenes: list[str], gt_dir: str | Path,
                 dataset: str, text_embeddings: np.ndarray, label_ids, tau_l: float,
                 nms_iou: float = DEFAULT_IOU, progress: bool = False):
        from folk.ops.segment_mean import segment_mean
        from folk.progress import Progress

        self.dataset = dataset
        self.text_embeddings = np.asarray(text_embeddings, dtype=np.float32)
        self.label_ids = np.asarray(label_ids, dtype=np.int64)
        self.tau_l = tau_l
        self.scenes: dict[str, tuple] = {}
        for scene in Progress(list(scenes), desc="AP validation scenes", unit="scene",
                              enabled=progress, per_item=False):
            features, proposals = inputs.load(scene)
            gt = read_ground_truth(Path(gt_dir) / f"{scene}.txt", proposals.num_points).ids
            keep, kept = nms_membership(proposals, nms_iou)
            pooled = (segment_mean(features.features, kept) if len(keep)
                      else np.zeros((0, features.dim), np.float32))
            self.scenes[scene] = (gt, kept, proposals.scores[keep], pooled)

    @classmethod
    def for_dataset(cls, inputs: SceneInputs, scenes: list[str], gt_dir: str | Path,
                    dataset: str, vocabulary, text_embeddings: np.ndarray, tau_l: float,
                    nms_iou: float = DEFAULT_IOU, progress: bool = False) -> APValidator:
        """The validator of a student whose vocabulary (class names) are classes of the
        benchmark ``dataset`` (scannet200, replica); their label ids come from its list."""
        classes = load_class_list(dataset)
        missing = [n for n in vocabulary if n not in classes.names]
        if missing:
            raise FolkInputError(f"the teacher's vocabulary has names that are not {dataset} "
                                 f"classes, e.g. {missing[:5]}")
        return cls(inputs, scenes, gt_dir, dataset, text_embeddings,
                   [classes.id_of(n) for n in vocabulary], tau_l, nms_iou, progress)

    def __call__(self, model: VLAdapter) -> dict[str, float | None]:
        import torch

        model.eval()
        device = next(model.parameters()).device
        ev = Evaluator(self.dataset)
        for scene, (gt, kept, scores, pooled) in self.scenes.items():
            with torch.no_grad():
                emb = model(torch.from_numpy(pooled).to(device)).cpu().numpy()
            order, cls, _, conf = classify_embeddings(emb, scores, self.text_embeddings,
                                                      self.tau_l)
            masks = kept.to_masks()[:, order]
            ev.add_scene(scene, gt, InstancePrediction(masks, self.label_ids[cls], conf))
        r = ev.result()
        return {"ap": r.ap, "ap50": r.ap50, "ap25": r.ap25}
