"""CLIP loading (offline only) and the text-embedding disk cache."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from folk.clip import load_clip, text_embeddings
from folk.clip.dense import encode_dense
from folk.clip.loader import ClipModel, _open_clip
from folk.clip.text import cache_key, cache_path
from folk.errors import FolkInputError


def _random_checkpoint(path, seed):
    torch.manual_seed(seed)
    model = _open_clip().create_model("folk-small-clip")
    torch.save({k: v.half() for k, v in model.state_dict().items()}, path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    return _random_checkpoint(folder / "a.pt", 1), _random_checkpoint(folder / "b.pt", 2)


class _Counting:
    """Wraps a ClipModel and counts text encodings."""

    def __init__(self, clip):
        self.clip, self.calls = clip, 0
        original = clip.encode_texts

        def encode(texts, **kw):
            self.calls += 1
            return original(texts, **kw)

        clip.encode_texts = encode


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FolkInputError, match="checkpoint not found.*--clip-checkpoint"):
        load_clip("folk-small-clip", checkpoint=tmp_path / "nope.pt")


def test_uncached_pretrained_tag_is_an_error_not_a_download(tmp_path):
    with pytest.raises(FolkInputError, match="not in the local cache.*never downloads"):
        load_clip("ViT-B-32", pretrained="laion2b_s34b_b79k", cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.safetensors")) and not any(tmp_path.rglob("*.bin"))


def test_unknown_tag_lists_the_known_ones(tmp_path):
    with pytest.raises(FolkInputError, match="known tags: .*openai"):
        load_clip("ViT-B-32", pretrained="no-such-tag", cache_dir=tmp_path)


def test_unknown_architecture_is_an_error():
    with pytest.raises(FolkInputError, match="unknown CLIP architecture"):
        load_clip("ViT-Q-99", checkpoint=__file__)


def test_non_vit_towers_are_refused_for_dense_features():
    from open_clip.model import CLIP

    tiny_resnet = CLIP(32, vision_cfg={"layers": [1, 1, 1, 1], "width": 8, "image_size": 64},
                       text_cfg={"context_length": 8, "width": 16, "heads": 2, "layers": 1})
    clip = ClipModel(name="tiny-RN", model=tiny_resnet, tokenizer=None, mean=(0, 0, 0),
                     std=(1, 1, 1), image_size=(64, 64), identity="tiny-RN")
    with pytest.raises(FolkInputError, match="ViT image towers only"):
        encode_dense(clip, np.zeros((1, 64, 64, 3), np.uint8))


def test_identity_names_the_checkpoint_contents(checkpoints):
    a, b = (load_clip("folk-small-clip", checkpoint=p) for p in checkpoints)
    assert a.identity != b.identity and "sha256:" in a.identity


def test_text_cache_is_reused_for_the_same_model_and_vocabulary(checkpoints, tmp_path):
    clip = load_clip("folk-small-clip", checkpoint=checkpoints[0])
    counter = _Counting(clip)
    first = text_embeddings(clip, ["chair", "table"], cache_dir=tmp_path)
    second = text_embeddings(clip, ["chair", "table"], cache_dir=tmp_path)
    assert counter.calls == 1
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)


def test_text_cache_is_recomputed_when_the_vocabulary_or_template_changes(checkpoints, tmp_path):
    clip = load_clip("folk-small-clip", checkpoint=checkpoints[0])
    counter = _Counting(clip)
    text_embeddings(clip, ["chair", "table"], cache_dir=tmp_path)
    reordered = text_embeddings(clip, ["table", "chair"], cache_dir=tmp_path)
    text_embeddings(clip, ["chair", "table"], template="a photo of a {}", cache_dir=tmp_path)
    assert counter.calls == 3
    np.testing.assert_allclose(reordered, clip.encode_texts(["a table in the scene",
                                                             "a chair in the scene"]), atol=1e-6)


def test_text_cache_is_recomputed_when_the_weights_change(checkpoints, tmp_path):
    a = load_clip("folk-small-clip", checkpoint=checkpoints[0])
    ea = text_embeddings(a, ["chair"], cache_dir=tmp_path)
    # same file name, other weights: the identity (checkpoint hash) changes the key
    b = load_clip("folk-small-clip", checkpoint=checkpoints[1])
    counter = _Counting(b)
    eb = text_embeddings(b, ["chair"], cache_dir=tmp_path)
    assert counter.calls == 1
    assert not np.allclose(ea, eb)


def test_a_stale_or_broken_cache_file_is_not_trusted(checkpoints, tmp_path):
    clip = load_clip("folk-small-clip", checkpoint=checkpoints[0])
    vocab = ["chair", "lamp"]
    good = text_embeddings(clip, vocab, cache_dir=tmp_path)
    path = cache_path(tmp_path, clip, cache_key(clip.identity, vocab))
    with open(path, "wb") as fh:  # a stale file under the same name
        np.savez(fh, key=np.array("something else"), embeddings=good * 0)
    counter = _Counting(clip)
    np.testing.assert_allclose(text_embeddings(clip, vocab, cache_dir=tmp_path), good, atol=1e-6)
    path.write_bytes(b"PK\x03\x04 truncated")  # a half-written file
    np.testing.assert_allclose(text_embeddings(clip, vocab, cache_dir=tmp_path), good, atol=1e-6)
    assert counter.calls == 2
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
