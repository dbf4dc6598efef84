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
import re
from typing import Any


def add_command(subparsers: argparse._SubParsersAction, name: str, func, *, help: str,
                description: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand whose parsed arguments are run by ``func(args)``."""
    parser = subparsers.add_parser(name, help=help, description=description, **kwargs)
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
                        help="scene layout: depth scale, mesh name, default stride "
                             "(default scannet)")
    parser.add_argument("--stride", type=int, default=None,
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
    parser.add_argument("--nms-iou", type=float, default=DEFAULT_IOU,
                        help=f"mask NMS IoU; >= 1 disables NMS (default {DEFAULT_IOU})")


def add_vocabulary(parser: argparse.ArgumentParser) -> None:
    """``--vocabulary``: the class names to label with (predict, export), read by
    :func:`folk.predict.vocabulary.resolve_vocabulary`."""
    parser.add_argument("--vocabulary", default="scannet200",
                        help="scannet200, replica, synthetic, a comma-separated list of names, "
                             "or a file with one name per line (default scannet200)")


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
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


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


def add_config_flags(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One ``--field-name`` option per field of a dataclass of plain values, typed and
    described by the field (help from its docstring's ``Attributes:``, default shown from the
    dataclass); an option not given stays None, see :func:`config_from_args`."""
    docs = field_docs(config_class)
    defaults = config_class()
    for f in dataclasses.fields(config_class):
        default = getattr(defaults, f.name)
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=type(default),
                            default=None, help=f"{docs.get(f.name, f.name)} (default {default})")


def config_from_args(config_class: type, args: argparse.Namespace):
    """The config of :func:`add_config_flags`'s options: the defaults, replaced by every option
    given (validated by the config's ``replace`` when it has one)."""
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_class)
               if getattr(args, f.name, None) is not None}
    base = config_class()
    return base.replace(**changes) if hasattr(base, "replace") else dataclasses.replace(
        base, **changes)
