"""Distillation: train the VL-adapter on teacher targets (METHOD.md §7).

Only the adapter is trained; the point features are frozen, so each proposal's segment mean is
computed once when the data is loaded (:mod:`folk.distill.data`) and an epoch is a pass over
those pooled vectors in batches of ``batch_proposals`` proposals.

Reproducibility: the weights are initialised from ``seed``; epoch ``e`` visits the proposals in
an order drawn from a generator seeded by ``(seed, e)``; the learning rate is a function of the
step. A run resumed from ``last.pt`` (written atomically after every epoch, with optimizer and
RNG state) therefore ends with bitwise the same weights as an uninterrupted one.

Several processes (``torchrun --nproc_per_node=K -m folk.cli distill ...``): DistributedDataParallel
on gloo (CPU) or NCCL (GPU). Each step, process ``r`` takes batch ``step·K + r`` of the epoch's
order (wrapping around at the end), gradients are averaged, so a step sees K batches; the
InfoNCE negatives stay within each process's batch. Rank 0 validates and writes files.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from folk.distill.config import DistillConfig
from folk.distill.data import DistillData
from folk.distill.loss import distillation_loss
from folk.errors import FolkInputError
from folk.files import atomic_open, write_json
from folk.student.model import VLAdapter, adapter_state

CHECKPOINT_FORMAT = "folk-distill"
CHECKPOINT_VERSION = 1


@dataclass
class TrainResult:
    out_dir: Path
    epochs_run: int  # epochs trained by this call (0 when a resumed run was already complete)
    history: list[dict[str, Any]]
    best_metric: str
    best_epoch: int | None
    best_value: float | None
    model: VLAdapter = field(repr=False, default=None)


def learning_rate(config: DistillConfig, step: int, total_steps: int) -> float:
    """Learning rate at global step ``step`` (0-based) of ``total_steps``."""
    if config.lr_schedule == "constant" or total_steps <= 1:
        return config.lr
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))


# ---- distributed ---------------------------------------------------------------------------

@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    owned: bool = False  # this module initialised the process group

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def mean(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return [float(v) for v in values]
        t = torch.tensor(values, dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return (t / self.world).tolist()

    def close(self) -> None:
        if self.owned:
            torch.distributed.destroy_process_group()


def _distributed(device: torch.device) -> _Dist:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return _Dist(dist.get_rank(), dist.get_world_size(), False)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    return _Dist(dist.get_rank(), dist.get_world_size(), True)


def _device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    return torch.device(device)


# ---- validation ----------------------------------------------------------------------------

@torch.no_grad()
def validate(model: VLAdapter, data: DistillData, config: DistillConfig,
             device: torch.device | str = "cpu") -> dict[str, float | None]:
    """Label agreement with the teacher (fraction of validation proposals with a teacher view
    whose argmax_c cos(f, t_c) is the teacher's label) and the loss on those proposals (one
    InfoNCE per scene)."""
    val = data.val
    valid = val.labels >= 0
    if not valid.any():
        return {"val_agreement": None, "val_loss": None, "val_proposals": 0}
    model.eval()
    x = torch.from_numpy(val.pooled[valid]).to(device)
    f = model(x)
    text = torch.from_numpy(data.text_embeddings).to(device)
    labels = torch.from_numpy(val.labels[valid]).to(device)
    agree = float(((f @ text.T).argmax(dim=1) == labels).double().mean())
    targets = torch.from_numpy(val.targets[valid]).to(device)
    scene_of = val.scene_index[valid]
    total, count = 0.0, 0
    for s in np.unique(scene_of):
        rows = torch.from_numpy(np.flatnonzero(scene_of == s)).to(device)
        terms = distillation_loss(f[rows], targets[rows], labels[rows], text,
                                  lambda_con=config.lambda_con, lambda_ce=config.lambda_ce,
                                  tau_c=config.tau_c, tau_l=config.tau_l)
        total += float(terms.total) * terms.count
        count += terms.count
    return {"val_agreement": agree, "val_loss": total / count, "val_proposals": int(count)}


class APValidator:
    """AP of the student's predictions on validation scenes with GT (ScanNet200 protocol via
    :mod:`folk.evaluation`), as ``folk predict`` would make them. ``label_ids``: benchmark
    label id of each vocabulary entry.

    Everything that does not depend on the adapter — the proposals after NMS (as CSR), their
    pooled features, the GT — is computed once here, so an epoch's validation costs one adapter
    forward per scene and the evaluation.
    """

    def __init__(self, inputs, scenes: list[str], gt_dir: str | Path, dataset: str,
                 text_embeddings: np.ndarray, label_ids, tau_l: float,
                 nms_iou: float = 0.9, progress: bool = False):
        from tqdm import tqdm

        from folk.data.inputs import read_ground_truth
        from folk.proposals.csr import masks_to_csr
        from folk.proposals.nms import mask_nms
        from folk.student.segment_mean import segment_mean

        self.dataset = dataset
        self.text_embeddings = np.asarray(text_embeddings, dtype=np.float32)
        self.label_ids = np.asarray(label_ids, dtype=np.int64)
        self.tau_l = tau_l
        self.scenes: dict[str, tuple] = {}
        for scene in tqdm(list(scenes), desc="AP validation scenes", disable=not progress):
            features, proposals = inputs.load(scene)
            gt = read_ground_truth(Path(gt_dir) / f"{scene}.txt", proposals.num_points).ids
            csr = masks_to_csr(proposals.masks)
            keep = mask_nms(None, proposals.scores, nms_iou, csr=csr)
            kept = csr.select(keep)
            pooled = (segment_mean(features.features, kept) if len(keep)
                      else np.zeros((0, features.dim), np.float32))
            self.scenes[scene] = (gt, kept, proposals.scores[keep], pooled)

    @torch.no_grad()
    def __call__(self, model: VLAdapter) -> dict[str, float | None]:
        from folk.evaluation.evaluator import Evaluator
        from folk.evaluation.prediction import InstancePrediction
        from folk.predict.predictor import classify_embeddings

        model.eval()
        device = next(model.parameters()).device
        ev = Evaluator(self.dataset)
        for scene, (gt, kept, scores, pooled) in self.scenes.items():
            emb = model(torch.from_numpy(pooled).to(device)).cpu().numpy()
            order, cls, _, conf = classify_embeddings(emb, scores, self.text_embeddings,
                                                      self.tau_l)
            masks = kept.to_masks()[:, order].T
            ev.add_scene(scene, gt, InstancePrediction(masks, self.label_ids[cls], conf))
        r = ev.result()
        return {"ap": r.ap, "ap50": r.ap50, "ap25": r.ap25}


# ---- checkpoints ---------------------------------------------------------------------------

def _clip_info(teacher_meta: dict[str, Any]) -> dict[str, str]:
    """The CLIP the teacher used (model, pretrained tag, identity), as plain strings."""
    clip = teacher_meta.get("clip")
    if not isinstance(clip, dict):
        return {}
    return {k: str(clip[k]) for k in ("model", "pretrained", "identity") if clip.get(k)}


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    """Python numbers only (checkpoints are read with ``weights_only=True``)."""
    out = {}
    for k, v in entry.items():
        if isinstance(v, (np.floating, float)):
            v = float(v)
        elif isinstance(v, (np.integer, int)) and not isinstance(v, bool):
            v = int(v)
        out[k] = v
    return out


def _data_description(data: DistillData) -> dict[str, Any]:
    return {"train_scenes": list(data.train.scenes), "val_scenes": list(data.val.scenes),
            "vocabulary": list(data.vocabulary), "feature_dim": int(data.feature_dim),
            "target_dim": int(data.target_dim), "features": data.feature_name,
            "train_proposals": int(data.train.num_rows)}


def _save(path: Path, state: dict[str, Any]) -> None:
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def load_training_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise FolkInputError(f"unreadable training checkpoint ({exc.__class__.__name__})",
                             path) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise FolkInputError("not a folk distill checkpoint", path)
    if state.get("version") != CHECKPOINT_VERSION:
        raise FolkInputError(f"checkpoint version {state.get('version')}, this folk reads "
                             f"{CHECKPOINT_VERSION}", path)
    return state


def _differences(saved: dict, now: dict) -> list[str]:
    keys = sorted(set(saved) | set(now))
    return [f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in keys if saved.get(k) != now.get(k)]


# ---- training ------------------------------------------------------------------------------

def _better(entry: dict[str, Any], metric: str, higher: bool, history: list[dict[str, Any]],
            best_epoch: int | None) -> bool:
    """Whether ``entry`` beats the best epoch so far: by ``metric``; on a tie (label agreement
    often saturates early on easy data) by the lower validation loss."""
    value = entry.get(metric)
    if value is None:
        return False
    if best_epoch is None:
        return True
    best = history[best_epoch - 1]
    if value != best[metric]:
        return value > best[metric] if higher else value < best[metric]
    tie_loss, best_loss = entry.get("val_loss"), best.get("val_loss")
    return tie_loss is not None and best_loss is not None and tie_loss < best_loss


def distill(data: DistillData, config: DistillConfig, out_dir: str | Path, *,
            resume: bool = False, progress: bool = True, device: str | None = "cpu",
            ap_validator: Callable[[VLAdapter], dict] | None = None,
            stop_after_epochs: int | None = None,
            log: Callable[[str], None] | None = print) -> TrainResult:
    """Train (or resume training) the adapter; write ``last.pt``, ``best.pt``,
    ``history.json``, ``config.json`` and ``text_embeddings.npz`` into ``out_dir``.

    ``best.pt`` is chosen by AP when ``ap_validator`` is given, else by validation label
    agreement when there are validation scenes (ties: lower validation loss), else by the
    training loss.
    ``stop_after_epochs``: train at most this many epochs in this call (for time-limited job
    slots; continue with ``resume=True``).
    """
    from tqdm import tqdm

    config = config.validate()
    out_dir = Path(out_dir)
    dev = _device(device)
    dist = _distributed(dev)
    log = log if (log is not None and dist.main) else (lambda _msg: None)
    try:
        last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
        description = _data_description(data)
        if data.text_embeddings.shape[1] != data.train.targets.shape[1]:
            raise FolkInputError("teacher targets and text embeddings differ in dimension")

        torch.manual_seed(config.seed)
        model = VLAdapter(data.feature_dim, config.hidden, data.target_dim, config.activation)
        model.to(dev)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                      weight_decay=config.weight_decay)
        history: list[dict[str, Any]] = []
        metric = ("ap" if ap_validator is not None
                  else "val_agreement" if data.val.num_valid else "loss")
        higher = metric != "loss"
        best_epoch, best_value = None, None
        start_epoch = 0

        if last_path.exists() and not resume:
            raise FolkInputError("holds a run already (last.pt): pass --resume to continue it "
                                 "or choose another output directory", out_dir)
        if resume and last_path.exists():
            state = load_training_checkpoint(last_path)
            diffs = _differences(state["config"], config.to_dict())
            diffs += _differences(state["data"], description)
            diffs += _differences({"best metric": state["best"]["metric"]},
                                  {"best metric": metric})
            if diffs:
                raise FolkInputError("cannot resume: the run was started with other settings or "
                                     "data (" + "; ".join(diffs[:6]) + ")", last_path)
            model.load_state_dict(state["adapter"]["state_dict"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
            history = list(state["history"])
            start_epoch = int(state["epoch"])
            best_epoch, best_value = state["best"]["epoch"], state["best"]["value"]
            log(f"folk distill: resuming after epoch {start_epoch} from {last_path}")
        elif resume:
            log(f"folk distill: nothing to resume in {out_dir}; starting from scratch")

        ddp_model = model
        if dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ddp_model = DistributedDataParallel(
                model, device_ids=[dev.index] if dev.type == "cuda" else None)

        if dist.main:
            out_dir.mkdir(parents=True, exist_ok=True)
            write_json(out_dir / "config.json", {"config": config.to_dict(), "data": description,
                                                 "teacher": data.teacher_meta,
                                                 "processes": dist.world})
            from folk.data.vocabulary import TextEmbeddings, save_text_embeddings

            save_text_embeddings(out_dir / "text_embeddings.npz", TextEmbeddings(
                data.vocabulary, data.text_embeddings,
                _clip_info(data.teacher_meta).get("identity", "")))

        x_all = torch.from_numpy(data.train.pooled).to(dev)
        e_all = torch.from_numpy(data.train.targets).to(dev)
        y_all = torch.from_numpy(data.train.labels).to(dev)
        text = torch.from_numpy(data.text_embeddings).to(dev)
        m = data.train.num_rows
        num_batches = math.ceil(m / config.batch_proposals)
        steps = math.ceil(num_batches / dist.world)
        total_steps = steps * config.epochs
        meta = {"tau_l": config.tau_l, "features": data.feature_name,
                "clip": _clip_info(data.teacher_meta),
                "template": str(data.teacher_meta.get("template") or ""),
                "vocabulary_trained": len(data.vocabulary)}

        end_epoch = config.epochs
        if stop_after_epochs is not None:
            end_epoch = min(end_epoch, start_epoch + max(int(stop_after_epochs), 0))
        for epoch in range(start_epoch, end_epoch):
            t0 = time.perf_counter()
            model.train()
            g = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
            batches = torch.randperm(m, generator=g).split(config.batch_proposals)
            sums = np.zeros(3)
            count = 0
            bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{config.epochs}", unit="step",
                       disable=not (progress and dist.main), leave=False)
            for step in bar:
                lr = learning_rate(config, epoch * steps + step, total_steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                idx = batches[(step * dist.world + dist.rank) % num_batches].to(dev)
                f = ddp_model(x_all[idx])
                terms = distillation_loss(f, e_all[idx], y_all[idx], text,
                                          lambda_con=config.lambda_con,
                                          lambda_ce=config.lambda_ce, tau_c=config.tau_c,
                                          tau_l=config.tau_l)
                optimizer.zero_grad(set_to_none=True)
                terms.total.backward()
                optimizer.step()
                value = float(terms.total.detach())
                sums += terms.count * np.array([value, float(terms.contrastive),
                                                float(terms.label)])
                count += terms.count
                bar.set_postfix(loss=f"{value:.4f}")
            bar.close()
            loss, con, ce = dist.mean(list(sums / max(count, 1)))
            entry: dict[str, Any] = {"epoch": epoch + 1, "loss": loss, "loss_con": con,
                                     "loss_ce": ce, "lr": lr}
            if dist.main:
                entry.update(validate(model, data, config, dev))
                if ap_validator is not None:
                    entry.update(ap_validator(model))
                entry["seconds"] = time.perf_counter() - t0
                entry = _plain(entry)
                history.append(entry)
                value = entry.get(metric)
                improved = _better(entry, metric, higher, history, best_epoch)
                if improved:
                    best_epoch, best_value = epoch + 1, float(value)
                state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                         "epoch": epoch + 1, "adapter": adapter_state(model, meta),
                         "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(),
                         "config": config.to_dict(), "data": description, "history": history,
                         "best": {"metric": metric, "epoch": best_epoch, "value": best_value}}
                if improved:
                    _save(best_path, state)
                _save(last_path, state)
                write_json(out_dir / "history.json", history)
                shown = ", ".join(f"{k} {v:.4f}" for k, v in entry.items()
                                  if isinstance(v, float) and k not in ("lr", "seconds"))
                log(f"epoch {epoch + 1}/{config.epochs}: {shown} "
                    f"({entry['seconds']:.1f} s){' *' if improved else ''}")
            else:
                history.append(entry)
            dist.barrier()
        model.eval()
        return TrainResult(out_dir, end_epoch - start_epoch, history, metric, best_epoch,
                           best_value, model)
    finally:
        dist.close()
