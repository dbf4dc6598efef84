"""What ``folk view`` computes, without the web viewer: a scene's instances with their student
embeddings (computed once at load), free-text phrases turned into embeddings through the
student's own CLIP (cached per phrase) and the instances scored and coloured by their cosine
similarity to a phrase. No images are read; a query after the first costs one text-encoder pass
and a matrix-vector product."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from folk.clip.text import untrained_words_message
from folk.data.vocabulary import CHECKPOINT_TEXT_EMBEDDINGS, TextEmbeddings, load_text_embeddings
from folk.errors import FolkInputError, UntrainedWordWarning
from folk.predict.vocabulary import ClipChoice, load_checked_clip, student_clip_request
from folk.show.palette import assign_colors, instance_point_colors, point_instance
from folk.show.scene_ply import similarity_colors

#: How many of the best matches of a query are labelled with their name and similarity.
LABELLED_MATCHES = 3


@dataclass(frozen=True)
class ViewInstances:
    """The instances a viewer shows: ``masks`` ``(N, K)`` (the proposals kept by NMS), their
    unit-length student ``embeddings`` ``(K, D)``, ``names`` (a class name, or ``#q``),
    ``centers`` ``(K, 3)`` where their labels go, and ``owner`` ``(N,)``, the instance each
    point is drawn with (−1: none; the highest-scoring one where they overlap)."""

    masks: np.ndarray
    embeddings: np.ndarray
    names: tuple[str, ...]
    centers: np.ndarray
    owner: np.ndarray


def view_instances(points: np.ndarray, masks: np.ndarray, embeddings: np.ndarray,
                   scores: np.ndarray, names: tuple[str, ...]) -> ViewInstances:
    """:class:`ViewInstances` of the kept proposals ``masks`` and their student embeddings."""
    emb = np.asarray(embeddings, np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb / np.where(norms > 0, norms, 1.0)
    counts = np.maximum(masks.sum(axis=0), 1)[:, None]
    centers = (masks.T.astype(np.float32) @ points.astype(np.float32)) / counts
    owner = point_instance(masks, np.argsort(scores, kind="stable"))
    return ViewInstances(masks, emb, tuple(names), centers, owner)


def similarities(instances: ViewInstances, text_embedding: np.ndarray) -> np.ndarray:
    """``(K,) float32`` cosine similarity of each instance to ``text_embedding`` ``(D,)``."""
    t = np.asarray(text_embedding, np.float32).reshape(-1)
    if t.shape[0] != instances.embeddings.shape[1]:
        raise FolkInputError(f"the text embedding has {t.shape[0]} dims, the student's "
                             f"{instances.embeddings.shape[1]}")
    norm = float(np.linalg.norm(t))
    if not np.isfinite(norm) or norm == 0:
        raise FolkInputError("the text embedding is zero or not finite")
    return instances.embeddings @ (t / norm)


def query_point_colors(instances: ViewInstances, similarity: np.ndarray,
                       background: np.ndarray) -> np.ndarray:
    """``(N, 3) uint8``: each instance's points on the similarity ramp (best match: the warm
    end, :data:`folk.show.scene_ply.SIMILARITY_RAMP`), points of no instance ``background``."""
    out = np.array(background, np.uint8, copy=True)
    if similarity.size == 0:
        return out
    table = similarity_colors(similarity)
    has = instances.owner >= 0
    out[has] = table[instances.owner[has]]
    return out


def best_matches(similarity: np.ndarray, count: int = LABELLED_MATCHES) -> np.ndarray:
    """Indices of the ``count`` most similar instances, best first."""
    return np.argsort(-similarity, kind="stable")[:count]


def instance_colors(instances: ViewInstances, scan_colors: np.ndarray,
                    gt_masks: np.ndarray | None = None, gt_owner: np.ndarray | None = None,
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(prediction colours, GT colours or None)`` per point: :mod:`folk.show.palette`'s
    colours, a prediction matched to a GT instance in that instance's colour (``gt_owner``:
    :func:`folk.show.palette.point_instance` of ``gt_masks``)."""
    colors = assign_colors(instances.masks, gt_masks)
    pred = instance_point_colors(instances.owner, colors.pred, scan_colors)
    if gt_masks is None:
        return pred, None
    owner = point_instance(gt_masks) if gt_owner is None else gt_owner
    return pred, instance_point_colors(owner, colors.gt, scan_colors)


class PhraseEncoder:
    """Phrase → ``(D,)`` text embedding for a student, as ``folk query`` resolves text: a name
    of ``embeddings_file`` or of the embeddings beside the checkpoint when it holds the
    phrase, else the student's CLIP (its identity checked against the checkpoint's; loaded at
    the first such phrase, then kept). Every phrase is embedded once, then cached."""

    def __init__(self, checkpoint: str | Path, meta: dict[str, Any] | None,
                 embeddings_file: str | Path | None = None, clip: ClipChoice | None = None):
        clip = clip or ClipChoice()
        self._meta, self._choice = meta, clip
        self._fixed: TextEmbeddings | None = None
        if embeddings_file is not None:
            self._fixed = load_text_embeddings(embeddings_file)
        else:
            ckpt = Path(checkpoint)
            beside = (ckpt if ckpt.is_dir() else ckpt.parent) / CHECKPOINT_TEXT_EMBEDDINGS
            if beside.is_file() and clip.model is None:
                self._fixed = load_text_embeddings(beside)
        self._clip = None
        self._template = None
        self._cache: dict[str, np.ndarray] = {}
        self._cautions: dict[str, str] = {}

    def __call__(self, phrase: str) -> np.ndarray:
        phrase = phrase.strip()
        if not phrase:
            raise FolkInputError("the query is empty")
        if phrase not in self._cache:
            self._cache[phrase] = self._embed(phrase)
        return self._cache[phrase]

    def caution(self, phrase: str) -> str | None:
        """A warning about ``phrase``'s embedding (the CLIP never saw the word in training),
        or None; known once the phrase has been embedded."""
        return self._cautions.get(phrase.strip())

    def _embed(self, phrase: str) -> np.ndarray:
        if self._fixed is not None and phrase in self._fixed.names:
            return self._fixed.select([phrase])[0]
        if self._clip is None:
            self._load_clip()
        caution = untrained_words_message(self._clip, [phrase])
        if caution is not None:
            self._cautions[phrase] = caution
            warnings.warn(UntrainedWordWarning(caution), stacklevel=2)
        return self._clip.encode_texts([self._template.format(phrase)])[0]

    def _load_clip(self) -> None:
        import torch

        from folk.clip import TEMPLATE

        # A phrase is one short text-encoder pass: threads beyond the cores this process may
        # use, less one for the server sending colours, only wait on each other (measured:
        # 130 ms per new phrase with 16 threads on 2 cores, 20-35 ms with 1).
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) - 1))
        request = student_clip_request(self._meta, self._choice)
        self._template = request.pop("template") or TEMPLATE
        self._clip = load_checked_clip(**request)
