"""The folk command: every registered subcommand builds its parser and reports errors cleanly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from folk import cli


def test_every_registered_command_has_a_parser_with_a_handler():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(cli.COMMANDS)
    for name, command in sub.choices.items():
        assert command.get_default("func") is not None, name


def test_folk_input_errors_become_exit_code_2_with_a_message(tmp_path, capsys):
    code = cli.main(["eval", "--gt", str(tmp_path / "none"), "--pred", str(tmp_path),
                     "--dataset", "scannet200"])
    assert code == 2
    assert "folk eval: error:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--version"], ["demo", "--help"]])
def test_console_entry_point_runs(argv):
    out = subprocess.run([sys.executable, "-m", "folk.cli", *argv], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "folk" in out.stdout
