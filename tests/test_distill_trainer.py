"""Distillation training: it learns, it is reproducible, resume is exact, DDP runs."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from distill_toy import make_toy

from folk.distill import DistillConfig, distill, load_distill_data
from folk.errors import FolkInputError
from folk.student import load_adapter
from folk.student.inputs import SceneInputs

TRAIN = ["scene_a", "scene_b", "scene_c", "scene_d"]
VAL = ["scene_v1", "scene_v2"]
CONFIG = DistillConfig(hidden=32, epochs=6, batch_proposals=8, lr=5e-3, seed=3)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    make_toy(root, TRAIN + VAL)
    return root


def _data(root: Path):
    inputs = SceneInputs(root / "features", root / "proposals")
    return load_distill_data(root / "targets", inputs, TRAIN, VAL)


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_bitwise_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        assert torch.equal(v, b[k]), k


def test_data_keeps_only_proposals_with_teacher_view_for_training(toy):
    data = _data(toy)
    assert data.train.num_rows == 4 * 9  # 10 proposals per scene, one without view
    assert (data.train.labels >= 0).all()
    assert data.val.num_rows == 2 * 10 and data.val.num_valid == 2 * 9
    assert data.feature_dim == 8 and data.target_dim == 16


def test_training_learns_teacher_labels_and_writes_checkpoints(toy, tmp_path):
    result = distill(_data(toy), CONFIG.replace(epochs=12), tmp_path, progress=False, log=None)
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    history = [json.loads(line) for line in lines]
    assert [h["epoch"] for h in history] == list(range(1, 13))
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["val_agreement"] >= 0.9
    assert result.best_metric == "val_agreement"
    for name in ("last.pt", "best.pt", "config.json", "text_embeddings.npz"):
        assert (tmp_path / name).is_file(), name
    _, meta = load_adapter(tmp_path / "best.pt", in_dim=8, out_dim=16)
    assert meta["tau_l"] == CONFIG.tau_l and meta["features"] == "file"


def test_same_seed_gives_identical_weights_and_another_seed_does_not(toy, tmp_path):
    data = _data(toy)
    cfg = CONFIG.replace(epochs=2)
    a = distill(data, cfg, tmp_path / "a", progress=False, log=None)
    b = distill(data, cfg, tmp_path / "b", progress=False, log=None)
    c = distill(data, cfg.replace(seed=4), tmp_path / "c", progress=False, log=None)
    _assert_bitwise_equal(_weights(a.model), _weights(b.model))
    assert not torch.equal(a.model.mlp[0].weight, c.model.mlp[0].weight)


def test_resume_reproduces_uninterrupted_run_bitwise(toy, tmp_path):
    data = _data(toy)
    full = distill(data, CONFIG, tmp_path / "full", progress=False, log=None)
    part = distill(data, CONFIG, tmp_path / "split", progress=False, log=None,
                   stop_after_epochs=2)
    assert part.epochs_run == 2
    resumed = distill(data, CONFIG, tmp_path / "split", resume=True, progress=False, log=None)
    assert resumed.epochs_run == CONFIG.epochs - 2
    _assert_bitwise_equal(_weights(full.model), _weights(resumed.model))
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]
    # history.jsonl, appended per epoch across the two calls, holds each epoch once
    split_lines = [json.loads(x) for x in (tmp_path / "split" / "history.jsonl").open()]
    assert [h["loss"] for h in split_lines] == [h["loss"] for h in full.history]
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])


def test_resume_refuses_other_settings_and_fresh_run_refuses_existing_run(toy, tmp_path):
    data = _data(toy)
    distill(data, CONFIG.replace(epochs=1), tmp_path, progress=False, log=None)
    with pytest.raises(FolkInputError, match="lr: 0.005 -> 0.001"):
        distill(data, CONFIG.replace(epochs=1, lr=1e-3), tmp_path, resume=True, progress=False,
                log=None)
    with pytest.raises(FolkInputError, match="pass --resume"):
        distill(data, CONFIG.replace(epochs=1), tmp_path, progress=False, log=None)


def test_targets_and_proposals_of_different_counts_are_rejected(toy, tmp_path):
    bad = tmp_path / "proposals"
    bad.mkdir()
    masks = np.load(toy / "proposals" / "scene_a_masks.npy")
    np.save(bad / "scene_a_masks.npy", masks[:, :9])
    inputs = SceneInputs(toy / "features", bad)
    with pytest.raises(FolkInputError, match="10 teacher targets but 9 proposals"):
        load_distill_data(toy / "targets", inputs, ["scene_a"])


def test_features_of_another_point_count_are_rejected(toy, tmp_path):
    feats = tmp_path / "features"
    feats.mkdir()
    np.save(feats / "scene_a.npy", np.zeros((5, 8), np.float32))
    inputs = SceneInputs(feats, toy / "proposals")
    with pytest.raises(FolkInputError, match="features for 5 points but the scene has 207"):
        load_distill_data(toy / "targets", inputs, ["scene_a"])


def test_overlapping_train_and_val_scenes_are_rejected(toy):
    inputs = SceneInputs(toy / "features", toy / "proposals")
    with pytest.raises(FolkInputError, match="both training and validation"):
        load_distill_data(toy / "targets", inputs, ["scene_a"], ["scene_a"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    data = _data(Path(root))
    result = distill(data, CONFIG.replace(epochs=2), Path(out) / "run", progress=False,
                     device="cpu", log=None)
    torch.save(_weights(result.model), Path(out) / f"rank{rank}.pt")


def test_ddp_two_processes_keep_identical_weights_and_rank0_writes_checkpoint(toy, tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), str(toy), str(tmp_path)), nprocs=2, join=True)
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    _assert_bitwise_equal(w0, w1)
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    _assert_bitwise_equal(ckpt["adapter"]["state_dict"], w0)
    assert ckpt["epoch"] == 2
    # Each step saw two different batches: the weights differ from a one-process run.
    single = distill(_data(toy), CONFIG.replace(epochs=2), tmp_path / "single", progress=False,
                     log=None)
    assert not torch.equal(single.model.mlp[0].weight, w0["mlp.0.weight"])


def test_ap_validation_scores_the_student_with_the_benchmark_protocol(tmp_path):
    from distill_toy import CLASSES

    from folk.data.classes import load_class_list
    from folk.evaluation.validation import APValidator

    info = make_toy(tmp_path, ["t1", "t2", "v1"], points_each=100)  # the evaluator needs >= 100
    ids = [load_class_list("scannet200").id_of(c) for c in CLASSES]
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    classes = info["classes"]["v1"]
    gt = np.zeros(10 * 100 + 7, np.int64)
    for q, c in enumerate(classes):
        gt[q * 100:(q + 1) * 100] = ids[c] * 1000 + q + 1
    np.savetxt(gt_dir / "v1.txt", gt, fmt="%d")
    inputs = SceneInputs(tmp_path / "features", tmp_path / "proposals")
    data = load_distill_data(tmp_path / "targets", inputs, ["t1", "t2"], ["v1"])
    validator = APValidator(inputs, ["v1"], gt_dir, "scannet200", data.text_embeddings, ids,
                            CONFIG.tau_l)
    result = distill(data, CONFIG.replace(epochs=12), tmp_path / "run", progress=False,
                     ap_validator=validator, log=None)
    assert result.best_metric == "ap"
    assert result.history[-1]["val_agreement"] == 1.0
    assert result.history[-1]["ap"] == pytest.approx(1.0)  # masks are the GT, labels right
