"""The command line starts light: building the parser and every ``--help`` import neither
PyTorch, open_clip nor Open3D, and ``folk views`` (geometry only) never imports PyTorch, even
on Mask3D's ``.pt`` proposal files. Checked on ``sys.modules`` in a fresh interpreter, not
by timing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import make_scannet_scene

from folk import cli

HEAVY = ("torch", "open_clip", "open3d")

PROBE = """
import json, sys
from folk.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def run_folk(*argv: str) -> dict:
    """``folk argv...`` in a fresh interpreter: its exit code and the heavy modules loaded."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_building_the_parser_imports_no_heavy_library():
    code = ("import sys; from folk.cli import build_parser; build_parser(); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("command", [None, *cli.COMMANDS])
def test_help_imports_no_heavy_library(command):
    result = run_folk(*([command] if command else []), "--help")
    assert result == {"code": 0, "heavy": []}


def test_folk_views_never_imports_torch(tmp_path):
    torch = pytest.importorskip("torch")
    scene = make_scannet_scene(tmp_path / "scene0001_00", num_frames=3, num_points=41)
    rng = np.random.default_rng(5)
    masks = (rng.random((41, 4)) < 0.5).astype(np.float16)
    masks[0] = 1  # no empty proposal
    torch.save(masks, tmp_path / "masks.pt")  # Mask3D's format: a pickled NumPy array
    out = tmp_path / "views.npz"
    result = run_folk("views", "--scene", str(scene), "--proposals", str(tmp_path / "masks.pt"),
                      "--stride", "1", "--out", str(out))
    assert result == {"code": 0, "heavy": []}
    with np.load(out) as z:
        assert z["counts"].shape == (3, 4)


VIEW_PROBE = f"""
import json, sys
from folk.cli import build_parser
from folk.show import view_cli
view, encoder = view_cli.load(build_parser().parse_args(sys.argv[1:]))
print(json.dumps({{"instances": len(view.instances.names),
                  "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def test_folk_view_loads_a_scene_and_its_student_without_torch(tmp_path):
    """``folk view`` starts in NumPy (its student too): PyTorch comes only with the first
    phrase that needs CLIP."""
    torch = pytest.importorskip("torch")
    from folk.data.ply import write_ply
    from folk.student.model import VLAdapter, save_adapter

    rng = np.random.default_rng(8)
    n = 57
    write_ply(tmp_path / "s.ply", rng.uniform(size=(n, 3)), np.full((n, 3), 128, np.uint8))
    for folder in ("features", "proposals"):
        (tmp_path / folder).mkdir()
    np.save(tmp_path / "features" / "s.npy", rng.normal(size=(n, 6)).astype(np.float32))
    masks = np.zeros((n, 3), np.float16)
    masks[np.arange(n), np.arange(n) % 3] = 1
    torch.save(masks, tmp_path / "proposals" / "s_masks.pt")  # Mask3D's format
    save_adapter(tmp_path / "student.pt", VLAdapter(6, 8, 4))
    out = subprocess.run(
        [sys.executable, "-c", VIEW_PROBE, "view", "--scan", str(tmp_path / "s.ply"),
         "--features", str(tmp_path / "features"), "--proposals", str(tmp_path / "proposals"),
         "--checkpoint", str(tmp_path / "student.pt")],
        capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"instances": 3, "heavy": []}
