"""What a user's terminal or log shows: a progress bar only on a terminal, plain lines per stage
in a log (no carriage returns, no ANSI codes), per-epoch lines of ``folk distill`` only with
``--verbose``, and warnings as one line naming the command."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
from distill_toy import make_toy

from folk.cli import main
from folk.progress import Progress

ANSI = re.compile(r"\x1b\[")


def _plain_lines(text: str) -> list[str]:
    assert "\r" not in text and not ANSI.search(text), f"terminal codes in a log: {text!r}"
    return text.splitlines()


def test_progress_in_a_log_is_a_line_at_start_per_item_and_at_end():
    out = io.StringIO()
    bar = Progress(["s1", "s2"], desc="teacher", unit="scene", stream=out, tty=False)
    for name in bar:
        bar.set_postfix_str(name)
    lines = _plain_lines(out.getvalue())
    assert lines[0] == "teacher: 2 scenes"
    assert re.fullmatch(r"teacher: 1/2 s1 \(\d+\.\d s\)", lines[1])
    assert re.fullmatch(r"teacher: 2/2 s2 \(\d+\.\d s\)", lines[2])
    assert re.fullmatch(r"teacher: done, 2 scenes in \d+\.\d s", lines[3]) and len(lines) == 4


def test_progress_of_many_small_steps_in_a_log_is_two_lines():
    out = io.StringIO()
    with Progress(total=500, desc="render", unit="frame", per_item=False, stream=out,
                  tty=False) as bar:
        for _ in range(500):
            bar.update()
    assert [line.split(" in ")[0] for line in _plain_lines(out.getvalue())] == [
        "render: 500 frames", "render: done, 500 frames"]


def test_progress_on_a_terminal_is_a_bar_and_quiet_shows_nothing():
    out = io.StringIO()
    with Progress(total=3, desc="predict", unit="scene", stream=out, tty=True) as bar:
        bar.update(3)
    assert "\r" in out.getvalue() and "3/3" in out.getvalue()
    quiet = io.StringIO()
    with Progress(total=3, desc="predict", stream=quiet, tty=True, enabled=False) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""


def test_synth_writing_to_a_log_prints_one_line_per_stage(tmp_path):
    run = subprocess.run([sys.executable, "-m", "folk.cli", "synth", "--out", str(tmp_path),
                          "--frames", "4"], capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stderr
    lines = _plain_lines(run.stderr)
    assert lines == ["render synth0000_00: 4 frames", lines[1]]
    assert re.fullmatch(r"render synth0000_00: done, 4 frames in \d+\.\d s", lines[1])


NOISY_COMMAND = """
import warnings
from folk.cli import run_reporting_errors

def noisy(args):
    warnings.warn("first line\\n  second   line", UserWarning)
    return 0

original = warnings.formatwarning
assert run_reporting_errors("folk views", noisy, None) == 0
assert warnings.formatwarning is original  # restored after the command
warnings.warn("after the command")
"""


def test_a_warning_is_one_line_naming_the_command_without_source():
    run = subprocess.run([sys.executable, "-c", NOISY_COMMAND], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert lines[0] == "folk views: warning: first line second line"
    assert "after the command" in lines[-1] and "UserWarning" in lines[-1]  # Python's again


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    make_toy(root, ["a", "b", "v"])
    return root


@pytest.mark.parametrize("verbose", [False, True])
def test_distill_prints_per_epoch_lines_only_with_verbose(toy, tmp_path, capsys, verbose):
    rc = main(["distill", "--targets", str(toy / "targets"), "--features",
               str(toy / "features"), "--proposals", str(toy / "proposals"), "--scenes-val",
               "v", "--out", str(tmp_path / "ckpt"), "--epochs", "3", "--batch-proposals", "8",
               "--hidden", "16", "--device", "cpu"] + (["--verbose"] if verbose else []))
    assert rc == 0
    captured = capsys.readouterr()
    everything = _plain_lines(captured.out + captured.err)
    epochs = [line for line in everything if re.match(r"epoch \d/3: loss", line)]
    assert len(epochs) == (3 if verbose else 0)
    assert "distill: 3 epochs" in everything
    assert any(line.startswith("distill: done, 3 epochs in ") for line in everything)
    assert any(line.startswith("folk distill: 3 epoch(s) trained, 3/3 done, last loss")
               for line in everything)
    assert len((tmp_path / "ckpt" / "history.jsonl").read_text().splitlines()) == 3
