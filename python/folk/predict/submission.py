"""Predictions in the ScanNet benchmark submission format, written (``folk predict``) and read
(``folk eval``) here, in one place.

```
<out>/<scene>.txt                 one line per instance: "pred_mask/<scene>_<k>.txt <label_id> <confidence>"
<out>/pred_mask/<scene>_<k>.txt   one 0/1 per vertex
```
Mask paths are relative to the folder of ``<scene>.txt`` and must stay inside it; any nonzero
integer in a mask file marks a vertex of the instance (as the reference reads it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from folk.data.int_lines import read_int_lines, scene_files
from folk.errors import FolkInputError
from folk.files import atomic_open, write_text
from folk.predict.instances import InstancePrediction

MASK_FOLDER = "pred_mask"


def _check_scene_name(scene: str) -> None:
    if not scene or any(c.isspace() for c in scene) or "/" in scene or "\\" in scene:
        raise FolkInputError(f"invalid scene name {scene!r}: no spaces or path separators allowed")


def write_submission(out_dir: str | Path, scene: str, prediction: InstancePrediction) -> Path:
    """Write ``prediction`` as ``<out_dir>/<scene>.txt`` plus its mask files; returns the
    scene file. Every file is written atomically, the scene file last, so an interrupted
    write never leaves a scene file naming missing masks; a write that fails (full disk,
    Ctrl-C) removes what it wrote of the scene, and its scene file, which would no longer
    match its masks."""
    _check_scene_name(scene)
    out_dir = Path(out_dir)
    lines = []
    buffer = np.full(2 * prediction.num_vertices, ord("\n"), dtype=np.uint8)
    rows = prediction.instance_masks()
    scene_file = out_dir / f"{scene}.txt"
    written: list[Path] = []
    try:
        for k in range(len(prediction)):
            relative = f"{MASK_FOLDER}/{scene}_{k}.txt"
            buffer[0::2] = rows[k].view(np.uint8) + ord("0")
            with atomic_open(out_dir / relative, "wb") as handle:
                handle.write(buffer.tobytes())
            written.append(out_dir / relative)
            label = int(prediction.label_ids[k])
            lines.append(f"{relative} {label} {float(prediction.confidences[k])!r}\n")
        write_text(scene_file, "".join(lines))
    except BaseException:
        for path in [*written, scene_file] if written else []:
            path.unlink(missing_ok=True)
        raise
    return scene_file


def looks_like_submission(scene_file: Path) -> bool:
    """Whether an existing ``<scene>.txt`` is a submission file (empty, or its first line
    names a file under ``pred_mask/``), not e.g. ground truth (one integer per vertex)."""
    with open(scene_file, "rb") as handle:
        first = handle.readline().split()
    return not first or (len(first) == 3 and first[0].startswith(f"{MASK_FOLDER}/".encode()))


def check_replaceable(out_dir: str | Path, scenes: list[str]) -> None:
    """Refuse to write predictions of ``scenes`` into ``out_dir`` when one would replace a
    ``<scene>.txt`` that is not a submission file (a ground-truth folder given as output)."""
    for scene in scenes:
        path = Path(out_dir) / f"{scene}.txt"
        if path.is_file() and not looks_like_submission(path):
            raise FolkInputError("exists and is not a prediction file (ground truth?): refusing "
                                 "to overwrite it with predictions; choose another output "
                                 "folder", path)


def prediction_scene_files(pred_dir: str | Path) -> dict[str, Path]:
    """``{scene: path}`` for every ``<scene>.txt`` directly inside ``pred_dir``."""
    return scene_files(Path(pred_dir), "prediction")


def read_submission(
    scene_file: str | Path, num_vertices: int | None = None, *, root: str | Path | None = None
) -> InstancePrediction:
    """Read one scene's predictions from its ``<scene>.txt``.

    ``num_vertices``: when given, every mask must have that many lines (else the error names
    the mask file). ``root``: folder the mask files must stay inside (default: the folder of
    ``scene_file``).
    """
    scene_file = Path(scene_file)
    base = scene_file.parent
    root = Path(root if root is not None else base).resolve()
    try:
        text = scene_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FolkInputError("prediction file does not exist", scene_file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FolkInputError(f"cannot read prediction file: {exc}", scene_file) from None

    masks, labels, confidences, seen = [], [], [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        mask_name, label, confidence = _parse_line(line, number, scene_file)
        mask_path = (base / mask_name).resolve()
        if not mask_path.is_relative_to(root):
            raise FolkInputError(
                f"line {number}: mask {mask_name} points outside {root}", scene_file
            )
        if mask_path in seen:
            raise FolkInputError(f"line {number}: mask {mask_name} is listed twice", scene_file)
        seen.add(mask_path)
        mask = read_int_lines(base / mask_name, "prediction mask")
        expected = num_vertices if num_vertices is not None else (masks[0].size if masks else None)
        if expected is not None and mask.size != expected:
            what = "the ground truth has" if num_vertices is not None else "the first mask has"
            raise FolkInputError(
                f"mask has {mask.size} values but {what} {expected} vertices", base / mask_name
            )
        masks.append(mask != 0)
        labels.append(label)
        confidences.append(confidence)
    if not masks:
        return InstancePrediction.empty(num_vertices or 0)
    return InstancePrediction(np.stack(masks, axis=1), np.asarray(labels),
                              np.asarray(confidences))


def _parse_line(line: str, number: int, path: Path) -> tuple[str, int, float]:
    parts = line.split()
    if len(parts) != 3:
        raise FolkInputError(
            f"line {number}: expected '<relative mask path> <label id> <confidence>', got "
            f"{line.strip()[:80]!r}",
            path,
        )
    mask_name, label_text, confidence_text = parts
    if Path(mask_name).is_absolute():
        raise FolkInputError(f"line {number}: mask path must be relative, got {mask_name}", path)
    try:
        label_value = float(label_text)
        confidence = float(confidence_text)
    except ValueError:
        raise FolkInputError(
            f"line {number}: label id and confidence must be numbers, got {label_text!r} and "
            f"{confidence_text!r}",
            path,
        ) from None
    if not label_value.is_integer():
        raise FolkInputError(f"line {number}: label id must be an integer, got {label_text}", path)
    if not math.isfinite(confidence):
        raise FolkInputError(
            f"line {number}: confidence must be finite, got {confidence_text}", path
        )
    return mask_name, int(label_value), confidence
