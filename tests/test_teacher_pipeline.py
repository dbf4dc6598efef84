"""The teacher end to end on a small synthetic scene, resuming, sharding, reporting."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from folk.data import ProposalMembership, read_proposals, read_scene
from folk.data.scene import Proposals, Scene
from folk.errors import FolkInputError
from folk.teacher.config import TeacherConfig, ViewSelectionConfig
from folk.teacher.pipeline import (
    SceneJob,
    Teacher,
    run_teacher,
    shard_jobs,
    targets_path,
)
from folk.teacher.targets import load_targets

SEED = 2002  # a held-out seed of the small CLIP's training (scripts/train_small_clip.py)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from folk.synthetic import VOCABULARY, generate_scene

    out = tmp_path_factory.mktemp("synth")
    s = generate_scene(out, seed=SEED, preset="small", progress=False, n_frames=30)
    meta = json.loads(s.meta_path.read_text())
    truth = [VOCABULARY.index(o["class_name"]) for o in meta["objects"]]
    return s, list(VOCABULARY), np.array(truth)


@pytest.fixture(scope="module")
def teacher(synth, tmp_path_factory):
    _, vocabulary, _ = synth
    cfg = TeacherConfig()
    cfg = TeacherConfig(clip=type(cfg.clip)(text_cache_dir=str(tmp_path_factory.mktemp("t"))))
    return Teacher(cfg, vocabulary)


def _job(s, name=None):
    return SceneJob(name or s.name, s.root, s.masks_path, s.scores_path, "scannet", 3)


def test_folk_teacher_labels_synthetic_objects(synth, teacher):
    s, _, truth = synth
    scene = read_scene(s.root, stride=3)
    proposals = read_proposals(s.masks_path, num_points=scene.num_points)
    t = teacher.run(scene, proposals)
    assert t.num_proposals == len(truth) and t.view_ids.shape[1] == 5
    assert (t.labels >= 0).all() and not t.meta["no_view"]
    assert (t.labels == truth).mean() >= 0.6  # chance: 1/16
    kept = t.view_ids[t.view_ids >= 0]
    assert np.isin(kept, scene.frame_ids).all()
    np.testing.assert_allclose(np.linalg.norm(t.targets, axis=1), 1.0, rtol=1e-5)
    # targets are the normalised mean of the agreeing views
    q = 0
    agree = t.view_labels[q] == t.labels[q]
    mean = t.view_embeddings[q][agree].mean(0)
    np.testing.assert_allclose(t.targets[q], mean / np.linalg.norm(mean), atol=1e-5)


def test_proposals_never_seen_are_reported_not_dropped(synth, teacher):
    s, _, truth = synth
    scene = read_scene(s.root, stride=3)
    proposals = read_proposals(s.masks_path, num_points=scene.num_points)
    hidden = np.full((150, 3), -500.0, np.float32)  # far below the floor: never visible
    scene2 = Scene(scene.name, np.concatenate([scene.points, hidden]),
                   np.concatenate([scene.colors, np.zeros((150, 3), np.uint8)]), scene.frames)
    masks = np.zeros((scene2.num_points, proposals.num_proposals + 1), bool)
    masks[:scene.num_points, :-1] = proposals.masks
    masks[scene.num_points:, -1] = True
    t = teacher.run(scene2, Proposals(masks, np.ones(masks.shape[1])))
    assert t.num_proposals == len(truth) + 1
    assert t.labels[-1] == -1 and t.meta["no_view"] == [len(truth)]
    assert not t.targets[-1].any() and (t.view_ids[-1] == -1).all()
    assert (t.labels[:-1] >= 0).all()


def test_openmask3d_baseline_runs_through_the_same_interface(synth, teacher):
    s, vocabulary, truth = synth
    cfg = TeacherConfig.openmask3d(clip=teacher.config.clip)
    base = Teacher(cfg, vocabulary, clip=teacher.clip)
    t = base.run(read_scene(s.root, stride=3), read_proposals(s.masks_path))
    assert t.meta["teacher"] == "openmask3d" and t.view_ids.shape[1] == 5
    assert (t.labels >= 0).all()
    assert (t.labels == truth).mean() >= 0.5


def test_run_resumes_skipping_finished_scenes_and_redoing_half_files(synth, teacher, tmp_path):
    s, vocabulary, _ = synth
    jobs = [_job(s, "sceneA"), _job(s, "sceneB"), _job(s, "sceneC")]
    out = tmp_path / "targets"
    done = []
    first = run_teacher(jobs[:1], out, teacher.config, vocabulary, clip=teacher.clip,
                        progress=False, on_scene=lambda n, t: done.append(n))
    assert first.done == ["sceneA"]
    stamp = targets_path(out, "sceneA").stat().st_mtime_ns
    # an interrupted run left a temp file for B and a truncated C
    (out / ".sceneB.npz.x1y2.tmp").write_bytes(b"PK\x03\x04")
    targets_path(out, "sceneC").write_bytes(b"PK\x03\x04 half")
    done.clear()
    second = run_teacher(jobs, out, teacher.config, vocabulary, clip=teacher.clip,
                         progress=False, on_scene=lambda n, t: done.append(n))
    assert second.skipped == ["sceneA"] and sorted(done) == ["sceneB", "sceneC"]
    assert targets_path(out, "sceneA").stat().st_mtime_ns == stamp
    for name in ("sceneB", "sceneC"):
        assert load_targets(targets_path(out, name)).scene == name


def test_shards_partition_the_scenes():
    jobs = [SceneJob(f"s{i}", None, None) for i in range(7)]
    parts = [shard_jobs(jobs, (i, 3)) for i in range(3)]
    names = sorted(j.name for p in parts for j in p)
    assert names == sorted(j.name for j in jobs)
    assert all(len(p) in (2, 3) for p in parts)
    with pytest.raises(FolkInputError):
        shard_jobs(jobs, (3, 3))


def test_cli_writes_targets_and_skips_on_rerun(synth, tmp_path, capsys):
    from folk.cli import main

    s, _, _ = synth
    scenes = tmp_path / "scenes"
    shutil.copytree(s.root, scenes / s.name)
    args = [str(scenes), "--proposals", str(s.masks_path.parent), "--out", str(tmp_path / "o"),
            "--vocabulary", "synthetic", "--stride", "6", "--quiet", "--k", "2",
            "--text-cache-dir", str(tmp_path / "cache")]
    assert main(["teacher", *args]) == 0
    t = load_targets(targets_path(tmp_path / "o", s.name))
    assert t.view_ids.shape[1] == 2 and t.meta["config"]["views"]["k"] == 2
    assert main(["teacher", *args]) == 0
    assert "1 already finished" in capsys.readouterr().out


def test_cli_missing_checkpoint_is_a_clear_error(synth, tmp_path, capsys):
    from folk.cli import main

    s, _, _ = synth
    code = main(["teacher", str(s.root), "--out", str(tmp_path), "--vocabulary", "synthetic",
                 "--clip-model", "ViT-B-16", "--clip-checkpoint", str(tmp_path / "none.pt")])
    assert code == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_view_selection_config_reaches_the_views(synth, teacher):
    s, vocabulary, _ = synth
    scene = read_scene(s.root, stride=3)
    cfg = TeacherConfig(views=ViewSelectionConfig(k=3, theta_deg=0.0), clip=teacher.config.clip)
    t = Teacher(cfg, vocabulary, clip=teacher.clip)
    counts = t.visibility(scene,
                          ProposalMembership.from_masks(read_proposals(s.masks_path).masks))
    views = t.select(scene, counts)
    # theta = 0: plain top-3 by visible points
    for q in range(views.shape[0]):
        top = np.argsort(-counts[:, q], kind="stable")[:3]
        top = top[counts[top, q] > 0]
        assert views[q][views[q] >= 0].tolist() == top.tolist()


def test_targets_made_with_other_settings_are_redone_not_reused(synth, teacher, tmp_path):
    s, vocabulary, _ = synth
    out = tmp_path / "targets"
    run_teacher([_job(s)], out, teacher.config, vocabulary, clip=teacher.clip, progress=False)
    same = run_teacher([_job(s)], out, teacher.config, vocabulary, clip=teacher.clip,
                       progress=False)
    assert same.skipped == [s.name] and not same.redone
    other_k = dataclasses.replace(teacher.config, views=dataclasses.replace(
        teacher.config.views, k=teacher.config.views.k + 1))
    redone = run_teacher([_job(s)], out, other_k, vocabulary, clip=teacher.clip,
                         progress=False)
    assert redone.done == [s.name] and redone.redone == {s.name: ["teacher.views.k"]}
    fewer_words = run_teacher([_job(s)], out, other_k, vocabulary[:-1], clip=teacher.clip,
                              progress=False)
    assert fewer_words.redone == {s.name: ["vocabulary"]}
    assert load_targets(targets_path(out, s.name)).vocabulary == vocabulary[:-1]
    other_stride = SceneJob(s.name, s.root, s.masks_path, s.scores_path, "scannet", 5)
    assert run_teacher([other_stride], out, other_k, vocabulary[:-1], clip=teacher.clip,
                       progress=False).redone == {s.name: ["stride"]}


def test_under_torchrun_each_rank_takes_its_share_by_itself(synth, tmp_path, capsys,
                                                           monkeypatch):
    from folk.cli import main

    s, _, _ = synth
    scenes, proposals = tmp_path / "scenes", tmp_path / "proposals"
    proposals.mkdir()
    for name in ("sceneA", "sceneB", "sceneC"):
        shutil.copytree(s.root, scenes / name)
        shutil.copy(s.masks_path, proposals / f"{name}_masks{s.masks_path.suffix}")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    args = [str(scenes), "--proposals", str(proposals), "--out", str(tmp_path / "o"),
            "--vocabulary", "synthetic", "--stride", "6", "--quiet", "--k", "2",
            "--text-cache-dir", str(tmp_path / "cache")]
    assert main(["teacher", *args]) == 0
    assert sorted(p.name for p in (tmp_path / "o").glob("*.npz")) == ["sceneB.npz"]
    assert "shard 1 of 2: 1 of 3 scene(s)" in capsys.readouterr().err
    assert main(["teacher", *args, "--shard", "0/2"]) == 2
    assert "give one or the other" in capsys.readouterr().err


def test_a_launchers_local_rank_picks_the_gpu():
    import argparse

    from folk.teacher.cli import shard_and_device

    args = argparse.Namespace(shard=None, device="cuda")
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    assert shard_and_device(args, env) == ((3, 4), "cuda:1")
    assert shard_and_device(args, {}) == ((0, 1), "cuda")
    args = argparse.Namespace(shard=(1, 2), device="cuda:0")
    assert shard_and_device(args, {}) == ((1, 2), "cuda:0")
    assert shard_and_device(args, {"RANK": "0", "WORLD_SIZE": "1"}) == ((1, 2), "cuda:0")
    with pytest.raises(FolkInputError, match="LOCAL_RANK='x'"):
        shard_and_device(argparse.Namespace(shard=None, device="cuda"),
                         {**env, "LOCAL_RANK": "x"})
