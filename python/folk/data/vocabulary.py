"""Vocabularies (class names + label ids) and text-embedding files, shared by the teacher,
distillation and prediction.

A vocabulary is ``scannet200``, ``replica``, ``synthetic`` (folk's synthetic scenes), a
comma-separated list of names, or a text file with one name per line. Label ids (the integers of the ScanNet submission format): the benchmark's
ids for ``scannet200`` / ``replica``; for a custom list, ScanNet200's ids when every name is a
ScanNet200 class, else Replica's when every name is a Replica class, else 1, 2, … in list order.

Text embeddings come from a file (:func:`load_text_embeddings`: an ``.npz`` with ``names`` and
``embeddings``, as ``folk distill`` writes beside its checkpoints, or a teacher targets file) or
from CLIP's text encoder (:func:`folk.predict.vocabulary.clip_text_embeddings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folk.data.classes import DATASETS, SYNTHETIC_CLASSES, load_class_list
from folk.errors import FolkInputError
from folk.files import save_npz

TEXT_EMBEDDINGS_VERSION = 1
#: The file ``folk distill`` writes beside its checkpoints (the teacher's vocabulary embedded),
#: where ``folk predict`` looks first.
CHECKPOINT_TEXT_EMBEDDINGS = "text_embeddings.npz"


#: ``Vocabulary.id_space`` of a custom list whose label ids are its positions 1..K.
LIST_POSITIONS = "list"


@dataclass(frozen=True)
class Vocabulary:
    names: tuple[str, ...]
    label_ids: tuple[int, ...]
    source: str  # "scannet200", "replica", "list" or the file it came from
    id_space: str = LIST_POSITIONS  # whose ids label_ids are: a benchmark (DATASETS) or "list"

    def __post_init__(self) -> None:
        if not self.names:
            raise FolkInputError("the vocabulary is empty")
        if len(set(self.names)) != len(self.names):
            dup = sorted({n for n in self.names if self.names.count(n) > 1})
            raise FolkInputError(f"the vocabulary names {dup} more than once")
        if len(self.label_ids) != len(self.names):
            raise FolkInputError("vocabulary: one label id per name is needed")

    def __len__(self) -> int:
        return len(self.names)

    def label_ids_note(self) -> str:
        """One sentence saying which label ids submission files of this vocabulary carry."""
        if self.id_space != LIST_POSITIONS:
            return f"label ids are {self.id_space} class ids"
        first = ", ".join(f"{n}={i}" for n, i in zip(self.names[:3], self.label_ids[:3]))
        return (f"label ids are positions 1..{len(self)} in your vocabulary ({first}"
                f"{', ...' if len(self) > 3 else ''}), not ScanNet200 or Replica ids: evaluate "
                "them only against GT numbered the same way")


def _custom_ids(names: tuple[str, ...]) -> tuple[tuple[int, ...], str]:
    """``(label ids, id space)`` of a custom list (see the module docstring)."""
    for dataset in DATASETS:
        classes = load_class_list(dataset)
        if all(n in classes.names for n in names):
            return tuple(classes.id_of(n) for n in names), dataset
    return tuple(range(1, len(names) + 1)), LIST_POSITIONS


def vocabulary_from_names(names, source: str = "list") -> Vocabulary:
    names = tuple(str(n).strip() for n in names)
    if any(not n for n in names):
        raise FolkInputError(f"vocabulary ({source}) has an empty name")
    ids, id_space = _custom_ids(names)
    return Vocabulary(names, ids, source, id_space)


def resolve_vocabulary(spec: str | Path) -> Vocabulary:
    """The vocabulary a command-line value names (see the module docstring)."""
    spec_s = str(spec)
    if spec_s == "synthetic":
        scannet200 = load_class_list("scannet200")
        return Vocabulary(SYNTHETIC_CLASSES,
                          tuple(scannet200.id_of(n) for n in SYNTHETIC_CLASSES), spec_s,
                          "scannet200")
    if spec_s in DATASETS:
        classes = load_class_list(spec_s)
        return Vocabulary(classes.names, classes.ids, spec_s, spec_s)
    path = Path(spec_s)
    if path.is_file():
        lines = [line.strip() for line in path.read_text().splitlines()]
        return vocabulary_from_names([n for n in lines if n and not n.startswith("#")], str(path))
    if "/" in spec_s or spec_s.endswith(".txt"):
        raise FolkInputError("vocabulary file not found", path)
    return vocabulary_from_names([n for n in spec_s.split(",") if n.strip()] or [""], "list")


@dataclass(frozen=True)
class TextEmbeddings:
    """Text embeddings by class name: ``embeddings[i]`` (L2-normalised) belongs to
    ``names[i]``. ``model``: the CLIP model they came from, when known."""

    names: tuple[str, ...]
    embeddings: np.ndarray  # (C, D) float32
    model: str = ""

    def __post_init__(self) -> None:
        e = np.asarray(self.embeddings, dtype=np.float32)
        if e.ndim != 2 or e.shape[0] != len(self.names):
            raise FolkInputError(f"{len(self.names)} names but embeddings of shape {e.shape}")
        if not np.isfinite(e).all():
            raise FolkInputError("text embeddings contain NaN or inf")
        norms = np.linalg.norm(e, axis=1, keepdims=True)
        if (norms == 0).any():
            raise FolkInputError("a text embedding is all zeros")
        object.__setattr__(self, "embeddings", (e / norms).astype(np.float32))

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def select(self, names) -> np.ndarray:
        """``(len(names), D)`` the embeddings of ``names``, in that order."""
        index = {n: i for i, n in enumerate(self.names)}
        missing = [n for n in names if n not in index]
        if missing:
            raise FolkInputError(
                f"no text embedding for {len(missing)} name(s), e.g. {missing[:5]}; the "
                f"embeddings file holds {len(self.names)} names. Use a vocabulary within it, "
                "or compute embeddings with CLIP's text encoder (folk.clip)")
        return self.embeddings[[index[n] for n in names]]


def save_text_embeddings(path: str | Path, text: TextEmbeddings) -> None:
    """``.npz`` with ``names``, ``embeddings``, ``model``, ``format_version`` (atomic)."""
    save_npz(path, format_version=np.array(TEXT_EMBEDDINGS_VERSION), names=np.array(text.names),
             embeddings=text.embeddings, model=np.array(text.model))


def load_text_embeddings(path: str | Path) -> TextEmbeddings:
    """Text embeddings from an ``.npz`` with ``names`` + ``embeddings`` (as
    :func:`save_text_embeddings` writes) or a teacher targets file (``vocabulary`` +
    ``text_embeddings``)."""
    path = Path(path)
    if not path.is_file():
        raise FolkInputError("text embeddings file not found", path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if {"names", "embeddings"} <= set(z.files):
                names, emb = z["names"], z["embeddings"]
                model = str(z["model"]) if "model" in z.files else ""
            elif {"vocabulary", "text_embeddings"} <= set(z.files):
                names, emb, model = z["vocabulary"], z["text_embeddings"], ""
            else:
                raise FolkInputError(f"holds {sorted(z.files)}; expected 'names' + 'embeddings' "
                                     "(or a teacher targets file)", path)
            return TextEmbeddings(tuple(str(n) for n in names), emb, model)
    except FolkInputError as exc:
        if exc.path is None:
            raise FolkInputError(str(exc), path) from None
        raise
    except (ValueError, OSError, KeyError) as exc:
        raise FolkInputError(f"not a text embeddings file ({exc})", path) from None
