"""Argument blocks shared by several ``folk`` subcommands, written once.

Each ``add_*`` function adds one block of options to a parser and says which commands use it;
the matching ``*_from_args`` function turns the parsed values into the library's types. Defaults
come from the library (config dataclasses and ``DEFAULT_*`` constants), never from here.

This module belongs to the command-line layer (:mod:`folk.layers`) and stays import-light:
argparse, and library modules that do not import PyTorch, open_clip or Open3D, so that
``folk --help`` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from folk.errors import FolkInputError

# ---- option values, checked while parsing (argparse names the option in the message) -------

def _number(text: str, convert: Callable[[str], Any], what: str):
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _at_least(convert: Callable[[str], Any], lowest, what: str, *, strict: bool = False):
    """An argparse ``type=`` accepting ``convert(text) >= lowest`` (``> lowest`` if strict)."""
    def parse(text: str):
        value = _number(text, convert, what)
        if value < lowest or (strict and value == lowest):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if strict else '>='} {lowest}, got {text}")
        return value
    return parse


#: argparse ``type=`` functions: ``--seed -5``, ``--lr nan`` or ``--frames 0`` stop at parse
#: time with ``argument --frames: must be >= 1, got 0``.
positive_int = _at_least(int, 1, "an integer")
non_negative_int = _at_least(int, 0, "an integer")
positive_float = _at_least(float, 0.0, "a number", strict=True)
non_negative_float = _at_least(float, 0.0, "a number")


def finite_float(text: str) -> float:
    """An argparse ``type=``: any finite number (no nan, no inf)."""
    return _number(text, float, "a number")


def angle_degrees(text: str) -> float:
    """An argparse ``type=``: an angle in [0, 180] degrees."""
    value = non_negative_float(text)
    if value > 180:
        raise argparse.ArgumentTypeError(f"must lie in [0, 180] degrees, got {text}")
    return value


def non_empty_text(text: str) -> str:
    """An argparse ``type=``: text with something in it besides spaces."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


# ---- output paths, checked before any work starts -------------------------------------------

def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable(path: Path, option: str) -> None:
    """The folder ``path`` is (or would be created in) is writable, and no file blocks it."""
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise FolkInputError(f"{option}: {existing} is a file, not a folder", path)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FolkInputError(f"{option}: folder {existing} is not writable", path)


def _check_not_an_input(path: Path, inputs: Iterable[str | Path | None], option: str) -> None:
    """Refuse an output that is one of the command's inputs (same file or folder)."""
    target = path.resolve()
    for item in inputs:
        if item is not None and str(item) != "geometric" and Path(item).resolve() == target:
            raise FolkInputError(f"{option} is also an input of this command: refusing to "
                                 "overwrite it; choose another output", path)


def check_output_folder(path: str | Path, option: str = "--out",
                        inputs: Iterable[str | Path | None] = ()) -> Path:
    """``path`` can be a folder this command writes into: not an existing file, not one of its
    ``inputs``, inside a writable folder. Call before the work starts."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FolkInputError(f"{option} must be a folder, but this is an existing file", path)
    _check_not_an_input(path, inputs, option)
    _check_writable(path, option)
    return path


def check_output_file(path: str | Path, option: str = "--out",
                      inputs: Iterable[str | Path | None] = ()) -> Path:
    """``path`` can be a file this command writes: not an existing folder, not one of its
    ``inputs``, inside a writable folder. Call before the work starts."""
    path = Path(path)
    if path.is_dir():
        raise FolkInputError(f"{option} must be a file, but this is an existing folder", path)
    _check_not_an_input(path, inputs, option)
    _check_writable(path.parent, option)
    return path


#: Sphinx cross-references (``:func:`~folk.x.y` ``) and inline literals (````x````) of docstrings.
_SPHINX_ROLE = re.compile(r":\w+(?::\w+)?:`~?([^`]+)`")
_LITERAL_IN_TABLE = re.compile(r"``([^`]+)``(?=  )")
_LITERAL = re.compile(r"``([^`]+)``")


def launcher_rank(environ=os.environ) -> tuple[int, int]:
    """``(rank, world size)`` a launcher gave this process (torchrun, or anything that sets
    ``RANK`` and ``WORLD_SIZE``), ``(0, 1)`` without one: multi-scene commands take every
    ``world``-th scene from ``rank`` on, so a cluster needs no hand-made sharding."""
    if "RANK" not in environ or "WORLD_SIZE" not in environ:
        return 0, 1
    try:
        rank, world = int(environ["RANK"]), int(environ["WORLD_SIZE"])
    except ValueError:
        raise FolkInputError(f"RANK={environ['RANK']!r} / WORLD_SIZE={environ['WORLD_SIZE']!r}"
                             " are not integers") from None
    if world < 1 or not 0 <= rank < world:
        raise FolkInputError(f"RANK {rank} must lie in [0, WORLD_SIZE={world})")
    return rank, world


def plain_text(text: str) -> str:
    """``text`` (a docstring) without Sphinx markup, for ``--help``: roles become their target,
    literals their content (padded in a table cell so its columns stay aligned)."""
    text = _SPHINX_ROLE.sub(r"\1", text)
    text = _LITERAL_IN_TABLE.sub(r"\1    ", text)
    return _LITERAL.sub(r"\1", text)


def add_command(subparsers: argparse._SubParsersAction, name: str, func, *, help: str,
                description: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand whose parsed arguments are run by ``func(args)`` (its texts may be
    docstrings: shown without their markup)."""
    parser = subparsers.add_parser(name, help=plain_text(help),
                                   description=plain_text(description), **kwargs)
    parser.set_defaults(func=func)
    return parser


def add_trust_pickle(parser: argparse.ArgumentParser) -> None:
    """``--trust-pickle`` (every command that reads ``.pt`` inputs)."""
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow .pt inputs that need full unpickling (only files you trust)")


def add_scene_inputs(parser: argparse.ArgumentParser) -> None:
    """Per-scene features and proposals found by scene name (:mod:`folk.student.inputs`):
    ``--features``, ``--proposals``, ``--scans``, ``--trust-pickle`` (distill, predict,
    query)."""
    parser.add_argument("--features", required=True,
                        help="directory of per-scene point features (<scene>.npy/.npz/.pt), or "
                             "'geometric' (computed from the scan; needs --scans)")
    parser.add_argument("--proposals", required=True,
                        help="directory of per-scene proposals (<scene>_masks.pt/.npy/.npz, "
                             "optional <scene>_scores.*), or 'geometric' (needs --scans)")
    parser.add_argument("--scans", default=None,
                        help="directory of scans (<scene>/ folders or <scene>.ply); needed by "
                             "'geometric', else only used to check point counts")
    add_trust_pickle(parser)


def scene_inputs_from_args(args: argparse.Namespace):
    """The :class:`~folk.student.inputs.SceneInputs` of :func:`add_scene_inputs`'s options."""
    from folk.student.inputs import SceneInputs

    return SceneInputs(args.features, args.proposals, args.scans, args.trust_pickle)


def add_scene_layout(parser: argparse.ArgumentParser) -> None:
    """How scene folders are laid out: ``--dataset`` and ``--stride`` (teacher, views)."""
    from folk.data.layout import LAYOUTS

    parser.add_argument("--dataset", default="scannet", choices=sorted(LAYOUTS),
                        help="scene layout: depth scale, mesh name and frame stride "
                             "(default scannet)")
    parser.add_argument("--stride", type=positive_int, default=None,
                        help="use every n-th frame (default: the layout's, 10 for ScanNet, "
                             "1 for Replica)")


def add_clip_weights(group: argparse._ArgumentGroup, *, model_help: str) -> None:
    """Which CLIP weights, from local files only: ``--clip-model``, ``--clip-pretrained``,
    ``--clip-checkpoint``, ``--clip-cache-dir``, ``--text-cache-dir`` (teacher, predict,
    query)."""
    group.add_argument("--clip-model", default=None, help=model_help)
    group.add_argument("--clip-pretrained", default=None,
                       help="open_clip pretrained tag, from the local cache only")
    group.add_argument("--clip-checkpoint", default=None, help="local CLIP checkpoint file")
    group.add_argument("--clip-cache-dir", default=None,
                       help="where cached pretrained tags are looked up")
    group.add_argument("--text-cache-dir", default=None, help="text-embedding cache folder")


def add_student(parser: argparse.ArgumentParser) -> None:
    """A distilled student and the text embeddings of its vocabulary: ``--checkpoint``,
    ``--text-embeddings``, the CLIP options, ``--clip-device``, ``--nms-iou`` (predict,
    query)."""
    from folk.proposals.nms import DEFAULT_IOU

    parser.add_argument("--checkpoint", required=True,
                        help="a folk distill checkpoint (.pt) or its output directory (best.pt)")
    parser.add_argument("--text-embeddings", default=None,
                        help=".npz with names + embeddings, or a teacher targets file (default: "
                             "text_embeddings.npz beside the checkpoint, which folk distill "
                             "writes, when it holds every name; else CLIP's text encoder)")
    group = parser.add_argument_group(
        "CLIP text encoder (when --text-embeddings is not given and the checkpoint's "
        "text_embeddings.npz lacks a name)")
    add_clip_weights(group, model_help="open_clip architecture (default: the one recorded in "
                                       "the checkpoint)")
    group.add_argument("--clip-device", default="cpu", help="device of the text encoder")
    parser.add_argument("--nms-iou", type=positive_float, default=DEFAULT_IOU,
                        help=f"mask NMS IoU; >= 1 disables NMS (default {DEFAULT_IOU})")


def add_vocabulary(parser: argparse.ArgumentParser) -> None:
    """``--vocabulary``: the class names to label with (predict, export), read by
    :func:`folk.predict.vocabulary.resolve_vocabulary`."""
    parser.add_argument("--vocabulary", default="scannet200",
                        help="scannet200, replica, synthetic, a comma-separated list of names, "
                             "or a file with one name per line (default scannet200)")


def add_pred_gt(parser: argparse.ArgumentParser) -> None:
    """One scene's predictions and ground truth: ``--pred``, ``--gt`` (show, view), read with
    :func:`scene_result_file`."""
    parser.add_argument("--pred", type=Path, default=None,
                        help="predictions in the ScanNet submission format (folk predict "
                             "--out): the folder holding <scene>.txt, or that file")
    parser.add_argument("--gt", type=Path, default=None,
                        help="ground truth (one label_id*1000+instance+1 per point): a folder "
                             "holding <scene>.txt, or that file")


def scene_result_file(path: Path, scene: str, what: str, option: str) -> Path:
    """The file of :func:`add_pred_gt`'s ``option`` for ``scene``: ``path`` itself (a file)
    or ``path/<scene>.txt`` (a folder)."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise FolkInputError(f"{option}: {what} folder or file not found", path)
    found = path / f"{scene}.txt"
    if not found.is_file():
        raise FolkInputError(f"{option}: no {what} for scene {scene} ({found.name} missing)",
                             path)
    return found


def clip_choice_from_args(args: argparse.Namespace):
    """The :class:`~folk.predict.vocabulary.ClipChoice` of :func:`add_student`'s options."""
    from folk.predict.vocabulary import ClipChoice

    return ClipChoice(model=args.clip_model, pretrained=args.clip_pretrained,
                      checkpoint=args.clip_checkpoint, cache_dir=args.clip_cache_dir,
                      text_cache_dir=args.text_cache_dir, device=args.clip_device)


def student_text_from_args(args: argparse.Namespace, names, meta):
    """The :class:`~folk.predict.vocabulary.StudentText` of ``names`` for the student of
    :func:`add_student`'s options (``meta``: its checkpoint's metadata)."""
    from folk.predict.vocabulary import student_text

    return student_text(names, args.checkpoint, meta, embeddings_file=args.text_embeddings,
                        clip=clip_choice_from_args(args))


def add_scene_list(parser: argparse.ArgumentParser, flag: str, what: str) -> None:
    """A list of scene names: comma-separated, or a file with one per line."""
    parser.add_argument(flag, default=None,
                        help=f"{what}: comma-separated names or a file with one per line")


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true",
                        help="no progress (a bar on a terminal, a line per stage in a log)")


# ---- flags generated from a config dataclass ----------------------------------------------

def field_docs(config_class: type) -> dict[str, str]:
    """``{field: description}`` from the ``Attributes:`` section of a dataclass docstring
    (``name: text`` entries, continuation lines indented further)."""
    doc = inspect.getdoc(config_class) or ""
    if "Attributes:" not in doc:
        return {}
    docs: dict[str, str] = {}
    name = None
    for line in doc.split("Attributes:", 1)[1].splitlines():
        match = re.match(r"^    (\w+): (.*)$", line)
        if match:
            name = match.group(1)
            docs[name] = match.group(2).strip()
        elif name is not None and line.startswith("        "):
            docs[name] += " " + line.strip()
        elif line.strip():
            break
    return docs


#: The argparse ``type=`` of a config field by its default's type, unless given.
_FIELD_TYPES: dict[type, Callable[[str], Any]] = {int: non_negative_int, float: finite_float}


def add_config_flags(parser: argparse.ArgumentParser, config_class: type,
                     types: dict[str, Callable[[str], Any]] | None = None) -> None:
    """One ``--field-name`` option per field of a dataclass of plain values, typed and
    described by the field (help from its docstring's ``Attributes:``, default shown from the
    dataclass); an option not given stays None, see :func:`config_from_args`. ``types``: the
    argparse ``type=`` of fields whose values have tighter bounds (else integers >= 0 and
    finite numbers)."""
    docs = field_docs(config_class)
    defaults = config_class()
    for f in dataclasses.fields(config_class):
        default = getattr(defaults, f.name)
        kind = (types or {}).get(f.name) or _FIELD_TYPES.get(type(default), type(default))
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind,
                            default=None,
                            help=f"{plain_text(docs.get(f.name, f.name))} (default {default})")


def config_from_args(config_class: type, args: argparse.Namespace):
    """The config of :func:`add_config_flags`'s options: the defaults, replaced by every option
    given (validated by the config's ``replace`` when it has one)."""
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_class)
               if getattr(args, f.name, None) is not None}
    base = config_class()
    return base.replace(**changes) if hasattr(base, "replace") else dataclasses.replace(
        base, **changes)
