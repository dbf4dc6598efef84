"""Text embeddings of class prompts, cached on disk per (model, vocabulary, template).

The cache key is the SHA-256 of the model identity (name, tag and checkpoint SHA-256, see
:func:`folk.clip.loader.load_clip`), the prompt template and the vocabulary in order. A file whose
stored key differs from the one asked for (stale, or a truncated-hash collision) or which cannot
be read is recomputed and overwritten; files are written atomically (``folk.files.save_npz``),
so an interrupted write never leaves a file a later run trusts.

Default cache folder: ``$FOLK_CACHE_DIR/text`` or ``~/.cache/folk/text``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from folk.clip.defaults import TEMPLATE
from folk.errors import UntrainedWordWarning
from folk.files import save_npz

if TYPE_CHECKING:
    from folk.clip.loader import ClipModel

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    root = os.environ.get("FOLK_CACHE_DIR")
    return (Path(root) if root else Path("~/.cache/folk").expanduser()) / "text"


def prompts(vocabulary: Sequence[str], template: str = TEMPLATE) -> list[str]:
    if "{}" not in template:
        raise ValueError(f"prompt template {template!r} has no '{{}}' for the class name")
    return [template.format(c) for c in vocabulary]


def cache_key(identity: str, vocabulary: Sequence[str], template: str = TEMPLATE) -> str:
    blob = json.dumps({"v": CACHE_VERSION, "model": identity, "template": template,
                       "vocabulary": list(vocabulary)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_path(cache_dir: Path, clip: ClipModel, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", clip.name)
    return Path(cache_dir) / f"{safe}-{key[:20]}.npz"


def untrained_words_message(clip: ClipModel, words: Sequence[str]) -> str | None:
    """What to tell a user whose ``words`` include names ``clip`` never saw in training (it
    knows a small vocabulary only: folk's small CLIP); ``None`` when there are none."""
    known = clip.trained_vocabulary
    unknown = [w for w in words if known is not None and w not in known]
    if not unknown:
        return None
    shown = ", ".join(repr(w) for w in unknown[:5]) + (
        f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
    return (f"{clip.name} was trained on {len(known)} synthetic object names only "
            f"({', '.join(known)}); it never saw {shown}, whose scores mean little; use a "
            "general CLIP (--clip-model with --clip-pretrained or --clip-checkpoint) for them")


def warn_untrained_words(clip: ClipModel, words: Sequence[str]) -> None:
    """Warn (:class:`folk.errors.UntrainedWordWarning`) with :func:`untrained_words_message`."""
    message = untrained_words_message(clip, words)
    if message is not None:
        warnings.warn(UntrainedWordWarning(message), stacklevel=3)


def text_embeddings(clip: ClipModel, vocabulary: Sequence[str], template: str = TEMPLATE,
                    cache_dir: str | Path | None | bool = None) -> np.ndarray:
    """``(C, D)`` float32 L2-normalised embeddings of ``template.format(c)`` for each class.

    ``cache_dir``: folder of the disk cache (``None``: the default; ``False``: no cache).
    Warns (:class:`folk.errors.UntrainedWordWarning`) on names the model never saw in training.
    """
    vocabulary = [str(c) for c in vocabulary]
    warn_untrained_words(clip, vocabulary)
    if cache_dir is False:
        return clip.encode_texts(prompts(vocabulary, template))
    folder = default_cache_dir() if cache_dir in (None, True) else Path(cache_dir)
    key = cache_key(clip.identity, vocabulary, template)
    path = cache_path(folder, clip, key)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["key"]) == key and z["embeddings"].shape[0] == len(vocabulary):
                    return z["embeddings"].astype(np.float32)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
            pass  # unreadable or foreign: recompute below
    emb = clip.encode_texts(prompts(vocabulary, template)).astype(np.float32)
    save_npz(path, key=np.array(key), embeddings=emb, model=np.array(clip.identity),
             template=np.array(template), vocabulary=np.array(vocabulary))
    return emb
