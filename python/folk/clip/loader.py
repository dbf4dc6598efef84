"""Where CLIP weights come from: the one place in folk that knows about checkpoint files and tags.

:func:`load_clip` builds an open_clip model and returns a :class:`ClipModel`. The weights come
from, in this order of precedence:

1. ``checkpoint``: a local file (``.pt``/``.bin``/``.safetensors``) for the named architecture;
2. ``pretrained``: an open_clip pretrained tag (``"laion2b_s34b_b88k"``, ``"openai"``, ...) or a
   file path, resolved **only from the local cache** (the Hugging Face hub cache, or open_clip's
   ``~/.cache/clip`` for URL-hosted weights; ``cache_dir`` overrides both). Nothing is ever
   downloaded: ``HF_HUB_OFFLINE=1`` is set while tags are resolved, and a tag whose file is not in
   the cache is a :class:`~folk.errors.FolkInputError` that says how to provide it;
3. the packaged default ``folk-small-clip``: a tiny CLIP the project trained on synthetic object
   crops (``scripts/train_small_clip.py``). It knows the synthetic vocabulary only. **For real
   scans supply real CLIP weights** (e.g. ``ViT-B-16`` + ``laion2b_s34b_b88k``).

The model's identity (name, tag, checkpoint SHA-256) is part of every cache key derived from it
(text embeddings, teacher targets), so changing weights never reuses stale results.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from folk.clip.defaults import DEFAULT_MODEL
from folk.errors import FolkInputError, one_line

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_CONFIG_DIR = PACKAGE_DIR / "model_configs"
WEIGHTS_DIR = PACKAGE_DIR / "weights"
#: Checkpoints shipped inside the package, by model name.
PACKAGED_WEIGHTS: dict[str, Path] = {DEFAULT_MODEL: WEIGHTS_DIR / "folk-small-clip.pt"}


@lru_cache(maxsize=4)
def _training_vocabulary(log: Path) -> tuple[str, ...] | None:
    try:
        return tuple(json.loads(log.read_text())["vocabulary"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _how_to_provide(model: str) -> str:
    return (f"provide the weights of {model!r} either as a local file "
            f"(`--clip-checkpoint PATH` / `load_clip({model!r}, checkpoint=PATH)`), or as an "
            f"open_clip pretrained tag whose file is already in the local cache "
            f"(`--clip-pretrained TAG [--clip-cache-dir DIR]`; fill the cache on a machine with "
            f"internet access with `python -c \"import open_clip; "
            f"open_clip.create_model('{model}', pretrained='TAG', cache_dir='DIR')\"` and copy DIR)")


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """``HF_HUB_OFFLINE=1`` for the duration (environment and huggingface_hub's constant)."""
    try:  # imported first, so that its constant reflects the user's own setting
        from huggingface_hub import constants
    except ImportError:
        constants = None
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    old_const = None
    if constants is not None:
        old_const = constants.HF_HUB_OFFLINE
        constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old
        if constants is not None:
            constants.HF_HUB_OFFLINE = old_const


@lru_cache(maxsize=1)
def _open_clip():
    """Import open_clip (offline) and register folk's packaged model configs with it."""
    with _offline():
        import open_clip

    if str(MODEL_CONFIG_DIR) not in {str(p) for p in open_clip.factory._MODEL_CONFIG_PATHS}:
        open_clip.add_model_config(MODEL_CONFIG_DIR)
    return open_clip


def list_models() -> list[str]:
    """Architecture names open_clip (with folk's packaged configs) can build."""
    return _open_clip().list_models()


_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, memoised per (path, size, mtime) within the process."""
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def resolve_pretrained_tag(model: str, tag: str, cache_dir: str | Path | None = None) -> Path:
    """The local file of an open_clip pretrained tag, from the cache only (never downloads)."""
    open_clip = _open_clip()
    cfg = open_clip.get_pretrained_cfg(model, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model)
        raise FolkInputError(f"{tag!r} is neither a file nor a pretrained tag of {model!r} "
                             f"(known tags: {', '.join(tags) or 'none'}); "
                             + _how_to_provide(model))
    if cfg.get("file"):
        return Path(cfg["file"])
    tried: list[str] = []
    hub = cfg.get("hf_hub", "")
    if hub:
        repo, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors",
                                             "open_clip_pytorch_model.bin"]
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:
            hf_hub_download = None
        if hf_hub_download is not None:
            with _offline():
                for name in names:
                    try:
                        found = hf_hub_download(repo_id=repo, filename=name,
                                                cache_dir=None if cache_dir is None
                                                else str(cache_dir), local_files_only=True)
                        return Path(found)
                    except Exception:  # noqa: BLE001 - any miss means "not cached"
                        tried.append(f"hf-hub {repo}/{name}")
    url = cfg.get("url", "")
    if url:
        folder = Path(cache_dir) if cache_dir is not None else Path("~/.cache/clip").expanduser()
        candidate = folder / os.path.basename(url)
        if candidate.is_file():
            return candidate
        tried.append(str(candidate))
    raise FolkInputError(f"pretrained tag {tag!r} of {model!r} is not in the local cache "
                         f"(looked for: {'; '.join(tried) or 'nothing to look for'}); "
                         "folk never downloads weights; " + _how_to_provide(model))


@dataclass
class ClipModel:
    """An open_clip model with what folk needs around it: tokenizer, preprocessing, identity."""

    name: str
    model: torch.nn.Module  # open_clip CLIP / CustomTextCLIP, eval mode
    tokenizer: object
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    image_size: tuple[int, int]  # (H, W) the model was built for
    identity: str  # name | tag | checkpoint sha256: part of every derived cache key
    checkpoint: Path | None = None
    pretrained: str | None = None
    info: dict = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def trained_vocabulary(self) -> tuple[str, ...] | None:
        """The only class names this model was trained on, for folk's packaged weights (from
        their training log, ``<weights>.log.json``); None for a general CLIP."""
        packaged = PACKAGED_WEIGHTS.get(self.name)
        if packaged is None or self.checkpoint is None or \
                Path(self.checkpoint).resolve() != packaged.resolve():
            return None
        return _training_vocabulary(packaged.with_suffix(".log.json"))

    @property
    def visual(self) -> torch.nn.Module:
        return self.model.visual

    @property
    def embed_dim(self) -> int:
        proj = getattr(self.model.visual, "proj", None)
        if isinstance(proj, torch.Tensor):
            return int(proj.shape[1])
        out = getattr(self.model.visual, "output_dim", None)
        return int(out)

    def preprocess(self, images: Sequence[np.ndarray] | np.ndarray,
                   size: tuple[int, int] | None = None) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised input from uint8 RGB images ``(H, W, 3)``.

        Every image is resized (bicubic, antialiased, aspect ratio not kept) to ``size``
        (``(H, W)``, default the model's own), so patch ``(i, j)`` covers the same fraction of
        the original image whatever its resolution.
        """
        size = tuple(size or self.image_size)
        batch = []
        for img in images:
            arr = np.asarray(img)
            if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
                raise FolkInputError(f"images must be (H, W, 3) uint8, got {arr.shape} {arr.dtype}")
            t = torch.tensor(arr).permute(2, 0, 1)[None].float()
            if t.shape[-2:] != size:
                t = torch.nn.functional.interpolate(t, size=size, mode="bicubic",
                                                    align_corners=False, antialias=True)
            batch.append(t[0])
        x = torch.stack(batch).div_(255.0).clamp_(0, 1)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return ((x - mean) / std).to(self.device)

    @torch.no_grad()
    def encode_images(self, images: Sequence[np.ndarray] | np.ndarray,
                      batch_size: int = 64) -> np.ndarray:
        """Global image embeddings ``(B, D)`` float32, L2-normalised."""
        out = []
        for i in range(0, len(images), batch_size):
            x = self.preprocess(images[i:i + batch_size])
            out.append(self.model.encode_image(x, normalize=True).float().cpu())
        if not out:
            return np.zeros((0, self.embed_dim), np.float32)
        return torch.cat(out).numpy()

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Text embeddings ``(T, D)`` float32, L2-normalised."""
        out = []
        for i in range(0, len(texts), batch_size):
            tokens = self.tokenizer(list(texts[i:i + batch_size])).to(self.device)
            out.append(self.model.encode_text(tokens, normalize=True).float().cpu())
        if not out:
            return np.zeros((0, self.embed_dim), np.float32)
        return torch.cat(out).numpy()


def load_clip(model: str = DEFAULT_MODEL, pretrained: str | None = None,
              checkpoint: str | Path | None = None, cache_dir: str | Path | None = None,
              device: str | torch.device = "cpu", precision: str = "fp32") -> ClipModel:
    """Build an open_clip model with local weights; see the module docstring for the sources.

    Args:
        model: open_clip architecture name (``"ViT-B-16"``, ``"folk-small-clip"``, ...).
        pretrained: pretrained tag resolved from the local cache, or a checkpoint path.
        checkpoint: a local checkpoint file (takes precedence over ``pretrained``).
        cache_dir: where cached tags live (default: the Hugging Face cache / ``~/.cache/clip``).
        device, precision: as open_clip's ``create_model``.
    """
    open_clip = _open_clip()
    if model.startswith(("hf-hub:", "local-dir:")):
        raise FolkInputError(f"model {model!r}: give an architecture name plus --clip-checkpoint "
                             "or --clip-pretrained (folk resolves weights itself, offline)")
    if open_clip.get_model_config(model) is None:
        raise FolkInputError(f"unknown CLIP architecture {model!r} (open_clip knows e.g. "
                             f"ViT-B-16, ViT-L-14, RN50; folk adds {DEFAULT_MODEL})")
    tag_cfg: dict = {}
    if checkpoint is None and pretrained is not None and Path(pretrained).is_file():
        checkpoint = pretrained
        pretrained = None
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise FolkInputError(f"CLIP checkpoint not found; {_how_to_provide(model)}", path)
    elif pretrained is not None:
        path = resolve_pretrained_tag(model, pretrained, cache_dir)
        tag_cfg = open_clip.get_pretrained_cfg(model, pretrained)
    elif model in PACKAGED_WEIGHTS:
        path = PACKAGED_WEIGHTS[model]
        if not path.is_file():
            raise FolkInputError(f"the packaged weights of {model!r} are missing (reinstall folk "
                                 "or rerun scripts/train_small_clip.py)", path)
    else:
        raise FolkInputError(f"no weights given for CLIP {model!r}; " + _how_to_provide(model))

    force_pp = {k: tag_cfg[k] for k in ("mean", "std", "interpolation", "resize_mode")
                if k in tag_cfg}
    try:
        with _offline():
            net = open_clip.create_model(
                model, pretrained=str(path), device=device, precision=precision,
                force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)),
                force_preprocess_cfg=force_pp or None, pretrained_text=False,
                pretrained_image=False, weights_only=True)
            tokenizer = open_clip.get_tokenizer(model)
    except FolkInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - open_clip raises anything on a bad file
        raise FolkInputError(f"could not load CLIP {model!r} from this checkpoint: {one_line(exc)}",
                             path) from None
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    pp = getattr(net.visual, "preprocess_cfg", {})
    size = pp.get("size", getattr(net.visual, "image_size", 224))
    size = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    identity = f"{model}|{pretrained or ''}|sha256:{file_sha256(path)}"
    return ClipModel(name=model, model=net, tokenizer=tokenizer,
                     mean=tuple(float(v) for v in pp.get("mean", (0.48145466, 0.4578275,
                                                                  0.40821073))),
                     std=tuple(float(v) for v in pp.get("std", (0.26862954, 0.26130258,
                                                                0.27577711))),
                     image_size=size, identity=identity, checkpoint=path, pretrained=pretrained)
