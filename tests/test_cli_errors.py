"""Bad input to any ``folk`` command: exit code 2 (130 for Ctrl-C), one message naming the
file or option and the problem, no traceback (unless ``--debug``), and the user's files
unchanged. One row per case of the table below; a few run in a subprocess to prove what a
terminal shows."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_scannet_scene, write_matrix

from folk.cli import main
from folk.errors import FolkInputError
from folk.files import current_umask, write_text
from folk.teacher.targets import TeacherTargets, save_targets

SCENE = "scene0000_00"
POINTS = 57


def _targets(nan: bool = False) -> TeacherTargets:
    rng = np.random.default_rng(0)
    targets = rng.normal(size=(3, 4)).astype(np.float32)
    if nan:
        targets[1, 2] = np.nan
    return TeacherTargets(
        scene=SCENE, vocabulary=["chair", "table"],
        text_embeddings=np.eye(2, 4, dtype=np.float32), view_ids=np.zeros((3, 1), np.int32),
        view_embeddings=targets[:, None, :], view_labels=np.zeros((3, 1), np.int32),
        labels=np.zeros(3, np.int64), targets=targets)


def _students(root: Path) -> dict[str, Path]:
    """Checkpoints of a student of the 8-dim features, of a 16-dim-input one and of one whose
    weights are NaN, and text embeddings for ``chair``."""
    import torch

    from folk.data.vocabulary import TextEmbeddings, save_text_embeddings
    from folk.student import VLAdapter, save_adapter

    save_adapter(root / "student" / "best.pt", VLAdapter(16, 12, 4))
    save_adapter(root / "good" / "best.pt", VLAdapter(8, 12, 4))
    diverged = VLAdapter(8, 12, 4)
    with torch.no_grad():
        next(diverged.parameters()).fill_(float("nan"))
    save_adapter(root / "diverged" / "best.pt", diverged)
    text = root / "text.npz"
    save_text_embeddings(text, TextEmbeddings(("chair",), np.eye(1, 4, dtype=np.float32), "t"))
    return {"student": root / "student", "good": root / "good", "diverged": root / "diverged",
            "text": text}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """The user's inputs, all under ``{inputs}``, by the names the table's argv use."""
    root = tmp_path_factory.mktemp("user")
    inputs = root / "inputs"
    scenes = inputs / "scenes"
    scene = make_scannet_scene(scenes / SCENE, num_points=POINTS)
    bad_scene = make_scannet_scene(inputs / "zero-focal" / SCENE, num_points=POINTS)
    write_matrix(bad_scene / "intrinsic" / "intrinsic_depth.txt", np.diag([0.0, 0.0, 1.0, 1.0]))
    proposals = scenes / "proposals"
    proposals.mkdir()
    masks = proposals / f"{SCENE}_masks.npy"
    np.save(masks, (np.arange(POINTS)[:, None] % 3 == np.arange(3)).astype(np.float32))
    features = inputs / "features"
    features.mkdir()
    np.save(features / f"{SCENE}.npy", np.ones((POINTS, 8), np.float32))
    gt = inputs / "gt"
    gt.mkdir()
    gt_file = gt / f"{SCENE}.txt"
    gt_file.write_text("".join(f"{3000 + i % 3}\n" for i in range(POINTS)))
    pred = inputs / "pred"
    (pred / "pred_mask").mkdir(parents=True)
    (pred / "pred_mask" / f"{SCENE}_0.txt").write_text("1\n" * POINTS)
    (pred / f"{SCENE}.txt").write_text(f"pred_mask/{SCENE}_0.txt 3 0.9\n")
    for name, nan in (("targets", False), ("targets-nan", True)):
        save_targets(inputs / name / f"{SCENE}.npz", _targets(nan))
    a_file = inputs / "notes.txt"
    a_file.write_text("the user's own file\n")
    students = _students(root)
    locked = root / "locked-run"
    locked.mkdir()
    (locked / ".folk-distill.lock").write_text(f"{os.getpid()}\n")
    paths = {"inputs": inputs, "scenes": scenes, "scene": scene, "bad_scene": bad_scene,
             "proposals": proposals, "masks": masks, "features": features, "gt": gt,
             "gt_file": gt_file, "pred": pred, "targets": inputs / "targets",
             "targets_nan": inputs / "targets-nan", "a_file": a_file, "locked": locked,
             "out": root / "out", "missing": root / "missing.pt", **students}
    return {name: str(path) for name, path in paths.items()}


def fingerprint(folder: str | Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder``."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_in_process(capsys, argv: list[str]) -> tuple[int, str]:
    """``folk argv...`` in this process: exit code and stderr (argparse exits included)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


DISTILL = ["distill", "--features", "{features}", "--proposals", "{proposals}",
           "--scenes-train", SCENE]
PREDICT = ["predict", "--features", "{features}", "--proposals", "{proposals}",
           "--checkpoint", "{missing}"]
QUERY = ["query", "--scene", SCENE, "--features", "{features}", "--proposals", "{proposals}",
         "--checkpoint", "{missing}"]
TEACHER = ["teacher", "{scene}", "--proposals", "{proposals}", "--vocabulary", "synthetic"]
VIEWS = ["views", "--scene", "{scene}", "--proposals", "{masks}"]
EVAL = ["eval", "--gt", "{gt}", "--pred", "{pred}", "--dataset", "scannet200"]

#: (case, argv, substrings of the message: the file or option, and the problem).
CASES = [
    # output paths: a file where a folder is expected and the reverse
    ("teacher --out FILE", [*TEACHER, "--out", "{a_file}"], ["notes.txt", "must be a folder"]),
    ("predict --out FILE", [*PREDICT, "--out", "{a_file}"], ["notes.txt", "must be a folder"]),
    ("distill --out FILE", [*DISTILL, "--targets", "{targets}", "--out", "{a_file}"],
     ["notes.txt", "--out must be a folder"]),
    ("synth --out FILE", ["synth", "--out", "{a_file}"], ["notes.txt", "must be a folder"]),
    ("demo --workdir FILE", ["demo", "--workdir", "{a_file}"],
     ["notes.txt", "--workdir must be a folder"]),
    ("export --out FILE", ["export", "--checkpoint", "{missing}", "--vocabulary", "synthetic",
                           "--out", "{a_file}"], ["notes.txt", "must be a folder"]),
    ("output under a file", ["synth", "--out", "{a_file}/scenes"],
     ["notes.txt is a file, not a folder"]),
    ("views --out DIR", [*VIEWS, "--out", "{inputs}"], ["inputs", "--out must be a file"]),
    ("eval --json DIR", [*EVAL, "--json", "{gt}"], ["gt", "--json must be a file"]),
    # never overwrite an input
    ("views --out = its proposals", [*VIEWS, "--out", "{masks}"],
     [f"{SCENE}_masks.npy", "refusing to overwrite"]),
    ("eval --json = a GT file", [*EVAL, "--json", "{gt_file}"],
     [f"gt/{SCENE}.txt", "refusing to overwrite"]),
    ("predict --out = the GT folder", [*PREDICT, "--out", "{gt}"],
     [f"gt/{SCENE}.txt", "not a prediction file", "refusing to overwrite"]),
    ("predict --out = the scans folder", [*PREDICT, "--scans", "{scenes}", "--out", "{scenes}"],
     ["scenes", "refusing to overwrite"]),
    ("teacher --out = the proposals", [*TEACHER, "--out", "{proposals}"],
     ["proposals", "refusing to overwrite"]),
    ("distill --out = the targets", [*DISTILL, "--targets", "{targets}", "--out", "{targets}"],
     ["targets", "refusing to overwrite"]),
    # values, checked while parsing, named by their option
    ("synth --seed -5", ["synth", "--out", "{out}", "--seed", "-5"],
     ["argument --seed", "must be >= 0"]),
    ("distill --lr nan", [*DISTILL, "--targets", "{targets}", "--out", "{out}", "--lr", "nan"],
     ["argument --lr", "finite"]),
    ("synth --scenes 0", ["synth", "--out", "{out}", "--scenes", "0"],
     ["argument --scenes", "must be >= 1"]),
    ("synth --scenes -1", ["synth", "--out", "{out}", "--scenes", "-1"],
     ["argument --scenes", "must be >= 1"]),
    ("synth --frames 0", ["synth", "--out", "{out}", "--frames", "0"],
     ["argument --frames", "must be >= 1"]),
    ("query --top -3", [*QUERY, "chair", "--top", "-3"], ["argument --top", "must be >= 1"]),
    ("query ''", [*QUERY, " "], ["argument text", "must not be empty"]),
    ("teacher --stride -1", [*TEACHER, "--out", "{out}", "--stride", "-1"],
     ["argument --stride", "must be >= 1"]),
    ("teacher --k 0", [*TEACHER, "--out", "{out}", "--k", "0"], ["argument --k", ">= 1"]),
    ("views --theta 200", [*VIEWS, "--out", "{out}/v.npz", "--theta", "200"],
     ["argument --theta", "[0, 180]"]),
    ("demo --epochs 0", ["demo", "--workdir", "{out}", "--epochs", "0"],
     ["argument --epochs", "must be >= 1"]),
    ("distill --epochs 0", [*DISTILL, "--targets", "{targets}", "--out", "{out}",
                            "--epochs", "0"], ["argument --epochs", "must be >= 1"]),
    # data
    ("intrinsics fx = fy = 0", ["views", "--scene", "{bad_scene}", "--proposals", "{masks}",
                                "--out", "{out}/views.npz"],
     ["intrinsic_depth.txt", "focal lengths must be finite and > 0"]),
    ("NaN in teacher targets", [*DISTILL, "--targets", "{targets_nan}", "--out", "{out}"],
     [f"{SCENE}.npz", "NaN"]),
    ("wrong feature width", [*QUERY[:-1], "{student}", "--text-embeddings", "{text}", "chair"],
     [f"features/{SCENE}.npy", "features have 8 dims", "takes 16"]),
    ("NaN checkpoint", [*PREDICT[:-1], "{diverged}", "--out", "{out}"],
     ["diverged/best.pt", "NaN"]),
    ("distill --out SAME twice", [*DISTILL, "--targets", "{targets}", "--out", "{locked}"],
     [".folk-distill.lock", "another run"]),
]


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_user_mistake_is_one_message_exit_2_and_inputs_unchanged(files, capsys, argv,
                                                                     expected):
    before = fingerprint(files["inputs"])
    code, err = run_in_process(capsys, [a.format(**files) for a in argv])
    assert code == 2
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    assert fingerprint(files["inputs"]) == before


def test_an_unwritable_output_folder_is_refused_before_work(tmp_path, capsys, monkeypatch):
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root may write anywhere: the permission check answers as for a user
        access = os.access
        monkeypatch.setattr("folk.cli_args.os.access",
                            lambda path, mode: Path(path) != locked and access(path, mode))
    try:
        code, err = run_in_process(capsys, ["synth", "--out", str(locked / "scenes")])
    finally:
        locked.chmod(0o755)
    assert code == 2 and "is not writable" in err and str(locked) in err
    assert list(locked.iterdir()) == []


def test_a_full_disk_names_the_file_and_leaves_no_partial_file(files, tmp_path, capsys,
                                                               monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("folk.files.os.fsync", no_space)
    out = tmp_path / "views.npz"
    code, err = run_in_process(capsys, ["views", "--scene", files["scene"], "--proposals",
                                        files["masks"], "--out", str(out)])
    assert code == 2 and f"{out}: No space left on device" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_predicting_leaves_no_partial_scene(files, tmp_path, capsys,
                                                              monkeypatch):
    fsyncs = []

    def second_write_fails(fd):
        fsyncs.append(fd)
        if len(fsyncs) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("folk.files.os.fsync", second_write_fails)
    out = tmp_path / "predictions"
    code, err = run_in_process(capsys, [a.format(**files) for a in [
        *PREDICT[:-1], "{good}", "--text-embeddings", "{text}", "--vocabulary", "chair",
        "--quiet", "--out", str(out)]])
    assert code == 2 and "No space left on device" in err and str(out) in err
    assert len(fsyncs) == 2
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_debug_shows_the_traceback(files):
    with pytest.raises(FolkInputError, match="must be a folder"):
        main(["--debug", "synth", "--out", files["a_file"]])


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_output_files_honour_the_umask(tmp_path, mask):
    previous = os.umask(mask)
    try:
        assert current_umask() == mask
        write_text(tmp_path / "out.txt", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def _default_sigint() -> None:
    # A shell that starts jobs in the background (e.g. `tests &`) ignores SIGINT in them, and
    # Python keeps an inherited SIG_IGN: give the child the default disposition, as a terminal's
    # foreground process has, so that it sees Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def folk_process(*argv: str) -> subprocess.Popen:
    # preexec_fn only resets a signal disposition, safe although pytest may run threads.
    return subprocess.Popen([sys.executable, "-m", "folk.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)  # noqa: PLW1509


@pytest.mark.parametrize("case", ["synth --seed -5", "views --out = its proposals",
                                  "NaN in teacher targets"])
def test_a_terminal_sees_one_line_and_exit_2(files, case):
    argv = next(c[1] for c in CASES if c[0] == case)
    before = fingerprint(files["inputs"])
    process = folk_process(*(a.format(**files) for a in argv))
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1, err
    assert fingerprint(files["inputs"]) == before


def test_ctrl_c_is_one_line_exit_130_and_no_partial_file(tmp_path):
    out = tmp_path / "scenes"
    process = folk_process("synth", "--out", str(out), "--scenes", "4", "--quiet")
    deadline = time.monotonic() + 120
    while not out.is_dir() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)  # inside the first scene's work
    assert process.poll() is None, "synth ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == "folk synth: interrupted; rerun to resume"
    assert "Traceback" not in err
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("command", ["teacher", "views", "distill", "predict", "query"])
def test_commands_that_read_proposals_offer_the_trust_pickle_their_errors_name(command):
    from folk.cli import build_parser

    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert "--trust-pickle" in subcommands[command]._option_string_actions
