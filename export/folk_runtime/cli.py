"""``folk-runtime``: label one scene's proposals with a deployment folder, without torch.

    folk-runtime DEPLOY --features F.npy --proposals P.npz [--scores S.npy] [--out OUT.json]

* ``--features``: ``(N, C)`` point features, ``.npy`` (or ``.npz`` with array ``features`` or
  a single array).
* ``--proposals``: ``.npz`` holding either ``masks`` ``(N, Q)`` bool (column q = proposal q) or
  the CSR pair ``offsets`` ``(Q + 1,)`` + ``indices`` ``(M,)``; optionally ``scores`` ``(Q,)``.
* ``--scores``: ``(Q,)`` ``.npy``, overriding the ``.npz``'s; without either, every proposal
  scores 1.

Prints one line per instance (highest confidence first): proposal index, label, label id,
confidence; ``--out`` also writes them as JSON (atomically). Bad input: one line on stderr and
exit status 2, no traceback; a warning (e.g. from NumPy or onnxruntime's Python side): one line
``folk-runtime: warning: ...`` on stderr, without the file, line number or source excerpt.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from folk_runtime import __version__
from folk_runtime.csr import masks_to_membership
from folk_runtime.errors import FolkRuntimeError, RuntimeInputError
from folk_runtime.manifest import readable_mode

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="folk-runtime",
        description="Label a scene's instance proposals with a folk deployment folder "
                    "(written by folk-export), with ONNX Runtime or TensorRT; no torch.")
    p.add_argument("deployment", metavar="DEPLOY", help="deployment folder (manifest.json, "
                                                          "model.onnx[, model.plan])")
    p.add_argument("--features", required=True, metavar="F.npy",
                   help="(N, C) point features (.npy, or .npz with array 'features')")
    p.add_argument("--proposals", required=True, metavar="P.npz",
                   help=".npz with 'masks' (N, Q) bool, or 'offsets' (Q+1,) and 'indices' (M,)"
                        "; optionally 'scores' (Q,)")
    p.add_argument("--scores", metavar="S.npy", help="(Q,) proposal scores (default: the "
                                                      ".npz's 'scores', else 1 each)")
    p.add_argument("--out", metavar="OUT.json", help="also write the instances as JSON")
    p.add_argument("--backend", choices=("onnxruntime", "tensorrt"), default="onnxruntime",
                   help="graph backend (default onnxruntime; tensorrt needs model.plan, "
                        "TensorRT and an NVIDIA GPU)")
    p.add_argument("--providers", help="comma-separated onnxruntime execution providers "
                                       "(default: CUDA then CPU when available, else CPU)")
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime intra-op threads (default: onnxruntime's; 1 for graphs "
                        "whose ScatterND onnxruntime cannot run on several threads)")
    p.add_argument("--no-nms", action="store_true", help="label every proposal (no mask NMS)")
    p.add_argument("--nms-iou", type=float, default=None,
                   help="NMS IoU threshold (default: the manifest's nms_iou)")
    p.add_argument("--confidence-one", action="store_true",
                   help="every confidence = 1 (as OpenMask3D / Open-YOLO 3D evaluate)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--version", action="version", version=f"folk-runtime {__version__}")
    return p


def _np_load(path: str, what: str):
    """``np.load`` of a user's file (never unpickling), with one-line errors naming it."""
    file = Path(path)
    if not file.is_file():
        raise RuntimeInputError(f"{file}: {what} file not found")
    try:
        return file, np.load(file, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - numpy raises many kinds on a bad file
        raise RuntimeInputError(f"{file}: not a readable .npy/.npz ({exc.__class__.__name__})"
                                ) from None


def _load_array(path: str, what: str, key: str | None = None) -> np.ndarray:
    file, data = _np_load(path, what)
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            if key is not None and key in data.files:
                return data[key]
            if len(data.files) == 1:
                return data[data.files[0]]
            raise RuntimeInputError(f"{file}: the .npz has arrays {data.files}; expected "
                                    f"{key!r} or a single array")
    return data


def load_proposals(path: str) -> tuple[np.ndarray, np.ndarray, int | None, np.ndarray | None]:
    """``(offsets, indices, num_points or None, scores or None)`` of a proposals ``.npz``."""
    file, data = _np_load(path, "proposals")
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise RuntimeInputError(f"{file}: proposals must be an .npz with 'masks' or "
                                "'offsets' + 'indices'")
    with data:
        scores = data["scores"] if "scores" in data.files else None
        if "masks" in data.files:
            masks = data["masks"]
            if masks.ndim != 2:
                raise RuntimeInputError(f"{file}: 'masks' must be (N, Q), got {masks.shape}")
            membership = masks_to_membership(masks)
            return membership.offsets, membership.indices, masks.shape[0], scores
        if "offsets" in data.files and "indices" in data.files:
            return data["offsets"], data["indices"], None, scores
    raise RuntimeInputError(f"{file}: expected array 'masks' (N, Q) or arrays 'offsets' and "
                            f"'indices'; it has {data.files}")


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(obj, handle, indent=2)
            handle.write("\n")
        os.chmod(tmp, readable_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def run(args: argparse.Namespace) -> int:
    from folk_runtime.runtime import Runtime

    features = _load_array(args.features, "features", "features")
    offsets, indices, num_points, scores = load_proposals(args.proposals)
    if num_points is not None and features.ndim == 2 and features.shape[0] != num_points:
        raise RuntimeInputError(f"the features have {features.shape[0]} points but the masks "
                                f"in {args.proposals} have {num_points} rows")
    if args.scores:
        scores = _load_array(args.scores, "scores", "scores")
    providers = args.providers.split(",") if args.providers else None
    runtime = Runtime(args.deployment, backend=args.backend, providers=providers,
                      threads=args.threads)
    labels = runtime.label(features, offsets, indices, scores, nms=not args.no_nms,
                           iou_threshold=args.nms_iou, confidence_one=args.confidence_one)
    instances = [{"proposal": int(q), "label": name,
                  "label_id": None if labels.label_ids is None else int(labels.label_ids[k]),
                  "label_index": int(labels.labels[k]), "confidence": float(labels.confidence[k])}
                 for k, (q, name) in enumerate(zip(labels.kept.tolist(), labels.names,
                                                   strict=True))]
    if args.out:
        _write_json(Path(args.out), {
            "deployment": str(args.deployment), "backend": args.backend,
            "providers": runtime.providers, "threads": runtime.threads,
            "proposals": int(len(offsets) - 1),
            "empty_proposals_dropped": labels.empty.tolist(), "instances": instances,
            "seconds": labels.timings})
    if not args.quiet:
        print(f"{len(instances)} instance(s) from {len(offsets) - 1} proposal(s)"
              + (f"; {labels.empty.size} empty proposal(s) dropped" if labels.empty.size else ""))
        for item in instances:
            label_id = "-" if item["label_id"] is None else item["label_id"]
            print(f"{item['proposal']:6d}  {item['label']:<24s} {label_id!s:>6}  "
                  f"{item['confidence']:.4f}")
    return 0


@contextlib.contextmanager
def one_line_warnings():
    """While the block runs, each warning shown is one line ``folk-runtime: warning:
    <message>`` (whitespace collapsed; no file, line number or source excerpt). Only the format
    changes: where warnings go, and whether they are shown or recorded, stays as it was."""
    def format_one_line(message, category, filename, lineno, line=None) -> str:
        return f"folk-runtime: warning: {' '.join(str(message).split())}\n"

    previous = warnings.formatwarning
    warnings.formatwarning = format_one_line
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with one_line_warnings():
            return run(args)
    except FolkRuntimeError as exc:
        print(f"folk-runtime: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"folk-runtime: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
