"""``folk-export`` (also ``folk export``): a distilled student and a vocabulary as a deployment
folder for the torch-free runtime; a thin wrapper over :func:`folk.export.deploy.export_deployment`.

    folk-export --checkpoint runs/student --vocabulary scannet200 --out deploy/ [--fp16] [--trt]
"""

from __future__ import annotations

import argparse
import sys

from folk.cli_args import (
    add_command,
    add_student,
    add_vocabulary,
    check_output_folder,
    student_text_from_args,
)

DESCRIPTION = (
    "Export a distilled student and a vocabulary as a deployment folder (manifest.json + "
    "model.onnx [+ model.plan]) that folk_runtime runs without PyTorch. The text embeddings "
    "come from --text-embeddings, the checkpoint's text_embeddings.npz, or CLIP's text "
    "encoder, and must be of the CLIP the student was distilled against.")


def add_export_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``folk-export`` / ``folk export``."""
    add_student(parser)
    add_vocabulary(parser)
    parser.add_argument("--out", required=True,
                        help="the deployment folder to write (new, empty, or a previous "
                             "deployment, which is replaced)")
    parser.add_argument("--fp16", action="store_true",
                        help="float16 features and adapter (half the bytes to read); sums, "
                             "normalisation and softmax stay float32")
    parser.add_argument("--trt", action="store_true",
                        help="also build a TensorRT engine (model.plan); needs an NVIDIA GPU and "
                             "the tensorrt package")


def register(subparsers) -> None:
    p = add_command(subparsers, "export", run, help="export the student for deployment "
                    "(ONNX / TensorRT; same as folk-export)", description=DESCRIPTION)
    add_export_options(p)


def run(args: argparse.Namespace) -> int:
    from folk.export.deploy import ExportOptions, export_deployment, student_export
    from folk.predict.vocabulary import resolve_vocabulary
    from folk.student.model import load_adapter

    check_output_folder(args.out, inputs=[args.checkpoint, args.text_embeddings])
    vocabulary = resolve_vocabulary(args.vocabulary)
    adapter, meta = load_adapter(args.checkpoint)
    text = student_text_from_args(args, vocabulary.names, meta)
    student = student_export(adapter, meta, text, vocabulary)
    options = ExportOptions(precision="fp16" if args.fp16 else "fp32", tensorrt=args.trt,
                            nms_iou=args.nms_iou)
    for note in student.notes:
        print(f"folk export: note: {note}", file=sys.stderr)
    result = export_deployment(args.out, student, options)
    d = result.deployment
    files = [name for name in (d.files.onnx, d.files.tensorrt) if name]
    sizes = ", ".join(f"{name} {(result.folder / name).stat().st_size / 1e6:.2f} MB"
                      for name in files)
    checks = "; ".join(f"{backend}: max |Δ| embeddings {e['embeddings']:.1e}, probabilities "
                       f"{e['probabilities']:.1e}" for backend, e in result.check.items())
    print(f"folk export: {result.folder} ({sizes}; {d.num_classes} classes, "
          f"{d.feature_dim}-dim {d.feature_source} features, {d.precision}, text from "
          f"{text.source})")
    print(f"folk export: checked against the PyTorch student ({checks})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``folk-export`` console script's parser."""
    parser = argparse.ArgumentParser(prog="folk-export", description=DESCRIPTION)
    add_export_options(parser)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an "
                        "error or Ctrl-C (for bug reports)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``folk-export`` console script (errors reported as ``folk``'s are)."""
    from folk.cli import run_reporting_errors

    args = build_parser().parse_args(argv)
    return run_reporting_errors("folk-export", run, args, args.debug)


if __name__ == "__main__":
    sys.exit(main())
