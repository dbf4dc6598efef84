"""The layer order of folk, written once: which module may import which.

folk's packages follow its pipeline, and an import may only point *down* this list (or stay
within its own layer)::

    foundation   folk (the package), folk.errors (errors and warnings), folk.files,
                 folk.layers, folk._lazy, folk.progress (progress bars or log lines)
    data         folk.data: the scene model, readers and file formats of what users bring
                 (scenes, proposals, features, GT), class lists and vocabularies, the CSR
                 proposal membership
    synthetic    folk.synthetic: a source of scenes (writes the ScanNet layout folk.data reads)
    features     folk.features: per-point features of a scene
    proposals    folk.proposals: class-agnostic instance proposals (files, NMS, geometric)
    ops          folk.ops: the teacher's geometry kernels (visibility, views, mask completion),
                 the segment mean and the superpoints (ScanNet's mesh segmentator)
    clip         folk.clip: CLIP loading, dense features, mask pooling, text embeddings
    teacher      folk.teacher: teacher targets (ops + clip on the images)
    student      folk.student: the student's model (segment mean + VL-adapter), the per-scene
                 inputs it reads and its classification rule — defined before it is trained
                 (distill) or used (predict), which both build on them
    distill      folk.distill: training the student on teacher targets
    predict      folk.predict: image-free predictions, their types and the submission files
    export       folk.export: the student + a vocabulary as a deployment folder (ONNX) for
                 the torch-free runtime; after predict, whose vocabulary and text embeddings
                 it packages
    evaluation   folk.evaluation: the benchmark protocol (AP) on predictions, and the AP of a
                 student during distillation (handed to the trainer as a plain callable)
    show         folk.show: pictures and coloured PLY files of predictions, ground truth and
                 the teacher's views, and the web viewer with live text queries (folk view,
                 on viser); after evaluation because it draws what every step
                 before it produces (scenes, teacher views, predictions matched to GT) and
                 nothing in the pipeline depends on it
    app          the command line: folk.cli, folk.cli_args, folk.demo and every ``cli`` /
                 ``*_cli`` module; it wires the library together and may import anything

Why this order: each step consumes only what the steps before it produce (scene data →
proposals / features → teacher geometry → CLIP pooling → teacher targets → student →
distillation → prediction → evaluation). Evaluation comes last because it judges
predictions; the trainer, which wants an AP per epoch, does not import it but takes a
``Callable[[VLAdapter], dict]`` that the app layer builds (``folk distill --gt``). Command-line
modules sit on top so that each library layer stays usable without argparse.

``tests/test_layers.py`` walks every module under ``folk`` (imports inside functions
included) and fails on an import that points up this list.
"""

from __future__ import annotations

#: ``(layer name, module prefixes)`` from the bottom up. A module belongs to the layer of the
#: longest prefix it matches (a prefix matches itself and its submodules), except that
#: command-line modules (:func:`is_app_module`) always belong to ``app``.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("folk._lazy", "folk.errors", "folk.files", "folk.layers",
                    "folk.progress")),
    ("data", ("folk.data",)),
    ("synthetic", ("folk.synthetic",)),
    ("features", ("folk.features",)),
    ("proposals", ("folk.proposals",)),
    ("ops", ("folk.ops",)),
    ("clip", ("folk.clip",)),
    ("teacher", ("folk.teacher",)),
    ("student", ("folk.student",)),
    ("distill", ("folk.distill",)),
    ("predict", ("folk.predict",)),
    ("export", ("folk.export",)),
    ("evaluation", ("folk.evaluation",)),
    ("show", ("folk.show",)),
    ("app", ("folk.cli", "folk.cli_args", "folk.demo")),
)

#: The package itself (``folk/__init__.py``: version, the base errors) is foundation.
_PACKAGE = "folk"


def is_app_module(module: str) -> bool:
    """Command-line modules: ``folk.cli``, ``folk.cli_args``, ``folk.demo``, and any
    ``folk.<package>.cli`` or ``folk.<package>.<name>_cli``."""
    last = module.rsplit(".", 1)[-1]
    return module in ("folk.cli", "folk.cli_args", "folk.demo") or last == "cli" \
        or last.endswith("_cli")


def layer_of(module: str) -> tuple[int, str]:
    """``(position, layer name)`` of a ``folk`` module (0 = the bottom). Raises
    :class:`KeyError` for a module no layer names (add it to :data:`LAYERS`)."""
    if is_app_module(module):
        return len(LAYERS) - 1, "app"
    if module == _PACKAGE:
        return 0, "foundation"
    best: tuple[int, int, str] | None = None  # (prefix length, position, name)
    for position, (name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[0]):
                best = (len(prefix), position, name)
    if best is None:
        raise KeyError(f"{module} is in no layer of folk.layers.LAYERS")
    return best[1], best[2]


def may_import(importer: str, imported: str) -> bool:
    """Whether module ``importer`` may import module ``imported`` (both under ``folk``)."""
    return layer_of(imported)[0] <= layer_of(importer)[0]
