"""Distillation: train the VL-adapter on teacher targets (docs/method.md §7).

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
from folk.files import append_json_line, atomic_open, write_json, write_json_lines
from folk.progress import Progress
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


# ---- the steps of a run -------------------------------------------------------------------

@dataclass
class _Best:
    """How ``best.pt`` is chosen, and the best epoch so far (1-based)."""

    metric: str  # "ap", "val_agreement" or "loss"
    epoch: int | None = None
    value: float | None = None

    @classmethod
    def for_run(cls, data: DistillData, ap_validator: Callable | None) -> _Best:
        """By AP with a validator, else by label agreement on validation scenes, else by the
        training loss."""
        return cls("ap" if ap_validator is not None
                   else "val_agreement" if data.val.num_valid else "loss")

    @property
    def higher(self) -> bool:
        return self.metric != "loss"

    def update(self, entry: dict[str, Any], history: list[dict[str, Any]]) -> bool:
        """Record ``entry`` (the last of ``history``) when it beats the best epoch: by the
        metric; on a tie (label agreement often saturates early on easy data) by the lower
        validation loss. Returns whether it did."""
        value = entry.get(self.metric)
        if value is None:
            return False
        if self.epoch is not None and not self._beats(entry, history[self.epoch - 1]):
            return False
        self.epoch, self.value = int(entry["epoch"]), float(value)
        return True

    def _beats(self, entry: dict[str, Any], best: dict[str, Any]) -> bool:
        value, old = entry[self.metric], best[self.metric]
        if value != old:
            return value > old if self.higher else value < old
        tie_loss, best_loss = entry.get("val_loss"), best.get("val_loss")
        return tie_loss is not None and best_loss is not None and tie_loss < best_loss

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "epoch": self.epoch, "value": self.value}


def _new_model(data: DistillData, config: DistillConfig, dev: torch.device,
               ) -> tuple[VLAdapter, torch.optim.Optimizer]:
    """The adapter initialised from ``config.seed``, and its optimizer."""
    if data.text_embeddings.shape[1] != data.train.targets.shape[1]:
        raise FolkInputError("teacher targets and text embeddings differ in dimension")
    torch.manual_seed(config.seed)
    model = VLAdapter(data.feature_dim, config.hidden, data.target_dim, config.activation)
    model.to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    return model, optimizer


def _restore(out_dir: Path, resume: bool, config: DistillConfig, description: dict[str, Any],
             model: VLAdapter, optimizer: torch.optim.Optimizer, best: _Best,
             log: Callable[[str], None]) -> tuple[list[dict[str, Any]], int]:
    """``(history, epochs done)``: of ``last.pt`` when resuming (weights, optimizer, RNG and
    best epoch restored, after checking the run had the same settings and data), else empty.
    A directory that holds a run is only continued with ``resume``."""
    last = out_dir / "last.pt"
    if not last.exists():
        if resume:
            log(f"folk distill: nothing to resume in {out_dir}; starting from scratch")
        return [], 0
    if not resume:
        raise FolkInputError("holds a run already (last.pt): pass --resume to continue it "
                             "or choose another output directory", out_dir)
    state = load_training_checkpoint(last)
    diffs = _differences(state["config"], config.to_dict())
    diffs += _differences(state["data"], description)
    diffs += _differences({"best metric": state["best"]["metric"]}, {"best metric": best.metric})
    if diffs:
        raise FolkInputError("cannot resume: the run was started with other settings or data ("
                             + "; ".join(diffs[:6]) + ")", last)
    model.load_state_dict(state["adapter"]["state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    best.epoch, best.value = state["best"]["epoch"], state["best"]["value"]
    done = int(state["epoch"])
    log(f"folk distill: resuming after epoch {done} from {last}")
    return list(state["history"]), done


def _parallel(model: VLAdapter, dist: _Dist, dev: torch.device) -> torch.nn.Module:
    """The module the steps run: DistributedDataParallel over several processes."""
    if dist.world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)


def _write_run_files(out_dir: Path, config: DistillConfig, data: DistillData,
                     description: dict[str, Any], processes: int) -> None:
    """``config.json`` and the vocabulary's ``text_embeddings.npz`` (what predict reads)."""
    from folk.data.vocabulary import (
        CHECKPOINT_TEXT_EMBEDDINGS,
        TextEmbeddings,
        save_text_embeddings,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "config.json", {"config": config.to_dict(), "data": description,
                                         "teacher": data.teacher_meta, "processes": processes})
    save_text_embeddings(out_dir / CHECKPOINT_TEXT_EMBEDDINGS, TextEmbeddings(
        data.vocabulary, data.text_embeddings, _clip_info(data.teacher_meta).get("identity", "")))


def _adapter_meta(data: DistillData, config: DistillConfig) -> dict[str, Any]:
    """What the checkpoint tells prediction: τ_l, the features, the CLIP and its prompt."""
    return {"tau_l": config.tau_l, "features": data.feature_name,
            "clip": _clip_info(data.teacher_meta),
            "template": str(data.teacher_meta.get("template") or ""),
            "vocabulary_trained": len(data.vocabulary)}


class _Batches:
    """The training table on the device and the batch order: epoch ``e`` visits the rows in
    an order drawn from a generator seeded by ``(seed, e)``; at step ``s`` process ``r`` takes
    batch ``s·K + r`` of that order (wrapping around)."""

    def __init__(self, data: DistillData, config: DistillConfig, dist: _Dist,
                 dev: torch.device):
        self.x = torch.from_numpy(data.train.pooled).to(dev)
        self.targets = torch.from_numpy(data.train.targets).to(dev)
        self.labels = torch.from_numpy(data.train.labels).to(dev)
        self.text = torch.from_numpy(data.text_embeddings).to(dev)
        self.rows = data.train.num_rows
        self.size, self.seed, self.dev, self.dist = config.batch_proposals, config.seed, dev, dist
        self.num_batches = math.ceil(self.rows / self.size)
        self.steps = math.ceil(self.num_batches / dist.world)  # per epoch

    def order(self, epoch: int) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.rows, generator=g).split(self.size)

    def rows_of(self, order: tuple[torch.Tensor, ...], step: int) -> torch.Tensor:
        return order[(step * self.dist.world + self.dist.rank) % self.num_batches].to(self.dev)


def _train_epoch(module: torch.nn.Module, optimizer: torch.optim.Optimizer, batches: _Batches,
                 config: DistillConfig, epoch: int, dist: _Dist) -> dict[str, Any]:
    """One pass over the training table; the epoch's mean losses (over processes) and the
    last learning rate."""
    module.train()
    order = batches.order(epoch)
    total_steps = batches.steps * config.epochs
    sums, count = np.zeros(3), 0
    for step in range(batches.steps):
        lr = learning_rate(config, epoch * batches.steps + step, total_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = batches.rows_of(order, step)
        terms = distillation_loss(module(batches.x[idx]), batches.targets[idx],
                                  batches.labels[idx], batches.text,
                                  lambda_con=config.lambda_con, lambda_ce=config.lambda_ce,
                                  tau_c=config.tau_c, tau_l=config.tau_l)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        value = float(terms.total.detach())
        sums += terms.count * np.array([value, float(terms.contrastive), float(terms.label)])
        count += terms.count
    loss, con, ce = dist.mean(list(sums / max(count, 1)))
    return {"epoch": epoch + 1, "loss": loss, "loss_con": con, "loss_ce": ce, "lr": lr}


def _save_epoch(out_dir: Path, model: VLAdapter, optimizer: torch.optim.Optimizer,
                meta: dict[str, Any], config: DistillConfig, description: dict[str, Any],
                history: list[dict[str, Any]], best: _Best, improved: bool) -> None:
    """``last.pt`` (and ``best.pt`` when the epoch improved) with everything a bitwise resume
    needs, each written atomically, and the epoch's line appended to ``history.jsonl``."""
    state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
             "epoch": int(history[-1]["epoch"]), "adapter": adapter_state(model, meta),
             "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(),
             "config": config.to_dict(), "data": description, "history": history,
             "best": best.to_dict()}
    if improved:
        _save(out_dir / "best.pt", state)
    _save(out_dir / "last.pt", state)
    append_json_line(out_dir / "history.jsonl", history[-1])


def _epoch_line(entry: dict[str, Any], config: DistillConfig, improved: bool) -> str:
    shown = ", ".join(f"{k} {v:.4f}" for k, v in entry.items()
                      if isinstance(v, float) and k not in ("lr", "seconds"))
    return (f"epoch {entry['epoch']}/{config.epochs}: {shown} ({entry['seconds']:.1f} s)"
            f"{' *' if improved else ''}")


# ---- training ------------------------------------------------------------------------------

def distill(data: DistillData, config: DistillConfig, out_dir: str | Path, *,
            resume: bool = False, progress: bool = True, device: str | None = "cpu",
            ap_validator: Callable[[VLAdapter], dict] | None = None,
            stop_after_epochs: int | None = None,
            log: Callable[[str], None] | None = print, verbose: bool = False) -> TrainResult:
    """Train (or resume training) the adapter; write ``last.pt``, ``best.pt``,
    ``history.jsonl``, ``config.json`` and ``text_embeddings.npz`` into ``out_dir``.

    ``progress``: a bar over the epochs (lines in a log, :class:`folk.progress.Progress`);
    ``verbose``: also one ``log`` line per epoch (losses, validation metrics, seconds).

    ``best.pt`` is chosen by AP when ``ap_validator`` is given (any callable from the adapter
    to ``{"ap": ...}``, e.g. :class:`folk.evaluation.validation.APValidator`), else by
    validation label agreement when there are validation scenes (ties: lower validation
    loss), else by the training loss. ``stop_after_epochs``: train at most this many epochs in
    this call (for time-limited job slots; continue with ``resume=True``).
    """
    config = config.validate()
    out_dir = Path(out_dir)
    dev = _device(device)
    dist = _distributed(dev)
    log = log if (log is not None and dist.main) else (lambda _msg: None)
    try:
        description = _data_description(data)
        model, optimizer = _new_model(data, config, dev)
        best = _Best.for_run(data, ap_validator)
        history, done = _restore(out_dir, resume, config, description, model, optimizer, best,
                                 log)
        module = _parallel(model, dist, dev)
        if dist.main:
            _write_run_files(out_dir, config, data, description, dist.world)
            # the epochs of last.pt (a resume drops any line appended after it was written)
            write_json_lines(out_dir / "history.jsonl", history)
        batches = _Batches(data, config, dist, dev)
        meta = _adapter_meta(data, config)
        end = config.epochs if stop_after_epochs is None else min(
            config.epochs, done + max(int(stop_after_epochs), 0))
        bar = Progress(desc="distill", total=end - done, unit="epoch",
                       enabled=progress and dist.main, per_item=False)
        say = bar.write if log is print else log  # printed lines go above a bar
        for epoch in range(done, end):
            t0 = time.perf_counter()
            entry = _train_epoch(module, optimizer, batches, config, epoch, dist)
            if dist.main:
                entry.update(validate(model, data, config, dev))
                if ap_validator is not None:
                    entry.update(ap_validator(model))
                entry["seconds"] = time.perf_counter() - t0
                history.append(_plain(entry))
                improved = best.update(history[-1], history)
                _save_epoch(out_dir, model, optimizer, meta, config, description, history, best,
                            improved)
                bar.set_postfix_str(f"loss {history[-1]['loss']:.4f}")
                bar.update()
                if verbose:
                    say(_epoch_line(history[-1], config, improved))
            else:
                history.append(entry)
            dist.barrier()
        bar.close()
        model.eval()
        return TrainResult(out_dir, end - done, history, best.metric, best.epoch, best.value,
                           model)
    finally:
        dist.close()
