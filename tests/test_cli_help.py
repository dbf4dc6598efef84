"""Every ``--help`` a user can ask for (``folk`` and each subcommand, ``folk-export``,
``folk-runtime``) reads as plain text: help on every option, no Sphinx markup, the default said
at most once, no sentence cut off."""

from __future__ import annotations

import argparse
import re

import pytest

from folk.cli import build_parser
from folk.cli_args import plain_text
from folk.export.cli import build_parser as build_export_parser
from folk_runtime.cli import _parser as build_runtime_parser

MARKUP = re.compile(r":\w+(?::\w+)?:`|``")
#: What a help text may end with: a word, a closing bracket or quote, a full stop, a path.
SENSIBLE_END = re.compile(r"[\w)\]'\"./%>]$")


def _parsers(parser: argparse.ArgumentParser, prog: str):
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{prog} {name}")


def _all_parsers():
    for prog, build in (("folk", build_parser), ("folk-export", build_export_parser),
                        ("folk-runtime", build_runtime_parser)):
        yield from _parsers(build(), prog)


def _options():
    for prog, parser in _all_parsers():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
                continue
            yield f"{prog} {'/'.join(action.option_strings) or action.dest}", action.help or ""


OPTIONS = list(_options())
PARSERS = list(_all_parsers())


def test_the_walk_reaches_every_subcommand_and_both_console_scripts():
    progs = {prog for prog, _ in PARSERS}
    assert {"folk distill", "folk predict", "folk views", "folk-export",
            "folk-runtime"} <= progs
    assert len(OPTIONS) > 150


@pytest.mark.parametrize("option,text", OPTIONS, ids=[o for o, _ in OPTIONS])
def test_every_option_has_plain_help_ending_sensibly_with_one_default(option, text):
    assert text.strip(), f"{option} has no help"
    assert not MARKUP.search(text), f"{option}: Sphinx markup in {text!r}"
    assert len(re.findall(r"\bdefault\b", text)) <= 1, f"{option}: default twice in {text!r}"
    assert SENSIBLE_END.search(text.strip()), f"{option}: help cut off: {text!r}"


@pytest.mark.parametrize("prog,parser", PARSERS, ids=[p for p, _ in PARSERS])
def test_every_command_describes_itself_without_markup(prog, parser):
    if prog != "folk":
        assert parser.description, f"{prog} has no description"
    texts = [parser.description or ""] + [g.description or "" for g in parser._action_groups]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts += [choice.help or "" for choice in action._choices_actions]
    for text in texts:
        assert not MARKUP.search(text), f"{prog}: Sphinx markup in {text[:200]!r}"
    description = (parser.description or "").rstrip()
    assert not description.endswith(":"), f"{prog}: description cut off before its list"


def test_plain_text_keeps_role_targets_literals_and_table_columns():
    assert plain_text("see :func:`~folk.ops.views.select_views` and ``--k``") == \
        "see folk.ops.views.select_views and --k"
    table = "``frame_ids``  (F,) int64\n``counts``     (F, Q) i32"
    columns = [line.index("(") for line in plain_text(table).splitlines()]
    assert columns == [table.splitlines()[0].index("("), table.splitlines()[1].index("(")]
