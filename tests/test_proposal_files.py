"""One resolver of proposal file names: ``folk teacher`` finds the same masks and scores files
as ``folk distill`` / ``folk predict`` (folk.proposals.files.proposal_files) in any layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from folk.errors import FolkInputError
from folk.proposals.files import load_scene_proposals, proposal_files, proposal_scenes
from folk.teacher.cli import find_jobs

LAYOUTS = {
    "openmask3d": ("{s}_masks.npy", "{s}_scores.npy"),
    "bare-name": ("{s}.npy", None),
    "npz-scores-beside": ("{s}_masks.npz", "{s}_scores.npz"),
    "torch": ("{s}_masks.pt", "{s}_scores.pt"),
}


def make_layout(root: Path, masks_name: str, scores_name: str | None, scenes: list[str]):
    rng = np.random.default_rng(len(scenes))
    (root / "proposals").mkdir(parents=True)
    for scene in scenes:
        (root / scene / "color").mkdir(parents=True)
        masks = rng.random((23, 4)) < 0.5
        masks[0] = True  # no empty proposal
        path = root / "proposals" / masks_name.format(s=scene)
        scores = rng.random(4).astype(np.float32)
        if path.suffix == ".pt":
            import torch

            torch.save(torch.from_numpy(masks.astype(np.float32)), path)
        elif path.suffix == ".npz":
            np.savez(path, masks=masks)
        else:
            np.save(path, masks)
        if scores_name is not None:
            spath = root / "proposals" / scores_name.format(s=scene)
            if spath.suffix == ".pt":
                import torch

                torch.save(torch.from_numpy(scores), spath)
            elif spath.suffix == ".npz":
                np.savez(spath, scores=scores)
            else:
                np.save(spath, scores)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_teacher_resolves_the_files_predict_reads(tmp_path, layout):
    scenes = ["scene0007_01", "room2"]
    make_layout(tmp_path, *LAYOUTS[layout], scenes)
    jobs = {j.name: j for j in find_jobs([tmp_path], None, "scannet", None)}
    assert sorted(jobs) == sorted(scenes) == proposal_scenes(tmp_path / "proposals")
    for scene in scenes:
        masks, scores = proposal_files(tmp_path / "proposals", scene)
        assert (jobs[scene].proposals, jobs[scene].scores) == (masks, scores)
        loaded = load_scene_proposals(tmp_path / "proposals", scene, 23, allow_pickle=True)
        assert loaded.num_proposals == 4


def test_teacher_without_proposals_names_what_it_looked_for(tmp_path):
    (tmp_path / "s" / "color").mkdir(parents=True)
    (tmp_path / "proposals").mkdir()
    with pytest.raises(FolkInputError, match=r"no proposals for scene 's'"):
        find_jobs([tmp_path], None, "scannet", None)
    with pytest.raises(FolkInputError, match="proposals folder not found"):
        find_jobs([tmp_path / "s"], tmp_path / "missing", "scannet", None)
