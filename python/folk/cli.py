"""The ``folk`` command. Each subcommand is a thin wrapper over the Python API and lives in
the module of the pipeline step it drives; this file only lists them."""

from __future__ import annotations

import argparse
import importlib
import sys

from folk.errors import FolkError

# name -> module defining ``register(subparsers)``; the parser it adds sets ``func``.
COMMANDS: dict[str, str] = {
    "demo": "folk.demo",
    "synth": "folk.synthetic.cli",
    "eval": "folk.evaluation.cli",
    "views": "folk.teacher.views_cli",
    "teacher": "folk.teacher.cli",
    "distill": "folk.distill.cli",
    "predict": "folk.predict.cli",
    "query": "folk.predict.query_cli",
    "export": "folk.export.cli",
}


def build_parser() -> argparse.ArgumentParser:
    from folk import __version__

    parser = argparse.ArgumentParser(
        prog="folk", description="Fast open-vocabulary 3D instance segmentation."
    )
    parser.add_argument("--version", action="version", version=f"folk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FolkError as exc:
        print(f"folk {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
