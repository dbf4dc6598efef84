"""The ``folk-runtime`` command: labels a scene from .npy/.npz files; bad input is one line on
stderr and exit status 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from folk.data.membership import ProposalMembership
from folk_runtime import Runtime
from folk_runtime.cli import main

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_runtime_graphs import build_deployment, random_membership, random_weights

C = 6


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A deployment folder and one scene's files: features, masks .npz (with scores), CSR .npz,
    scores .npy."""
    root = tmp_path_factory.mktemp("cli")
    folder = build_deployment(root / "deploy", random_weights(C, 9, 4, 5, seed=3))
    rng = np.random.default_rng(8)
    n, q = 131, 19
    features = rng.normal(size=(n, C)).astype(np.float32)
    offsets, indices = random_membership(rng, n, q)
    masks = ProposalMembership(offsets, indices, n).to_masks()
    scores = rng.random(q).astype(np.float32)
    np.save(root / "features.npy", features)
    np.savez(root / "masks.npz", masks=masks, scores=scores)
    np.savez(root / "csr.npz", offsets=offsets, indices=indices)
    np.save(root / "scores.npy", scores)
    return {"root": root, "folder": folder, "features": features, "offsets": offsets,
            "indices": indices, "scores": scores, "n": n, "q": q}


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_labels_masks_and_csr_proposals_like_the_runtime(scene, capsys, tmp_path):
    root = scene["root"]
    expected = Runtime(scene["folder"]).label(scene["features"], scene["offsets"],
                                              scene["indices"], scene["scores"])
    out_json = tmp_path / "out" / "labels.json"
    code, out, err = _run(capsys, scene["folder"], "--features", root / "features.npy",
                          "--proposals", root / "masks.npz", "--out", out_json)
    assert code == 0 and err == ""
    assert out.splitlines()[0] == f"{len(expected)} instance(s) from {scene['q']} proposal(s)"
    assert len(out.splitlines()) == 1 + len(expected)
    written = json.loads(out_json.read_text())
    assert [i["proposal"] for i in written["instances"]] == expected.kept.tolist()
    assert [i["label"] for i in written["instances"]] == expected.names
    assert [i["label_id"] for i in written["instances"]] == expected.label_ids.tolist()
    np.testing.assert_allclose([i["confidence"] for i in written["instances"]],
                               expected.confidence)
    assert not [p for p in out_json.parent.iterdir() if p.name.endswith(".tmp")]

    csr_json = tmp_path / "csr.json"
    code, _, _ = _run(capsys, scene["folder"], "--features", root / "features.npy",
                      "--proposals", root / "csr.npz", "--scores", root / "scores.npy",
                      "--out", csr_json, "--quiet")
    assert code == 0
    assert json.loads(csr_json.read_text())["instances"] == written["instances"]


def test_cli_options_no_nms_and_confidence_one(scene, capsys, tmp_path):
    root = scene["root"]
    out_json = tmp_path / "all.json"
    code, _, _ = _run(capsys, scene["folder"], "--features", root / "features.npy",
                      "--proposals", root / "csr.npz", "--no-nms", "--confidence-one",
                      "--out", out_json, "--quiet")
    assert code == 0
    instances = json.loads(out_json.read_text())["instances"]
    assert sorted(i["proposal"] for i in instances) == list(range(scene["q"]))
    assert {i["confidence"] for i in instances} == {1.0}


def _bad_files(root, n):
    np.save(root / "wrong_c.npy", np.zeros((n, C + 2), np.float32))
    np.savez(root / "two.npz", a=np.zeros((n, C)), b=np.zeros((n, C)))
    np.savez(root / "nokeys.npz", points=np.zeros(3))
    np.savez(root / "short_masks.npz", masks=np.zeros((n - 1, 4), bool))
    np.savez(root / "bad_offsets.npz", offsets=np.array([0, 3, 2]), indices=np.array([0, 1]))
    np.save(root / "short_scores.npy", np.zeros(2))
    (root / "garbage.npy").write_bytes(b"not numpy")


BAD = [
    (["--features", "missing.npy", "--proposals", "masks.npz"], "features file not found"),
    (["--features", "garbage.npy", "--proposals", "masks.npz"], "not a readable .npy/.npz"),
    (["--features", "two.npz", "--proposals", "masks.npz"], "expected 'features' or a single"),
    (["--features", "wrong_c.npy", "--proposals", "masks.npz"], "this deployment takes C = 6"),
    (["--features", "features.npy", "--proposals", "nokeys.npz"], "expected array 'masks'"),
    (["--features", "features.npy", "--proposals", "features.npy"], "proposals must be an .npz"),
    (["--features", "features.npy", "--proposals", "short_masks.npz"], "masks in .* have 130"),
    (["--features", "features.npy", "--proposals", "bad_offsets.npz"], "never decrease"),
    (["--features", "features.npy", "--proposals", "csr.npz", "--scores", "short_scores.npy"],
     r"scores must have shape \(19,\)"),
    (["--features", "features.npy", "--proposals", "csr.npz", "--providers", "NopeProvider"],
     "'NopeProvider'.*not available"),
    (["--features", "features.npy", "--proposals", "csr.npz", "--backend", "tensorrt"],
     "files.tensorrt is null"),
    (["--features", "features.npy", "--proposals", "csr.npz", "--threads", "2"],
     "threads=2: this graph's segment mean uses ScatterND"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m[:30] for _, m in BAD])
def test_cli_bad_input_is_one_line_and_exit_2(scene, capsys, args, message):
    import re

    root = scene["root"]
    _bad_files(root, scene["n"])
    argv = [a if a.startswith("-") or a in ("tensorrt", "NopeProvider", "2") else root / a
            for a in args]
    code, out, err = _run(capsys, scene["folder"], *argv)
    assert code == 2 and out == ""
    assert err.startswith("folk-runtime: error: ") and err.count("\n") == 1
    assert re.search(message, err), err


def test_cli_bad_deployment_folder_is_one_line_and_exit_2(scene, capsys, tmp_path):
    root = scene["root"]
    code, _, err = _run(capsys, tmp_path, "--features", root / "features.npy",
                        "--proposals", root / "masks.npz")
    assert code == 2 and "no manifest.json: not a deployment folder" in err


def test_cli_runs_as_a_module_without_a_traceback(scene):
    root = scene["root"]
    ok = subprocess.run([sys.executable, "-m", "folk_runtime", str(scene["folder"]),
                         "--features", str(root / "features.npy"),
                         "--proposals", str(root / "masks.npz")],
                        capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "folk_runtime", str(root / "nowhere"),
                          "--features", "f.npy", "--proposals", "p.npz"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().startswith("folk-runtime: error:")


WARNING_SCRIPT = """
import sys, warnings
import folk_runtime.runtime
from folk_runtime.cli import main

label = folk_runtime.runtime.Runtime.label

def warning_label(self, *args, **kwargs):
    warnings.warn("a two-line\\n  warning from deep inside", RuntimeWarning, stacklevel=1)
    return label(self, *args, **kwargs)

folk_runtime.runtime.Runtime.label = warning_label
sys.exit(main(sys.argv[1:]))
"""


def test_cli_prints_a_warning_as_one_line_without_source(scene):
    """A Python warning raised while labelling is one line on stderr: no file, line number or
    source excerpt (the default format prints the line ``warnings.warn(...)``)."""
    root = scene["root"]
    done = subprocess.run([sys.executable, "-c", WARNING_SCRIPT, str(scene["folder"]),
                           "--features", str(root / "features.npy"),
                           "--proposals", str(root / "masks.npz"), "--quiet"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "folk-runtime: warning: a two-line warning from deep inside\n"
