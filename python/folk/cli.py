"""The ``folk`` command. Each subcommand is a thin wrapper over the Python API and lives in
the module of the pipeline step it drives; this file lists them and reports their errors in one
place (a user's mistake: one line, exit 2; Ctrl-C: one line, exit 130; ``--debug``: the
traceback)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import sys
import warnings

from folk.errors import FolkError, one_line, without_ansi

# name -> module defining ``register(subparsers)``; the parser it adds sets ``func``.
COMMANDS: dict[str, str] = {
    "demo": "folk.demo",
    "synth": "folk.synthetic.cli",
    "prepare": "folk.data.prepare_cli",
    "proposals": "folk.proposals.cli",
    "eval": "folk.evaluation.cli",
    "views": "folk.teacher.views_cli",
    "teacher": "folk.teacher.cli",
    "distill": "folk.distill.cli",
    "predict": "folk.predict.cli",
    "query": "folk.predict.query_cli",
    "export": "folk.export.cli",
    "show": "folk.show.cli",
    "view": "folk.show.view_cli",
}


def build_parser() -> argparse.ArgumentParser:
    from folk import __version__

    parser = argparse.ArgumentParser(
        prog="folk", description="Fast open-vocabulary 3D instance segmentation."
    )
    parser.add_argument("--version", action="version", version=f"folk {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error or Ctrl-C (for bug reports)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).register(sub)
    return parser


#: Exit codes: a user's mistake (bad input, option or output path), and Ctrl-C (128 + SIGINT).
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

#: OSErrors about the user's files and disks (not folk bugs): said in one line, no traceback.
_USER_OS_ERRORS = frozenset({errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT,
                             errno.EISDIR, errno.ENOTDIR, errno.EROFS, errno.ENOENT,
                             errno.EEXIST, errno.ENAMETOOLONG, errno.EFBIG})


def run_command(argv: list[str]) -> int:
    """Parse and run one subcommand, letting its errors through (``folk demo``'s stages)."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


def describe_os_error(exc: OSError) -> str:
    """``<file>: <problem>`` of an OSError (the file when the error names one)."""
    problem = exc.strerror or str(exc)
    return f"{exc.filename}: {problem}" if exc.filename else problem


@contextlib.contextmanager
def one_line_warnings(prog: str):
    """While the block runs, each warning shown is one line ``<prog>: warning: <message>``
    (no file, line number or source excerpt; whitespace collapsed). Only the format changes:
    where warnings go (and recording them, as ``pytest.warns`` does) stays as it was."""
    def format_one_line(message, category, filename, lineno, line=None) -> str:
        return f"{prog}: warning: {one_line(message, limit=1000)}\n"

    previous = warnings.formatwarning
    warnings.formatwarning = format_one_line
    try:
        yield
    finally:
        warnings.formatwarning = previous


def run_reporting_errors(prog: str, func, args: argparse.Namespace, debug: bool = False) -> int:
    """``func(args)``'s exit code; a user's mistake (a :class:`FolkError`, an OSError about
    their files or disk) is one line ``<prog>: error: ...`` and exit 2, Ctrl-C one line and
    exit 130; a warning one line ``<prog>: warning: ...``. With ``debug`` errors raise (their
    traceback) and warnings show where they come from. Anything else is a bug: it raises."""
    if debug:
        return int(func(args) or 0)
    try:
        with one_line_warnings(prog):
            return int(func(args) or 0)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; rerun to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FolkError as exc:
        print(f"{prog}: error: {without_ansi(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        if exc.errno not in _USER_OS_ERRORS:
            raise
        print(f"{prog}: error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR


def main(argv: list[str] | None = None) -> int:
    """The ``folk`` command (see :func:`run_reporting_errors`; ``folk --debug CMD`` shows
    tracebacks)."""
    args = build_parser().parse_args(argv)
    return run_reporting_errors(f"folk {args.command}", args.func, args, args.debug)


if __name__ == "__main__":
    sys.exit(main())
