"""Text embeddings of a vocabulary for a distilled student, from wherever they are: an
embeddings file, the cache ``folk distill`` writes beside its checkpoint, or CLIP's text encoder
(checked to be the CLIP the student was distilled against). Vocabularies and embedding files
themselves live in :mod:`folk.data.vocabulary` (re-exported here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from folk.data.vocabulary import (
    CHECKPOINT_TEXT_EMBEDDINGS,
    TEXT_EMBEDDINGS_VERSION,
    TextEmbeddings,
    Vocabulary,
    load_text_embeddings,
    resolve_vocabulary,
    save_text_embeddings,
    vocabulary_from_names,
)
from folk.errors import FolkInputError

__all__ = [
    "TEXT_EMBEDDINGS_VERSION",
    "ClipChoice",
    "StudentText",
    "TextEmbeddings",
    "Vocabulary",
    "clip_text_embeddings",
    "load_checked_clip",
    "load_text_embeddings",
    "resolve_vocabulary",
    "save_text_embeddings",
    "student_clip_request",
    "student_text",
    "student_text_embeddings",
    "vocabulary_from_names",
]


def load_checked_clip(model: str, *, pretrained: str | None = None,
                      checkpoint: str | Path | None = None, cache_dir: str | Path | None = None,
                      expected_identity: str | None = None, device: str = "cpu"):
    """CLIP ``model`` (:func:`folk.clip.load_clip`), refused when it is not
    ``expected_identity``, the CLIP the student was distilled against (from its checkpoint):
    the student's embeddings live in that model's joint space only."""
    from folk.clip import load_clip

    clip = load_clip(model, pretrained=pretrained, checkpoint=checkpoint, cache_dir=cache_dir,
                     device=device)
    if expected_identity and clip.identity != expected_identity:
        raise FolkInputError(f"the student was distilled against CLIP {expected_identity!r} but "
                             f"the CLIP given is {clip.identity!r}; pass the same weights "
                             "(--clip-model/--clip-pretrained/--clip-checkpoint)")
    return clip


def clip_text_embeddings(names, model: str, *, pretrained: str | None = None,
                         checkpoint: str | Path | None = None, cache_dir: str | Path | None = None,
                         text_cache_dir: str | Path | None = None, template: str | None = None,
                         expected_identity: str | None = None, device: str = "cpu",
                         ) -> TextEmbeddings:
    """Embeddings of ``template.format(name)`` from CLIP's text encoder (:mod:`folk.clip`,
    cached on disk per model and vocabulary), checked by :func:`load_checked_clip`."""
    from folk.clip import TEMPLATE, text_embeddings

    clip = load_checked_clip(model, pretrained=pretrained, checkpoint=checkpoint,
                             cache_dir=cache_dir, expected_identity=expected_identity,
                             device=device)
    emb = text_embeddings(clip, list(names), template or TEMPLATE,
                          text_cache_dir if text_cache_dir is not None else None)
    return TextEmbeddings(tuple(names), emb, clip.identity)


@dataclass(frozen=True)
class ClipChoice:
    """Which CLIP encodes text when no embeddings file covers a vocabulary. ``model`` None: the
    CLIP recorded in the student's checkpoint (its tag too, unless another model is named).
    ``cache_dir``: where cached weight tags are looked up; ``text_cache_dir``: the text cache."""

    model: str | None = None
    pretrained: str | None = None
    checkpoint: str | None = None
    cache_dir: str | None = None
    text_cache_dir: str | None = None
    device: str = "cpu"


@dataclass(frozen=True)
class StudentText:
    """Text embeddings for a student: ``embeddings (C, D)``, a description of ``source`` (a
    file, or ``CLIP <identity>``) and the identity of the CLIP ``model`` they came from
    (``name|tag|sha256:…`` as :class:`folk.clip.ClipModel` writes it; "" when unrecorded)."""

    embeddings: np.ndarray
    source: str
    model: str


def student_text_embeddings(names, checkpoint: str | Path, meta: dict[str, Any] | None = None,
                            *, embeddings_file: str | Path | None = None,
                            clip: ClipChoice = ClipChoice()) -> tuple[np.ndarray, str]:
    """``(embeddings, source)`` of :func:`student_text`."""
    text = student_text(names, checkpoint, meta, embeddings_file=embeddings_file, clip=clip)
    return text.embeddings, text.source


def student_text(names, checkpoint: str | Path, meta: dict[str, Any] | None = None,
                 *, embeddings_file: str | Path | None = None,
                 clip: ClipChoice = ClipChoice()) -> StudentText:
    """The ``(C, D)`` embeddings of ``names`` for the student of ``checkpoint`` (a checkpoint
    file or its directory; ``meta``: its metadata), where they came from and their CLIP:

    1. ``embeddings_file`` when given (``.npz`` with names + embeddings, or teacher targets);
    2. else :data:`CHECKPOINT_TEXT_EMBEDDINGS` beside the checkpoint, when it holds every name
       and no other CLIP model is asked for;
    3. else CLIP's text encoder: ``clip``, by default the CLIP recorded in the checkpoint, whose
       identity must match (the student's embeddings live in that model's joint space only).
    """
    names = list(names)
    if embeddings_file is not None:
        given = load_text_embeddings(embeddings_file)
        return StudentText(given.select(names), str(embeddings_file), given.model)
    ckpt = Path(checkpoint)
    beside = (ckpt if ckpt.is_dir() else ckpt.parent) / CHECKPOINT_TEXT_EMBEDDINGS
    if beside.is_file() and clip.model is None:
        cached = load_text_embeddings(beside)
        if set(names) <= set(cached.names):
            return StudentText(cached.select(names), str(beside), cached.model)
    text = clip_text_embeddings(names, text_cache_dir=clip.text_cache_dir,
                                **student_clip_request(meta, clip))
    return StudentText(text.embeddings, f"CLIP {text.model}", text.model)


def student_clip_request(meta: dict[str, Any] | None, clip: ClipChoice = ClipChoice(),
                         ) -> dict[str, Any]:
    """The keyword arguments of :func:`clip_text_embeddings` (less the text cache) for the
    CLIP of a student (``meta``: its checkpoint's metadata): ``clip``, by default the CLIP
    recorded in the checkpoint, whose identity must match, and the checkpoint's template."""
    recorded = dict((meta or {}).get("clip") or {})
    model = clip.model or recorded.get("model")
    if model is None:
        raise FolkInputError(
            "no text embeddings for this vocabulary: pass --text-embeddings FILE.npz (names + "
            "embeddings) or name the CLIP the student was distilled against (--clip-model, "
            "--clip-pretrained / --clip-checkpoint)")
    same = clip.model is None or clip.model == recorded.get("model")
    return {"model": model,
            "pretrained": clip.pretrained or (recorded.get("pretrained") if same else None),
            "checkpoint": clip.checkpoint, "cache_dir": clip.cache_dir,
            "template": (meta or {}).get("template") or None,
            "expected_identity": recorded.get("identity") if same else None,
            "device": clip.device}
