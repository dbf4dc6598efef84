"""Text embeddings from CLIP's text encoder for any vocabulary; vocabularies and embedding
files themselves live in :mod:`folk.data.vocabulary` (re-exported here)."""

from __future__ import annotations

from pathlib import Path

from folk.data.vocabulary import (
    TEXT_EMBEDDINGS_VERSION,
    TextEmbeddings,
    Vocabulary,
    load_text_embeddings,
    resolve_vocabulary,
    save_text_embeddings,
    vocabulary_from_names,
)
from folk.errors import FolkInputError

__all__ = ["TEXT_EMBEDDINGS_VERSION", "TextEmbeddings", "Vocabulary", "clip_text_embeddings",
           "load_text_embeddings", "resolve_vocabulary", "save_text_embeddings",
           "vocabulary_from_names"]


def clip_text_embeddings(names, model: str, *, pretrained: str | None = None,
                         checkpoint: str | Path | None = None, cache_dir: str | Path | None = None,
                         text_cache_dir: str | Path | None = None, template: str | None = None,
                         expected_identity: str | None = None, device: str = "cpu",
                         ) -> TextEmbeddings:
    """Embeddings of ``template.format(name)`` from CLIP's text encoder (:mod:`folk.clip`,
    cached on disk per model and vocabulary). ``expected_identity``: the CLIP the student was
    distilled against (from its checkpoint); another one is an error, since the student's
    embeddings live in that model's joint space only."""
    from folk.clip import TEMPLATE, load_clip, text_embeddings

    clip = load_clip(model, pretrained=pretrained, checkpoint=checkpoint, cache_dir=cache_dir,
                     device=device)
    if expected_identity and clip.identity != expected_identity:
        raise FolkInputError(f"the student was distilled against CLIP {expected_identity!r} but "
                             f"the CLIP given is {clip.identity!r}; pass the same weights "
                             "(--clip-model/--clip-pretrained/--clip-checkpoint)")
    emb = text_embeddings(clip, list(names), template or TEMPLATE,
                          text_cache_dir if text_cache_dir is not None else None)
    return TextEmbeddings(tuple(names), emb, clip.identity)
